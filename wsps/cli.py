"""Glue between the Hydra entry points and the jobs: options, exit codes, one-line errors.

`wsps-train` and `wsps-generate-gt` (and the checkout's `train.py` and `generate_gt.py`, thin
calls to them) compose the configs shipped in the package, so they run from any directory.
"""

from __future__ import annotations

import hydra
from hydra.utils import instantiate, to_absolute_path
from omegaconf import DictConfig

from wsps import CONFIG_DIR
from wsps.data.metadata import gt_options
from wsps.gt import job
from wsps.gt.options import ConfigError
from wsps.io import InputError
from wsps.runner import Summary, run_job


def run_gt_job(cfg: DictConfig) -> Summary | None:
    """`generate_gt.py`: validate the options, run every image, exit 1 if any failed, 2 on bad options."""

    def generate() -> Summary:
        return job.run(gt_options(cfg, resolve_path=to_absolute_path))

    return run_job("generate_gt", generate, (ConfigError, InputError))


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="generate_gt")
def generate_gt_main(cfg: DictConfig) -> None:
    """Pseudo ground truth from predictions or cues (`wsps-generate-gt`, `generate_gt.py`)."""
    run_gt_job(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def train_main(cfg: DictConfig) -> float | None:
    """The whole method (`stage=loop`, the default) or one network (`wsps-train`, `train.py`)."""
    return instantiate(cfg.task).run(cfg)  # conf/stage/<stage>.yaml names the task
