"""Boxes: extraction from instanceTrainIds maps, the release's .mat layout, loading for one image.

Spec sections 3.1 (extraction) and 3.2 (loading). Coordinates are 0-based, inclusive
`[xmin, ymin, xmax, ymax]`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.io
from scipy import ndimage

from wsps.io import InputError, atomic_path

_COORDS = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class BoxObject:
    """One object of a box file, as stored: class name, box, group and stuff flags."""

    name: str
    xmin: int
    ymin: int
    xmax: int
    ymax: int
    is_grp: bool = False
    is_stuff: bool = False


@dataclass(frozen=True)
class Box:
    """One object loaded for an image: class id, box clipped to the canvas, its area."""

    class_id: int
    xmin: int
    ymin: int
    xmax: int
    ymax: int
    area: int
    is_grp: bool
    is_stuff: bool


# --------------------------------------------------------------------------- extraction (3.1)


def extract_boxes(
    instance_train_ids: np.ndarray,
    class_names: Sequence[str],
    stuff_classes: Sequence[int],
    thing_classes: Sequence[int],
    is_panoptic: bool = True,
    incl_grps: bool = True,
    ignore_label: int = 255,
) -> list[BoxObject]:
    """Boxes of an instanceTrainIds map, walking its distinct values in ascending order.

    Stuff values give image-wide boxes (`is_panoptic`), values above 1000 instance boxes of
    class `v // 1000`, bare thing values group boxes (`incl_grps`); everything else nothing.
    """
    height, width = instance_train_ids.shape
    values = np.unique(instance_train_ids)
    values = values[values != ignore_label]
    slices = ndimage.find_objects(instance_train_ids.astype(np.int32))
    objects = []
    for value in (int(v) for v in values):
        if is_panoptic and value in stuff_classes:
            objects.append(BoxObject(class_names[value], 0, 0, width - 1, height - 1, is_stuff=True))
            continue
        if value > 1000:
            class_id, is_grp = value // 1000, False
            if class_id >= len(class_names):
                raise ValueError(f"instance value {value} names train id {class_id}, which is not a class")
        elif incl_grps and value in thing_classes:
            class_id, is_grp = value, True
        else:
            continue
        rows, cols = slices[value - 1]
        objects.append(
            BoxObject(class_names[class_id], cols.start, rows.start, cols.stop - 1, rows.stop - 1, is_grp=is_grp)
        )
    return objects


# --------------------------------------------------------------------------- the .mat layout


def write_boxes_mat(path: str | os.PathLike, objects: Sequence[BoxObject]) -> None:
    """Write objects as the release does: `dets.annotation.object(k)` with string fields."""
    if objects:
        records = np.zeros((1, len(objects)), dtype=[(f, "O") for f in ("name", "bndbox", "is_grp", "is_stuff")])
        for k, obj in enumerate(objects):
            bndbox = np.zeros((1, 1), dtype=[(f, "O") for f in _COORDS])
            for field in _COORDS:
                bndbox[0, 0][field] = str(getattr(obj, field))
            records[0, k]["name"] = obj.name
            records[0, k]["bndbox"] = bndbox
            records[0, k]["is_grp"] = str(int(obj.is_grp))
            records[0, k]["is_stuff"] = str(int(obj.is_stuff))
        annotation = {"object": records}
    else:
        annotation = np.zeros((0, 0))  # the reference's `dets.annotation = []`
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            scipy.io.savemat(handle, {"dets": {"annotation": annotation}})


def write_boxes_json(path: str | os.PathLike, objects: Sequence[BoxObject]) -> None:
    """Write the same objects as human-readable JSON."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"objects": [asdict(obj) for obj in objects]}, indent=1) + "\n")


def _to_number(value, what: str) -> float:
    """MATLAB's str2double on a field that may be a string, a number or a 1x1 array."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"{what} is not a single value")
        value = value.reshape(-1)[0]
    try:
        return float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not a number: {value!r}") from None


def _to_int(value, what: str) -> int:
    number = _to_number(value, what)
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{what} is not an integer: {value!r}")
    return int(number)


def read_boxes_mat(path: str | os.PathLike) -> list[BoxObject]:
    """Read a box file in the release's layout (the authors' files or ours)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "box file not found")
    try:
        content = scipy.io.loadmat(path, simplify_cells=True)
    except Exception as err:  # scipy raises many kinds on bad files
        raise InputError(path, f"cannot read box file ({type(err).__name__}: {err}); truncated or corrupt") from None
    try:
        dets = content["dets"]
        annotation = dets["annotation"] if isinstance(dets, dict) else None
        if not isinstance(annotation, dict) or "object" not in annotation:
            if annotation is None or (isinstance(annotation, np.ndarray) and annotation.size == 0):
                return []
            raise ValueError("dets.annotation is neither empty nor a struct with 'object'")
        records = annotation["object"]
        if isinstance(records, dict):
            records = [records]
        elif isinstance(records, np.ndarray):
            if records.size and records.dtype != object:
                raise ValueError("dets.annotation.object is not a struct array")
            records = list(records.reshape(-1))
        objects = []
        for k, record in enumerate(records, start=1):
            if not isinstance(record, dict) or "name" not in record or "bndbox" not in record:
                raise ValueError(f"object {k} lacks 'name' or 'bndbox'")
            bndbox = record["bndbox"]
            coords = [_to_int(bndbox[f], f"object {k} bndbox.{f}") for f in _COORDS]
            objects.append(
                BoxObject(
                    str(record["name"]),
                    *coords,
                    is_grp=bool(_to_number(record.get("is_grp", "0"), f"object {k} is_grp")),
                    is_stuff=bool(_to_number(record.get("is_stuff", "0"), f"object {k} is_stuff")),
                )
            )
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(path, f"not a box file in the release's layout: {err}") from None
    return objects


# --------------------------------------------------------------------------- loading (3.2)


def load_boxes(objects: Sequence[BoxObject], class_names: Sequence[str], canvas_size: Sequence[int]) -> list[Box]:
    """Class ids, boxes clipped to the canvas and areas, in file order (spec 3.2)."""
    height, width = canvas_size
    index = {name: k for k, name in enumerate(class_names)}
    boxes = []
    for k, obj in enumerate(objects, start=1):
        if obj.name not in index:
            raise ValueError(f"object {k} names an unknown class {obj.name!r}")
        xmin, ymin = max(0, obj.xmin), max(0, obj.ymin)
        xmax, ymax = min(width - 1, obj.xmax), min(height - 1, obj.ymax)
        area = (xmax - xmin + 1) * (ymax - ymin + 1)
        boxes.append(Box(index[obj.name], xmin, ymin, xmax, ymax, area, obj.is_grp, obj.is_stuff))
    return boxes


def load_box_file(path: str | os.PathLike, class_names: Sequence[str], canvas_size: Sequence[int]) -> list[Box]:
    """An image's boxes from its box file, an unknown class reported against that file."""
    try:
        return load_boxes(read_boxes_mat(path), class_names, canvas_size)
    except ValueError as err:
        raise InputError(path, str(err)) from None


def box_slices(box: Box, top_left_inclusive: bool = True) -> tuple[slice, slice]:
    """Row and column slices of a box: inclusive, or without its top row and left column.

    Clipped boxes can be inverted (a box wholly outside the canvas); their slices are empty,
    never wrapped around as negative indices would be.
    """
    offset = 0 if top_left_inclusive else 1
    rows = slice(box.ymin + offset, max(box.ymin + offset, box.ymax + 1))
    cols = slice(box.xmin + offset, max(box.xmin + offset, box.xmax + 1))
    return rows, cols
