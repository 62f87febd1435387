"""The cue job: per image, GrabCut and proposal maps and their M&G consensus, written as palette PNGs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import cv2

from wsps.cues.consensus import cue_map, mandg_consensus
from wsps.cues.grabcut import GrabCutParams, grabcut_box
from wsps.cues.proposals import ProposalParams, best_proposal
from wsps.data.cityscapes import read_image
from wsps.data.metadata import DatasetMeta
from wsps.gt.boxes import load_box_file
from wsps.io import read_id_list, write_label_png
from wsps.runner import ImageResult, Summary, collect, keep_freed_memory, map_images, process, shard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CueOptions:
    data_root: Path
    meta: DatasetMeta
    split: str
    list_path: str
    annotation_dir: str
    annotation_template: str
    pred_root: Path
    mcg_and_grabcut_dir: str
    grabcut_dir: str
    proposals_dir: str
    output_template: str = "%s_leftImg8bit.png"
    force_overwrite: bool = False
    num_workers: int = 1
    shard_index: int = 0
    num_shards: int = 1
    grabcut: GrabCutParams = field(default_factory=GrabCutParams)
    proposals: ProposalParams = field(default_factory=ProposalParams)

    def output_paths(self, image_id: str) -> dict[str, Path]:
        name = self.output_template % image_id
        return {
            kind: self.pred_root / folder / name
            for kind, folder in (
                ("mandg", self.mcg_and_grabcut_dir),
                ("grabcut", self.grabcut_dir),
                ("proposals", self.proposals_dir),
            )
        }

    def boxes_path(self, image_id: str) -> Path:
        return self.data_root / self.annotation_dir / (self.annotation_template % image_id)


def image_cues(image, boxes, grabcut: GrabCutParams, proposals: ProposalParams, thing_classes, ignore_label: int = 255):
    """The GrabCut map, the proposal map and their M&G consensus for one image (pure)."""
    instance_boxes = [box for box in boxes if not (box.is_stuff or box.is_grp)]
    shape = image.shape[:2]
    grabcut_map = cue_map(
        shape, boxes, instance_boxes, [grabcut_box(image, box, grabcut) for box in instance_boxes], ignore_label
    )
    proposal_map = cue_map(
        shape, boxes, instance_boxes, [best_proposal(image, box, proposals) for box in instance_boxes], ignore_label
    )
    return grabcut_map, proposal_map, mandg_consensus(grabcut_map, proposal_map, thing_classes, ignore_label)


def process_image(opts: CueOptions, image_id: str) -> ImageResult:
    """Cues of one image; never raises."""
    return process(image_id, opts.output_paths(image_id).values(), opts.force_overwrite, partial(_cues, opts, image_id))


def _cues(opts: CueOptions, image_id: str) -> None:
    image = read_image(opts.meta.image_path(opts.data_root, opts.split, image_id))
    boxes = load_box_file(opts.boxes_path(image_id), opts.meta.class_names, image.shape[:2])
    grabcut_map, proposal_map, mandg = image_cues(
        image, boxes, opts.grabcut, opts.proposals, opts.meta.thing_classes, opts.meta.ignore_label
    )
    outputs = opts.output_paths(image_id)
    write_label_png(outputs["grabcut"], grabcut_map)
    write_label_png(outputs["proposals"], proposal_map)
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
