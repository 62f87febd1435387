"""Prepare a Cityscapes-layout split: train-id maps, box files and the id list.

    python -m wsps.prepare data_root=D split=train [is_panoptic=true incl_grps=true force_overwrite=false]

For each image of `<gt_label_dir>/<city>/`: writes any missing `*_labelTrainIds.png` and
`*_instanceTrainIds.png` from the official `*_labelIds.png` / `*_instanceIds.png`
(cityscapesscripts' label table; existing ones are kept unless `force_overwrite`), then the
image's boxes (spec 3.1) as `<annotation_dir>/<id>_leftImg8bit.mat` in the release's layout with
a `.json` beside it. `annotation_dir` ends in `panoptic`; with `is_panoptic=false` the boxes go
to its sibling `thing-only`. The id list `<list_path>` is written from the folder when missing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from wsps import CONFIG_DIR
from wsps.data.metadata import DatasetMeta, meta_for
from wsps.gt.boxes import extract_boxes, write_boxes_json, write_boxes_mat
from wsps.io import ConfigError, InputError, read_id_list, read_label_png, read_uint16_png, write_png, write_text
from wsps.options import build_options
from wsps.runner import ImageResult, collect, map_images, process, run_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrepareOptions:
    """Where one split's files are and what to write."""

    data_root: Path
    split: str
    gt_kind: str
    gt_label_dir: str
    list_path: str
    box_dir: Path
    annotation_template: str
    meta: DatasetMeta
    is_panoptic: bool
    incl_grps: bool
    force_overwrite: bool

    @classmethod
    def from_config(cls, cfg: Mapping) -> PrepareOptions:
        """The options of a composed conf/prepare.yaml (`wsps.options.build_options`)."""
        data_root = Path(to_absolute_path(cfg["data_root"]))
        return build_options(
            cls,
            cfg,
            data_root=data_root,
            box_dir=data_root / box_dir_for(cfg["annotation_dir"], cfg["is_panoptic"]),
            meta=meta_for(cfg),
        )

    def gt_path(self, image_id: str, kind: str) -> Path:
        city = image_id.split("_", 1)[0]
        return self.data_root / self.gt_label_dir / city / f"{image_id}_{self.gt_kind}_{kind}.png"

    def box_path(self, image_id: str) -> Path:
        return self.box_dir / (self.annotation_template % image_id)


def box_dir_for(annotation_dir: str, is_panoptic: bool) -> str:
    """`annotation_dir` for panoptic boxes; its sibling `thing-only` for thing boxes alone."""
    return annotation_dir if is_panoptic else str(Path(annotation_dir).parent / "thing-only")


def list_ids_from_folder(opts: PrepareOptions) -> list[str]:
    """Ids of the images that have instance annotations under the split's label folder."""
    folder = opts.data_root / opts.gt_label_dir
    ids = set()
    for kind in ("instanceIds", "instanceTrainIds"):
        suffix = f"_{opts.gt_kind}_{kind}.png"
        ids.update(p.name[: -len(suffix)] for p in folder.glob(f"*/*{suffix}"))
    return sorted(ids)


def _train_id_map(opts: PrepareOptions, image_id: str, kind: str):
    """Read a train-id map, first writing it from the official map when missing (or forced,
    where the official map exists)."""
    reader = read_uint16_png if kind == "instance" else read_label_png
    convert = opts.meta.instance_ids_to_train_ids if kind == "instance" else opts.meta.label_ids_to_train_ids
    target = opts.gt_path(image_id, f"{kind}TrainIds")
    source = opts.gt_path(image_id, f"{kind}Ids")
    if target.exists() and not (opts.force_overwrite and source.exists()):
        return reader(target)
    train_ids = convert(reader(source))
    write_png(target, train_ids)
    return train_ids


def output_paths(opts: PrepareOptions, image_id: str) -> list[Path]:
    """What preparing one image leaves behind; all present means the image is done."""
    box_path = opts.box_path(image_id)
    return [
        opts.gt_path(image_id, "labelTrainIds"),
        opts.gt_path(image_id, "instanceTrainIds"),
        box_path,
        box_path.with_suffix(".json"),
    ]


def prepare_image(opts: PrepareOptions, image_id: str) -> ImageResult:
    """Train-id maps and boxes of one image; never raises."""
    return process(image_id, output_paths(opts, image_id), opts.force_overwrite, partial(_prepare, opts, image_id))


def _prepare(opts: PrepareOptions, image_id: str) -> None:
    labels = opts.meta.check_labels(_train_id_map(opts, image_id, "label"), opts.gt_path(image_id, "labelTrainIds"))
    instances = _train_id_map(opts, image_id, "instance")
    if labels.shape != instances.shape:
        raise InputError(
            opts.gt_path(image_id, "instanceTrainIds"), f"map is {instances.shape} but the label map is {labels.shape}"
        )
    try:
        objects = extract_boxes(
            instances,
            opts.meta.class_names,
            opts.meta.stuff_classes,
            opts.meta.thing_classes,
            opts.is_panoptic,
            opts.incl_grps,
            opts.meta.ignore_label,
        )
    except ValueError as err:
        raise InputError(opts.gt_path(image_id, "instanceTrainIds"), str(err)) from None
    box_path = opts.box_path(image_id)
    write_boxes_mat(box_path, objects)
    write_boxes_json(box_path.with_suffix(".json"), objects)


def prepare(opts: PrepareOptions, num_workers: int = 1):
    """Prepare every image of the split; returns the run's summary."""
    list_path = opts.data_root / opts.list_path
    if list_path.exists():
        ids = read_id_list(list_path)
    else:
        ids = list_ids_from_folder(opts)
        if not ids:
            raise InputError(
                opts.data_root / opts.gt_label_dir, f"no *_{opts.gt_kind}_instanceIds.png files under <city>/ folders"
            )
        write_text(list_path, "".join(f"{image_id}\n" for image_id in ids))
        log.info("wrote %s (%d ids)", list_path, len(ids))
    log.info("preparing %d image(s) of %s: boxes into %s", len(ids), opts.split, opts.box_dir)
    summary = collect(map_images(partial(prepare_image, opts), ids, num_workers, "prepare"), len(ids))
    log.info("%s", summary)
    return summary


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="prepare")
def main(cfg: DictConfig) -> None:
    run_job(
        "prepare", lambda: prepare(PrepareOptions.from_config(cfg), int(cfg.num_workers)), (ConfigError, InputError)
    )


if __name__ == "__main__":
    main()
