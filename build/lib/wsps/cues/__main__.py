"""Thing cues: `python -m wsps.cues data_root=D split=train pred_root=R [key=value ...]`.

Writes, per image, `R/mcg_and_grabcut/<split>/<id>_leftImg8bit.png` (thing train id where
GrabCut and the proposal agree, 255 where they do not or where boxes of two classes compete,
0 outside thing boxes) and the single-cue maps under `R/grabcut/<split>/` and
`R/proposals/<split>/`. Options: conf/cues.yaml.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from wsps import CONFIG_DIR
from wsps.cues.grabcut import GrabCutParams
from wsps.cues.job import CueOptions, run
from wsps.cues.proposals import ProposalParams
from wsps.data.metadata import meta_for
from wsps.io import ConfigError, InputError
from wsps.runner import run_job


def options_from_config(cfg: DictConfig) -> CueOptions:
    if cfg.split == "test":
        raise InputError(f"split={cfg.split}", "the test split has no boxes to take cues from")
    grabcut = OmegaConf.to_container(cfg.grabcut, resolve=True)
    proposals = OmegaConf.to_container(cfg.proposals, resolve=True)
    proposals["scales"] = tuple(float(s) for s in proposals["scales"])
    return CueOptions(
        data_root=Path(to_absolute_path(cfg.data_root)),
        meta=meta_for(cfg),
        split=cfg.split,
        list_path=cfg.list_path,
        annotation_dir=cfg.annotation_dir,
        annotation_template=cfg.annotation_template,
        pred_root=Path(to_absolute_path(cfg.pred_root)),
        mcg_and_grabcut_dir=cfg.mcg_and_grabcut_dir,
        grabcut_dir=cfg.grabcut_dir,
        proposals_dir=cfg.proposals_dir,
        output_template=cfg.mcg_and_grabcut_template,
        force_overwrite=bool(cfg.force_overwrite),
        num_workers=int(cfg.num_workers),
        shard_index=int(cfg.shard_index),
        num_shards=int(cfg.num_shards),
        grabcut=GrabCutParams(**grabcut),
        proposals=ProposalParams(**proposals),
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

    run_job("cues", cues, (ConfigError, InputError, TypeError))  # TypeError: an unknown GrabCut or proposal parameter


if __name__ == "__main__":
    main()
