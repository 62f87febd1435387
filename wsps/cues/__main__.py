"""Thing cues: `python -m wsps.cues data_root=D split=train pred_root=R [key=value ...]`.

Writes, per image, `R/mcg_and_grabcut/<split>/<id>_leftImg8bit.png` (thing train id where the
cues agree, by default GrabCut and the proposal; 255 where they do not or where boxes of two
classes compete; 0 outside thing boxes) and each cue's map under `R/<cue>/<split>/`. Options:
conf/cues.yaml; the cues: conf/thing_cues/.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from wsps import CONFIG_DIR
from wsps.cues.job import CueOptions, run
from wsps.io import ConfigError, InputError
from wsps.runner import run_job


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="cues")
def main(cfg: DictConfig) -> None:
    def cues():
        return run(CueOptions.from_config(cfg))

    run_job("cues", cues, (ConfigError, InputError, TypeError))  # TypeError: an unknown cue parameter


if __name__ == "__main__":
    main()
