"""Reading a Cityscapes-layout root: images, and labels from the true GT or from any pseudo-GT folder.

Every label source is read into the same pair: `sem`, train ids (uint8, 255 = ignore), and
`inst`, an int32 map where each thing instance has its own positive id and everything else
(stuff, ignore, thing pixels without an instance: crowds, contested pixels) is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from wsps.io import InputError, read_label_png, read_uint16_png


def city_of(image_id: str) -> str:
    return image_id.split("_", 1)[0]


def image_path(root: Path, split: str, image_id: str, image_folder: str = "leftImg8bit") -> Path:
    """`<root>/<image_folder>/<split>/<city>/<id>_<image_folder>.png`: the Cityscapes layout."""
    return Path(root) / image_folder / split / city_of(image_id) / f"{image_id}_{image_folder}.png"


def gt_path(root: Path, split: str, image_id: str, kind: str, gt_kind: str = "gtFine") -> Path:
    """`kind` is labelIds, instanceIds, labelTrainIds or instanceTrainIds."""
    return Path(root) / gt_kind / split / city_of(image_id) / f"{image_id}_{gt_kind}_{kind}.png"


def read_image(path: Path) -> np.ndarray:
    """An RGB image as HxWx3 uint8."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "image not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(path, "not a readable image (corrupt or truncated)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class LabelSource:
    """Where training labels come from.

    With `sem_dir` unset, the true GT (`labelTrainIds` + `instanceTrainIds`). Otherwise a
    pseudo-GT written by generate_gt: `sem_dir` / `ins_dir` hold `template % id` palette
    PNGs (instance ids 1..254 per box, 0 none, 255 contested); without `ins_dir` (generate_gt's
    `save_ins=false`, as for `train_extra`) there are no instances. Ids in `true_gt_ids` use the
    true GT whatever the folders say: the semi-supervised setting.
    """

    sem_dir: str | None = None
    ins_dir: str | None = None
    template: str | None = None
    true_gt_ids: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self):
        if self.sem_dir is not None and not self.template:
            raise ValueError("a label folder needs its file template (the dataset's pred_template)")

    def uses_true_gt(self, image_id: str) -> bool:
        return self.sem_dir is None or image_id in self.true_gt_ids


def instances_from_gt(instance_train_ids: np.ndarray) -> np.ndarray:
    """Cityscapes instance train ids: values above 1000 are instances (`trainId*1000 + k`)."""
    return np.where(instance_train_ids >= 1000, instance_train_ids, 0).astype(np.int32)


def instances_from_pseudo(sem: np.ndarray, ins: np.ndarray, thing_classes, ignore_label: int = 255) -> np.ndarray:
    """generate_gt's instance map: ids 1..254 count as instances on thing pixels only (stuff
    boxes get ids there too); 0 and the contested 255 are no instance."""
    is_thing = np.isin(sem, thing_classes)
    return np.where(is_thing & (ins > 0) & (ins != ignore_label), ins, 0).astype(np.int32)


def read_targets(
    root: Path,
    split: str,
    image_id: str,
    source: LabelSource,
    thing_classes,
    ignore_label: int = 255,
    gt_kind: str = "gtFine",
):
    """(`sem`, `inst`) of one image from its label source, shapes checked."""
    if source.uses_true_gt(image_id):
        sem_path = gt_path(root, split, image_id, "labelTrainIds", gt_kind)
        ins_path = gt_path(root, split, image_id, "instanceTrainIds", gt_kind)
        sem, raw = read_label_png(sem_path), read_uint16_png(ins_path)
        inst = instances_from_gt(raw) if raw.shape == sem.shape else None
    elif source.ins_dir is None:
        sem = read_label_png(Path(source.sem_dir) / (source.template % image_id))
        return sem, np.zeros(sem.shape, np.int32)
    else:
        sem_path = Path(source.sem_dir) / (source.template % image_id)
        ins_path = Path(source.ins_dir) / (source.template % image_id)
        sem, raw = read_label_png(sem_path), read_label_png(ins_path)
        inst = instances_from_pseudo(sem, raw, thing_classes, ignore_label) if raw.shape == sem.shape else None
    if inst is None:
        raise InputError(
            ins_path, f"map is {raw.shape[0]}x{raw.shape[1]} but {sem_path.name} is {sem.shape[0]}x{sem.shape[1]}"
        )
    return sem, inst
