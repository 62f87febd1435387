"""One path from a config to a tool's options: a typed, frozen dataclass per tool, built by
`build_options` from the composed config. Each tool's defaults are in its YAML under conf/, not
in the dataclass."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wsps.io import ConfigError


def build_options(cls, cfg: Mapping[str, Any], **given):
    """The options dataclass `cls` with each field from `given` (values the caller made: paths
    anchored, the dataset's description, instantiated cues), else from `cfg`, converted to the
    field's type: `int`, `float`, `str`, `Path`, `bool` (only true or false), `tuple[int, ...]`,
    `tuple[str, ...]`, `tuple[int, int]` (two), `X | None`; other types pass as they are. A field
    with a default in the dataclass may be absent from `cfg` (a dataset's layout facts, which
    `DatasetMeta` holds): that default is the only one.

    Raises:
        ConfigError: naming the options `cfg` lacks, or an option whose value does not convert.
    """
    fields = [f for f in dataclasses.fields(cls) if f.init]
    optional = {f.name for f in fields if f.default is not dataclasses.MISSING}
    missing = [f.name for f in fields if f.name not in given and f.name not in cfg and f.name not in optional]
    if missing:
        raise ConfigError(f"missing options: {', '.join(missing)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for field in fields:
        if field.name in given:
            values[field.name] = given[field.name]
        elif field.name in cfg:
            values[field.name] = convert(field.name, cfg[field.name], hints[field.name])
    return cls(**values)


def convert(name: str, value: Any, kind) -> Any:
    """`value` of the option `name` as the type `kind` (see `build_options`)."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        args = typing.get_args(kind)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return value
    try:
        if kind in (int, float, str, Path):
            return kind(value)
        if typing.get_origin(kind) is tuple and args:
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise TypeError(f"a list, got {value!r}")
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(args[0](v) for v in value)
            items = list(value)
            if len(items) != len(args):
                raise TypeError(f"{len(args)} values, got {items}")
            return tuple(t(v) for t, v in zip(args, items))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"malformed option value: {name}={value!r} ({err})") from None
    return value
