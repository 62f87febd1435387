"""Thing cues: `python -m wsps.cues data_root=D split=train pred_root=R [key=value ...]`.

Writes, per image, `R/mcg_and_grabcut/<split>/<id>_leftImg8bit.png` (thing train id where the
cues agree, by default GrabCut and the proposal; 255 where they do not or where boxes of two
classes compete; 0 outside thing boxes) and each cue's map under `R/<cue>/<split>/`. Options:
conf/cues.yaml; the cues: conf/thing_cues/.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.utils import instantiate, to_absolute_path
from omegaconf import DictConfig

from wsps import CONFIG_DIR
from wsps.cues.consensus import CONSENSUS_RULES
from wsps.cues.job import CueOptions, run
from wsps.data.metadata import meta_for
from wsps.io import ConfigError, InputError
from wsps.runner import run_job


def options_from_config(cfg: DictConfig) -> CueOptions:
    if cfg.split == "test":
        raise InputError(f"split={cfg.split}", "the test split has no boxes to take cues from")
    if not cfg.get("thing_cues"):
        raise ConfigError("thing_cues is empty: choose at least one cue, e.g. thing_cues=[grabcut,proposals]")
    if cfg.consensus not in CONSENSUS_RULES:
        raise ConfigError(f"consensus={cfg.consensus}: choose one of {', '.join(CONSENSUS_RULES)}")
    if cfg.thing_cue_dir.count("%s") != 1:
        raise ConfigError(
            f"thing_cue_dir must contain '%s' once (where the cue's name goes), got {cfg.thing_cue_dir!r}"
        )
    return CueOptions(
        data_root=Path(to_absolute_path(cfg.data_root)),
        meta=meta_for(cfg),
        split=cfg.split,
        list_path=cfg.list_path,
        annotation_dir=cfg.annotation_dir,
        annotation_template=cfg.annotation_template,
        pred_root=Path(to_absolute_path(cfg.pred_root)),
        mcg_and_grabcut_dir=cfg.mcg_and_grabcut_dir,
        thing_cues=tuple(
            (str(name), instantiate(node, _partial_=True, _convert_="all")) for name, node in cfg.thing_cues.items()
        ),
        thing_cue_dir=cfg.thing_cue_dir,
        consensus=cfg.consensus,
        output_template=cfg.mcg_and_grabcut_template,
        force_overwrite=bool(cfg.force_overwrite),
        num_workers=int(cfg.num_workers),
        shard_index=int(cfg.shard_index),
        num_shards=int(cfg.num_shards),
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="cues")
def main(cfg: DictConfig) -> None:
    def cues():
        opts = options_from_config(cfg)
        if opts.num_shards < 1 or not 0 <= opts.shard_index < opts.num_shards:
            raise InputError(
                "shard_index", f"need 0 <= shard_index < num_shards, got {opts.shard_index} and {opts.num_shards}"
            )
        return run(opts)

    run_job("cues", cues, (ConfigError, InputError, TypeError))  # TypeError: an unknown cue parameter


if __name__ == "__main__":
    main()
