"""Glue between the Hydra entry points and the jobs: options, exit codes, one-line errors."""

from __future__ import annotations

from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from wsps.gt import job
from wsps.gt.options import ConfigError, GTOptions
from wsps.io import InputError
from wsps.runner import Summary, run_job

def run_gt_job(cfg: DictConfig) -> Summary | None:
    """`generate_gt.py`: validate the options, run every image, exit 1 if any failed, 2 on bad options."""
    def generate() -> Summary:
        return job.run(GTOptions.from_mapping(OmegaConf.to_container(cfg, resolve=True), resolve_path=to_absolute_path))

    return run_job("generate_gt", generate, (ConfigError, InputError))
