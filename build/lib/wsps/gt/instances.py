"""Spec section 5: instance ids from the cleaned semantic map and the boxes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from wsps.gt.boxes import Box, box_slices
from wsps.labels import present_labels

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

    The reference visits the boxes one by one; since a box only ever writes pixels of its own
    class, each class is done at once: a pixel of class c inside exactly one box of class c
    takes that box's id, inside several it is contested (ignore), inside none it stays 0.
    """
    seen = set()
    instance_boxes = []
    for box in boxes:
        key = (box.class_id, box.xmin, box.ymin, box.xmax, box.ymax)
        if key not in seen:
            seen.add(key)
            if not box.is_grp:
                instance_boxes.append(box)
    if len(instance_boxes) > MAX_INSTANCE_ID:
        raise TooManyInstances(
            f"{len(instance_boxes)} instances (stuff boxes included) exceed the {MAX_INSTANCE_ID} ids of "
            f"an 8-bit instance map"
        )
    instances = [Instance(k, b.class_id, class_names[b.class_id]) for k, b in enumerate(instance_boxes, start=1)]
    by_class: dict[int, list[tuple[int, Box]]] = {}
    for inst, box in zip(instances, instance_boxes):
        by_class.setdefault(box.class_id, []).append((inst.ins_id, box))

    # A class whose only box covers the canvas (a stuff box) maps to its id everywhere: one
    # table lookup for all of them, which also carries the ignore label over.
    canvas = (slice(0, sem.shape[0]), slice(0, sem.shape[1]))
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[ignore_label] = ignore_label
    for class_id, members in list(by_class.items()):
        if len(members) == 1 and box_slices(members[0][1]) == canvas:
            lookup[class_id] = members[0][0]
            del by_class[class_id]
    ins = cv2.LUT(sem, lookup)

    for class_id, members in by_class.items():
        slices = [box_slices(box) for _, box in members]
        region = _union(slices)
        is_class = sem[region] == class_id
        if len(members) == 1:
            ins[region][is_class] = members[0][0]
            continue
        count = np.zeros(is_class.shape, dtype=np.uint16)
        owner = np.zeros(is_class.shape, dtype=np.uint8)
        for (ins_id, _), (rows, cols) in zip(members, slices):
            local = (
                slice(rows.start - region[0].start, rows.stop - region[0].start),
                slice(cols.start - region[1].start, cols.stop - region[1].start),
            )
            count[local] += 1
            owner[local] = ins_id
        count, owner = count[is_class], owner[is_class]
        ins[region][is_class] = np.where(count == 1, owner, np.where(count == 0, 0, ignore_label))
    present = present_labels(ins)
    empty_ids = [inst.ins_id for inst in instances if not present[inst.ins_id]]
    return ins, instances, empty_ids


def _union(slices: Sequence[tuple[slice, slice]]) -> tuple[slice, slice]:
    """The smallest (rows, cols) window holding every non-empty slice pair."""
    spans = [(r, c) for r, c in slices if r.stop > r.start and c.stop > c.start]
    if not spans:
        return slice(0, 0), slice(0, 0)
    return (
        slice(min(r.start for r, _ in spans), max(r.stop for r, _ in spans)),
        slice(min(c.start for _, c in spans), max(c.stop for _, c in spans)),
    )
