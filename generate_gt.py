"""Pseudo ground truth from predictions or cues: `python generate_gt.py [key=value ...]`.

A port of the reference MATLAB release; see README.md for every option and the presets.
"""

import hydra
from omegaconf import DictConfig

from wsps.cli import run_gt_job


@hydra.main(version_base="1.3", config_path="conf", config_name="generate_gt")
def main(cfg: DictConfig) -> None:
    run_gt_job(cfg)


if __name__ == "__main__":
    main()
