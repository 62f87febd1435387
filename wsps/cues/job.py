"""The cue job: per image, each thing cue's map and their consensus (the M&G map), written as palette PNGs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from hydra.utils import instantiate, to_absolute_path

from wsps.cues.consensus import CONSENSUS_RULES, consensus, cue_map
from wsps.data.cityscapes import read_image
from wsps.data.metadata import DatasetMeta, meta_for
from wsps.gt.boxes import Box, load_box_file
from wsps.io import ConfigError, InputError, read_id_list, write_label_png
from wsps.options import build_options
from wsps.runner import ImageResult, Summary, collect, keep_freed_memory, map_images, process, shard

log = logging.getLogger(__name__)


ThingCue = Callable[[np.ndarray, Sequence[Box]], list[tuple[slice, slice, np.ndarray]]]


@dataclass(frozen=True)
class CueOptions:
    """`thing_cues`: (name, cue) pairs, a cue being (image, instance boxes) -> one (rows, cols,
    mask) per box; `consensus`: how their maps are combined (`all` or `majority`). Each cue's map
    goes to `pred_root/<thing_cue_dir % name>`, the consensus to `pred_root/mcg_and_grabcut_dir`."""

    data_root: Path
    meta: DatasetMeta
    split: str
    list_path: str
    annotation_dir: str
    annotation_template: str
    pred_root: Path
    mcg_and_grabcut_dir: str
    thing_cues: tuple[tuple[str, ThingCue], ...]
    thing_cue_dir: str
    consensus: str
    mcg_and_grabcut_template: str
    force_overwrite: bool
    num_workers: int
    shard_index: int
    num_shards: int

    @classmethod
    def from_config(cls, cfg: Mapping) -> CueOptions:
        """The options of a composed conf/cues.yaml (`wsps.options.build_options`), checked."""
        if cfg["split"] == "test":
            raise InputError(f"split={cfg['split']}", "the test split has no boxes to take cues from")
        if not cfg.get("thing_cues"):
            raise ConfigError("thing_cues is empty: choose at least one cue, e.g. thing_cues=[grabcut,proposals]")
        if cfg["consensus"] not in CONSENSUS_RULES:
            raise ConfigError(f"consensus={cfg['consensus']}: choose one of {', '.join(CONSENSUS_RULES)}")
        if cfg["thing_cue_dir"].count("%s") != 1:
            raise ConfigError(
                f"thing_cue_dir must contain '%s' once (where the cue's name goes), got {cfg['thing_cue_dir']!r}"
            )
        options = build_options(
            cls,
            cfg,
            data_root=Path(to_absolute_path(cfg["data_root"])),
            pred_root=Path(to_absolute_path(cfg["pred_root"])),
            meta=meta_for(cfg),
            thing_cues=tuple(
                (str(name), instantiate(node, _partial_=True, _convert_="all"))
                for name, node in cfg["thing_cues"].items()
            ),
        )
        if options.num_shards < 1 or not 0 <= options.shard_index < options.num_shards:
            raise InputError(
                "shard_index",
                f"need 0 <= shard_index < num_shards, got {options.shard_index} and {options.num_shards}",
            )
        return options

    def output_paths(self, image_id: str) -> dict[str, Path]:
        """Each cue's map by its name, then the consensus (`mandg`), written last."""
        name = self.mcg_and_grabcut_template % image_id
        folders = [(cue, self.thing_cue_dir % cue) for cue, _ in self.thing_cues]
        return {
            kind: self.pred_root / folder / name for kind, folder in (*folders, ("mandg", self.mcg_and_grabcut_dir))
        }

    def boxes_path(self, image_id: str) -> Path:
        return self.data_root / self.annotation_dir / (self.annotation_template % image_id)


def image_cues(
    image: np.ndarray,
    boxes: Sequence[Box],
    thing_cues: Mapping[str, ThingCue],
    thing_classes: Sequence[int],
    rule: str = "all",
    ignore_label: int = 255,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each cue's label map and their consensus for one image (pure).

    Args:
        image: (H, W, 3) uint8 RGB.
        boxes: the image's boxes; the cues run on its instance boxes (not stuff, not groups).
    Returns:
        ({name: (H, W) uint8 map}, (H, W) uint8 consensus).
    """
    instance_boxes = [box for box in boxes if not (box.is_stuff or box.is_grp)]
    shape = image.shape[:2]
    maps = {
        name: cue_map(shape, boxes, instance_boxes, cue(image, instance_boxes), ignore_label)
        for name, cue in thing_cues.items()
    }
    return maps, consensus(list(maps.values()), thing_classes, rule, ignore_label)


def process_image(opts: CueOptions, image_id: str) -> ImageResult:
    """Cues of one image; never raises."""
    return process(image_id, opts.output_paths(image_id).values(), opts.force_overwrite, partial(_cues, opts, image_id))


def _cues(opts: CueOptions, image_id: str) -> None:
    image = read_image(opts.meta.image_path(opts.data_root, opts.split, image_id))
    boxes = load_box_file(opts.boxes_path(image_id), opts.meta.class_names, image.shape[:2])
    maps, mandg = image_cues(
        image, boxes, dict(opts.thing_cues), opts.meta.thing_classes, opts.consensus, opts.meta.ignore_label
    )
    outputs = opts.output_paths(image_id)
    for name, label in maps.items():
        write_label_png(outputs[name], label)
    write_label_png(outputs["mandg"], mandg)  # last: its presence means the image is done


def _one_thread() -> None:
    """Worker processes share the cores: no OpenCV thread pool inside each."""
    cv2.setNumThreads(1)


def run(opts: CueOptions) -> Summary:
    ids = shard(read_id_list(opts.data_root / opts.list_path), opts.shard_index, opts.num_shards)
    keep_freed_memory()
    log.info(
        "thing cues for %d image(s) (shard %d of %d) into %s",
        len(ids),
        opts.shard_index,
        opts.num_shards,
        opts.pred_root / opts.mcg_and_grabcut_dir,
    )
    summary = collect(
        map_images(partial(process_image, opts), ids, opts.num_workers, "cues", initializer=_one_thread), len(ids)
    )
    log.info("%s", summary)
    return summary
