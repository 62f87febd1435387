"""Spec section 5: instance ids from the cleaned semantic map and the boxes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wsps.gt.boxes import Box, box_slices

#: Ids an 8-bit instance map can hold: 0 is "no instance", 255 is ignore.
MAX_INSTANCE_ID = 254


class TooManyInstances(ValueError):
    """More instances than an 8-bit map holds; the reference would saturate them silently."""


@dataclass(frozen=True)
class Instance:
    """One id of the instance map: its id, class id and class name."""

    ins_id: int
    class_id: int
    name: str


def ins_box_process(
    sem: np.ndarray, boxes: Sequence[Box], class_names: Sequence[str], ignore_label: int = 255
) -> tuple[np.ndarray, list[Instance], list[int]]:
    """Give every non-group box (stuff boxes included) the next id, in file order, on its
    class's pixels inside the box; pixels claimed by two boxes become `ignore_label`.

    Repeated objects (same class and box) are dropped first. Returns the uint8 instance map,
    the instances, and the ids that ended up with no pixels (the reference's "sanity" warning).
    Raises `TooManyInstances` rather than saturating ids above 254.
    """
    ins = np.zeros(sem.shape, dtype=np.uint8)
    ins[sem == ignore_label] = ignore_label
    seen = set()
    unique_boxes = []
    for box in boxes:
        key = (box.class_id, box.xmin, box.ymin, box.xmax, box.ymax)
        if key not in seen:
            seen.add(key)
            unique_boxes.append(box)
    instance_boxes = [box for box in unique_boxes if not box.is_grp]
    if len(instance_boxes) > MAX_INSTANCE_ID:
        raise TooManyInstances(
            f"{len(instance_boxes)} instances (stuff boxes included) exceed the {MAX_INSTANCE_ID} ids of an 8-bit instance map"
        )
    instances = []
    for ins_id, box in enumerate(instance_boxes, start=1):
        crop = box_slices(box)
        is_class = sem[crop] == box.class_id
        ins_crop = ins[crop]
        free = ins_crop == 0
        ins_crop[is_class & ~free] = ignore_label
        ins_crop[is_class & free] = ins_id
        instances.append(Instance(ins_id, box.class_id, class_names[box.class_id]))
    present = np.bincount(ins.ravel(), minlength=256).astype(bool)
    empty_ids = [inst.ins_id for inst in instances if not present[inst.ins_id]]
    return ins, instances, empty_ids
