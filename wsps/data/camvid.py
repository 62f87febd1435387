"""CamVid in the Cityscapes layout: `python -m wsps.data.camvid src=S data_root=D`.

Reads the 11-class CamVid folders (`train/` + `trainannot/`, `val/` + `valannot/`, and
`test/` + `testannot/` when present; `<sequence>_<frame>.png`) and writes, per image, the RGB
image `leftImg8bit/<split>/<sequence>/<id>_leftImg8bit.png`, its labels in CamVid's train ids
(`gtFine/.../<id>_gtFine_labelTrainIds.png`, void 11 -> 255) and an instance map
(`..._instanceTrainIds.png`) whose instances are the connected regions (8-connected) of each
thing class: `class*1000 + k`. CamVid has no instance annotations, so objects of one class that
touch become one instance (and one box); a region smaller than `min_instance_area` pixels gets
no instance id and stays a crowd region of its class (no box; ignored by PQ). Then the id lists
`lists/<split>_id.txt`. `dataset=camvid` (conf/dataset/camvid.yaml) describes the result;
`python -m wsps.prepare dataset=camvid data_root=D split=train` writes its boxes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import hydra
import numpy as np
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from wsps import CONFIG_DIR
from wsps.data.cityscapes import read_image
from wsps.data.metadata import DatasetMeta, meta_for
from wsps.io import ConfigError, InputError, read_label_png, write_label_png, write_png, write_text
from wsps.options import build_options
from wsps.runner import ImageResult, Summary, collect, map_images, process, run_job

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
VOID = 11


@dataclass(frozen=True)
class CamVidOptions:
    src: Path
    data_root: Path
    meta: DatasetMeta
    min_instance_area: int
    force_overwrite: bool
    num_workers: int

    @classmethod
    def from_config(cls, cfg: Mapping) -> CamVidOptions:
        """The options of a composed conf/convert_camvid.yaml (`wsps.options.build_options`)."""
        if not cfg.get("src"):
            raise ConfigError("src=... must name the CamVid folder (train/, trainannot/, val/, valannot/)")
        meta = meta_for(cfg)
        if meta.label_table is not None:
            raise ConfigError(f"dataset={meta.name}: CamVid is converted into train ids; use dataset=camvid")
        return build_options(
            cls,
            cfg,
            src=Path(to_absolute_path(cfg["src"])),
            data_root=Path(to_absolute_path(cfg["data_root"])),
            meta=meta,
        )


def component_instances(label: np.ndarray, thing_classes, min_area: int, ignore_label: int = 255) -> np.ndarray:
    """An `*_instanceTrainIds.png` map (uint16) from train ids: each 8-connected region of a thing
    class of at least `min_area` pixels is an instance `class*1000 + k` (k from 1, in scan
    order); every other pixel keeps its bare train id (smaller regions: crowds)."""
    instances = label.astype(np.uint16)
    for c in thing_classes:
        count, components, stats, _ = cv2.connectedComponentsWithStats((label == c).astype(np.uint8), connectivity=8)
        k = 0
        for region in range(1, count):
            if stats[region, cv2.CC_STAT_AREA] >= min_area:
                k += 1
                if k > 999:
                    raise ValueError(f"more than 999 regions of class {c}: they do not fit the instance encoding")
                instances[components == region] = c * 1000 + k
    return instances


def convert_labels(annotation: np.ndarray, num_classes: int, path: Path, ignore_label: int = 255) -> np.ndarray:
    """CamVid's label values (0..10, void 11) as train ids (void -> `ignore_label`)."""
    bad = sorted(set(np.unique(annotation).tolist()) - set(range(num_classes)) - {VOID})
    if bad:
        raise InputError(path, f"label values {bad[:5]} are outside CamVid's 0..{VOID} ({VOID}: void)")
    return np.where(annotation == VOID, ignore_label, annotation).astype(np.uint8)


def output_paths(opts: CamVidOptions, split: str, image_id: str) -> list[Path]:
    meta, root = opts.meta, opts.data_root
    return [
        meta.image_path(root, split, image_id),
        meta.gt_path(root, split, image_id, "labelTrainIds"),
        meta.gt_path(root, split, image_id, "instanceTrainIds"),
    ]


def _convert(opts: CamVidOptions, split: str, name: str) -> None:
    image_path, annotation_path = opts.src / split / name, opts.src / f"{split}annot" / name
    if not annotation_path.is_file():
        raise InputError(annotation_path, "annotation not found")
    image = read_image(image_path)
    annotation = read_label_png(annotation_path)
    if annotation.shape != image.shape[:2]:
        raise InputError(
            annotation_path,
            f"labels are {annotation.shape[0]}x{annotation.shape[1]} but the image is "
            f"{image.shape[0]}x{image.shape[1]}",
        )
    if image.shape[:2] != opts.meta.canvas_size:
        raise InputError(
            image_path, f"image is {image.shape[0]}x{image.shape[1]}, not the canvas {list(opts.meta.canvas_size)}"
        )
    label = convert_labels(annotation, opts.meta.num_classes, annotation_path, opts.meta.ignore_label)
    image_id = Path(name).stem
    try:
        instances = component_instances(label, opts.meta.thing_classes, opts.min_instance_area, opts.meta.ignore_label)
    except ValueError as err:
        raise InputError(annotation_path, str(err)) from None
    image_out, label_out, instance_out = output_paths(opts, split, image_id)
    write_png(image_out, image)
    write_label_png(label_out, label)
    write_png(instance_out, instances)  # last: its presence means the image is done


def convert_image(opts: CamVidOptions, split: str, name: str) -> ImageResult:
    """One CamVid image and its annotation; never raises."""
    image_id = Path(name).stem
    return process(
        image_id, output_paths(opts, split, image_id), opts.force_overwrite, partial(_convert, opts, split, name)
    )


def convert(opts: CamVidOptions) -> Summary:
    """Every split found under `src`; the id lists hold the images converted (or already there)."""
    splits = [s for s in SPLITS if (opts.src / s).is_dir()]
    if not splits:
        raise InputError(opts.src, f"no CamVid split folders ({', '.join(SPLITS)}) here")
    total = Summary()
    for split in splits:
        names = sorted(p.name for p in (opts.src / split).glob("*.png"))
        if any("_" not in Path(n).stem for n in names):
            raise InputError(opts.src / split, "image names must be <sequence>_<frame>.png")
        results = list(map_images(partial(convert_image, opts, split), names, opts.num_workers, f"camvid {split}"))
        summary = collect(iter(results), len(names))
        ok = [r.image_id for r in results if r.status != "failed"]
        write_text(opts.meta.list_path(opts.data_root, split), "".join(f"{i}\n" for i in ok))
        log.info("%s: %s", split, summary)
        total.counts.update(summary.counts)
        total.failures += summary.failures
    log.info("all splits: %s", total)
    return total


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="convert_camvid")
def main(cfg: DictConfig) -> None:
    run_job("camvid", lambda: convert(CamVidOptions.from_config(cfg)), (ConfigError, InputError))


if __name__ == "__main__":
    main()
