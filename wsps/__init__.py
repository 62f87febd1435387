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


def cpu_precision(cpuinfo: str | None = None) -> str:
    """`bf16-mixed` where the CPU has native bfloat16 (avx512_bf16 or amx_bf16 in `cpuinfo`, by
    default /proc/cpuinfo), else `32-true`: emulated bfloat16 autocast is several times slower."""
    try:
        flags = cpuinfo if cpuinfo is not None else Path("/proc/cpuinfo").read_text()
    except OSError:
        return "32-true"
    return "bf16-mixed" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "32-true"


def _register_resolvers() -> None:
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("wsps.cpu_precision", lambda: cpu_precision(), replace=True, use_cache=True)
    OmegaConf.register_new_resolver("wsps.split_file", split_file, replace=True)


def split_file(key: str, _root_) -> str:
    """`${wsps.split_file:<key>}`: where the config's `split` keeps `key` in its dataset's layout
    (`DatasetMeta.split_files`): the layout facts live in the dataset description alone."""
    from wsps.data.metadata import DatasetMeta

    return DatasetMeta.from_config(_root_).split_files(str(_root_.split))[key]


_register_resolvers()
