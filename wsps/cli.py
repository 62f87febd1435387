"""Glue between the Hydra entry points and the jobs: options, exit codes, one-line errors."""

from __future__ import annotations

import logging

from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from wsps.gt import job
from wsps.gt.options import ConfigError, GTOptions
from wsps.io import InputError
from wsps.runner import Summary, finish

log = logging.getLogger(__name__)


def run_gt_job(cfg: DictConfig) -> Summary | None:
    """`generate_gt.py`: validate the options, run every image, exit 1 if any failed, 2 on bad options."""
    try:
        opts = GTOptions.from_mapping(OmegaConf.to_container(cfg, resolve=True), resolve_path=to_absolute_path)
        summary = job.run(opts)
    except (ConfigError, InputError) as err:
        log.error("%s", err)
        finish(2, str(err))
        return None
    finish(1 if summary.failed else 0, f"generate_gt: {summary}")
    return summary
