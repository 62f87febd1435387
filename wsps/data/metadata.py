"""One description of a dataset, built from `conf/dataset/<name>.yaml`, that every part reads.

detectron2 keeps one metadata object per dataset; here the dataset's config group is the
catalogue and `DatasetMeta.from_config` the object: class names and train ids, which classes
are things, the ignore label, how official label ids map to train ids, the canvas, the tag
check's crop grid, and the folder and list names of the Cityscapes layout the data is kept in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from wsps.data.cityscapes import LabelSource, gt_path, image_path, read_targets
from wsps.gt.options import GTOptions
from wsps.io import ConfigError, InputError
from wsps.options import build_options

#: Official-id tables a dataset may name as its `label_table`.
LABEL_TABLES = ("cityscapes",)


@dataclass(frozen=True)
class DatasetMeta:
    """What the code needs to know about a dataset.

    Args:
        name: the config group's name (`cityscapes`, `synthetic`, ...).
        class_names: one name per train id, in train-id order.
        thing_classes: train ids of the countable classes; every other train id is stuff.
        ignore_label: the label of unlabelled pixels (255).
        label_table: `cityscapes` where the maps are kept in official label ids and converted
            with cityscapesscripts' table (`*_labelIds.png` -> `*_labelTrainIds.png`); None where
            the dataset is stored in train ids already.
        canvas_size: (rows, cols) of every image.
        schk_crop_size: (rows, cols) of the tag check's crops, the classifier's fixed grid.
        image_folder: the images' folder under the root (`<image_folder>/<split>/<city>/`).
        label_folder: the fine labels' folder (`<label_folder>/<split>/<city>/`).
        split_label_folders: (split, folder) pairs for splits labelled elsewhere: Cityscapes'
            `train_extra` has only coarse labels, in `gtCoarse`.
        list_template: the id list of a split under the root, `%s` for the split.
        pred_template: the file of an image's map in a label folder (pseudo-GT, cues,
            predictions), `%s` for the image id: the release's `%s_leftImg8bit.png`.
    """

    name: str
    class_names: tuple[str, ...]
    thing_classes: tuple[int, ...]
    ignore_label: int
    canvas_size: tuple[int, int]
    schk_crop_size: tuple[int, int]
    label_table: str | None
    image_folder: str
    label_folder: str
    split_label_folders: tuple[tuple[str, str], ...]
    list_template: str
    pred_template: str

    def __post_init__(self):
        if not self.class_names:
            raise ConfigError("class_names is empty")
        if len(self.class_names) >= self.ignore_label:
            raise ConfigError(f"{len(self.class_names)} classes do not fit below ignore_label {self.ignore_label}")
        bad = [c for c in self.thing_classes if not 0 <= c < len(self.class_names)]
        if bad:
            raise ConfigError(f"thing_classes {bad} are not train ids of the {len(self.class_names)} classes")
        if self.label_table not in (None, *LABEL_TABLES):
            raise ConfigError(
                f"label_table={self.label_table!r}: choose one of {', '.join(LABEL_TABLES)}, or null for "
                f"maps kept in train ids"
            )
        for key in ("canvas_size", "schk_crop_size"):
            if min(getattr(self, key)) <= 0:
                raise ConfigError(f"{key} must be two positive integers [rows, cols], got {list(getattr(self, key))}")
        for key, where in (("list_template", "the split"), ("pred_template", "the image id")):
            if getattr(self, key).count("%s") != 1:
                raise ConfigError(f"{key} must contain '%s' once (where {where} goes), got {getattr(self, key)!r}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> DatasetMeta:
        """The description a composed config holds (the keys of its `dataset` group).

        Its `stuff_classes` (the reference's option, kept for generate_gt) must be exactly the
        classes that are not things.
        """
        if "dataset_name" not in cfg:
            raise ConfigError("missing options: dataset_name")
        given = {"name": str(cfg["dataset_name"])}
        if "split_label_folders" in cfg:
            folders = cfg["split_label_folders"] or {}
            given["split_label_folders"] = tuple((str(k), str(v)) for k, v in folders.items())
        meta = build_options(cls, cfg, **given)
        if "stuff_classes" in cfg and tuple(int(c) for c in cfg["stuff_classes"]) != meta.stuff_classes:
            raise ConfigError(
                f"stuff_classes {list(cfg['stuff_classes'])} must be the classes that are not things: "
                f"{list(meta.stuff_classes)}"
            )
        return meta

    # ------------------------------------------------------------------ classes

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def stuff_classes(self) -> tuple[int, ...]:
        things = set(self.thing_classes)
        return tuple(c for c in range(self.num_classes) if c not in things)

    def check_labels(self, label: np.ndarray, path: str | Path) -> np.ndarray:
        """`label` (train ids) unless it holds a value that is neither a class nor the ignore label."""
        values = np.flatnonzero(np.bincount(label.ravel(), minlength=256))
        bad = [int(v) for v in values if v >= self.num_classes and v != self.ignore_label]
        if bad:
            raise InputError(
                path,
                f"label values {bad[:5]} are not train ids of {self.name}'s {self.num_classes} classes "
                f"(0..{self.num_classes - 1}, {self.ignore_label} unlabelled)",
            )
        return label

    # ------------------------------------------------------------------ official ids

    def label_ids_to_train_ids(self, label_ids: np.ndarray) -> np.ndarray:
        """An official `*_labelIds.png` map as train ids (the dataset's `label_table`)."""
        from wsps.labels import label_ids_to_train_ids

        return label_ids_to_train_ids(label_ids) if self.label_table == "cityscapes" else label_ids

    def instance_ids_to_train_ids(self, instance_ids: np.ndarray) -> np.ndarray:
        """An official `*_instanceIds.png` map as `*_instanceTrainIds.png` values."""
        from wsps.labels import instance_ids_to_train_ids

        return instance_ids_to_train_ids(instance_ids) if self.label_table == "cityscapes" else instance_ids

    # ------------------------------------------------------------------ layout

    def image_path(self, root: str | Path, split: str, image_id: str) -> Path:
        return image_path(root, split, image_id, self.image_folder)

    def label_folder_of(self, split: str) -> str:
        """The folder (and file-name part) of a split's labels: `gtFine`, or `gtCoarse` for `train_extra`."""
        return dict(self.split_label_folders).get(split, self.label_folder)

    def gt_path(self, root: str | Path, split: str, image_id: str, kind: str) -> Path:
        """`kind` is labelIds, instanceIds, labelTrainIds or instanceTrainIds."""
        return gt_path(root, split, image_id, kind, self.label_folder_of(split))

    def read_targets(
        self, root: str | Path, split: str, image_id: str, source: LabelSource
    ) -> tuple[np.ndarray, np.ndarray]:
        """(`sem`, `inst`) of one image: see `wsps.data.cityscapes.read_targets`."""
        sem, inst = read_targets(
            Path(root), split, image_id, source, self.thing_classes, self.ignore_label, self.label_folder_of(split)
        )
        return self.check_labels(
            sem,
            self.gt_path(root, split, image_id, "labelTrainIds")
            if source.uses_true_gt(image_id)
            else Path(source.sem_dir) / (source.template % image_id),
        ), inst

    def label_file(self, folder: str | Path, image_id: str) -> Path:
        """An image's map in a label folder (pseudo-GT, cues, predictions): `folder/<pred_template>`."""
        return Path(folder) / (self.pred_template % image_id)

    def list_path(self, root: str | Path, split: str) -> Path:
        return Path(root) / (self.list_template % split)

    def split_files(self, split: str) -> dict[str, str]:
        """Where a split's files are, under the reference's option names (conf/split/_layout.yaml
        reads them): `gt_kind` (the labels' folder and file-name part), `list_path`,
        `annotation_dir` (the boxes of the release's layout), `gt_label_dir`, `gt_label_template`."""
        kind = self.label_folder_of(split)
        return {
            "gt_kind": kind,
            "list_path": self.list_template % split,
            "annotation_dir": f"{kind}_bboxes/{split}/panoptic",
            "gt_label_dir": f"{kind}/{split}",
            "gt_label_template": f"%s_{kind}_labelTrainIds.png",
        }


#: The dataset facts that generate_gt's options hold under the reference's names.
GT_OPTION_FACTS = (
    "class_names",
    "thing_classes",
    "stuff_classes",
    "ignore_label",
    "canvas_size",
    "schk_crop_size",
    "pred_template",
)


def gt_options(cfg, resolve_path=lambda p: str(Path(p).absolute())) -> GTOptions:
    """generate_gt's options (`GTOptions.from_mapping`) from a composed config, the dataset facts
    among them (`GT_OPTION_FACTS`) taken from its dataset's description, which checked them."""
    values = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    meta = DatasetMeta.from_config(values)
    return GTOptions.from_mapping(values, resolve_path, **{key: getattr(meta, key) for key in GT_OPTION_FACTS})


def meta_for(cfg) -> DatasetMeta:
    """`DatasetMeta.from_config` on a composed config (an OmegaConf node reads as a mapping)."""
    return DatasetMeta.from_config(cfg)


def dataset_meta(name: str) -> DatasetMeta:
    """The description in `conf/dataset/<name>.yaml` (its `defaults` followed), outside a Hydra app."""
    from omegaconf import OmegaConf

    from wsps import CONFIG_DIR

    def load(group_name: str):
        path = Path(CONFIG_DIR) / "dataset" / f"{group_name}.yaml"
        if not path.is_file():
            raise ConfigError(f"no dataset config {path}")
        node = OmegaConf.load(path)
        bases = [d for d in node.pop("defaults", []) if d != "_self_"]
        return OmegaConf.merge(*[load(b) for b in bases], node)

    return meta_for(load(name))
