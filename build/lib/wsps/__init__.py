"""wsps: weakly- and semi-supervised panoptic segmentation (Li, Arnab, Torr, ECCV 2018)."""

import importlib.util
from pathlib import Path

__version__ = "0.1.0"


def _config_dir() -> str:
    """The Hydra configs: the installed `wsps.conf` package (the checkout's top-level `conf/`)."""
    spec = importlib.util.find_spec("wsps.conf")
    if spec is not None and spec.submodule_search_locations:
        return str(Path(next(iter(spec.submodule_search_locations))).resolve())
    return str(Path(__file__).resolve().parent.parent / "conf")


CONFIG_DIR = _config_dir()
