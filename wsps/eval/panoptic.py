"""Panoptic quality through cityscapesscripts: our maps in its format, its GT, its PQ code.

A panoptic map here is a pair: `sem` (train ids, 255 = void) and `inst` (int, > 0 for thing
instances, 0 otherwise). Each image becomes cityscapesscripts' panoptic format (an RGB PNG
of segment ids and a segments_info list); the true GT comes from `convert2panoptic` on the
official `*_instanceIds.png`, with train ids as categories; PQ is computed by its
`pq_compute_single_core` and `average_pq`, on the images we have predictions for.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import average_pq, pq_compute_single_core
from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic

from wsps.io import atomic_path, write_png
from wsps.labels import IGNORE_LABEL


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """Segment ids as cityscapesscripts' RGB encoding (id = R + 256 G + 256^2 B)."""
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def to_segments(sem: np.ndarray, inst: np.ndarray, thing_classes: Sequence[int], ignore_label: int = IGNORE_LABEL):
    """One segment per stuff class and per thing instance: (id map, segments_info).

    Thing pixels without an instance id and ignored pixels are void (id 0).
    """
    ids = np.zeros(sem.shape, np.int64)
    is_thing = np.isin(sem, thing_classes)
    keys = np.where(is_thing, sem.astype(np.int64) * 100_000 + inst, sem.astype(np.int64) * 100_000)
    valid = (sem != ignore_label) & ~(is_thing & (inst <= 0))
    uniques, inverse, areas = np.unique(keys[valid], return_inverse=True, return_counts=True)
    ids[valid] = inverse + 1
    segments = [{"id": k, "category_id": int(key // 100_000), "area": int(area), "iscrowd": 0}
                for k, (key, area) in enumerate(zip(uniques, areas), start=1)]
    return ids, segments


def write_panoptic(folder: Path, image_id: str, sem: np.ndarray, inst: np.ndarray, thing_classes: Sequence[int]) -> None:
    """`<id>_panoptic.png` and `<id>_panoptic.json` (its annotation entry), atomically."""
    ids, segments = to_segments(sem, inst, thing_classes)
    write_png(Path(folder) / f"{image_id}_panoptic.png", id_to_rgb(ids))
    entry = {"image_id": image_id, "file_name": f"{image_id}_panoptic.png", "segments_info": segments}
    with atomic_path(Path(folder) / f"{image_id}_panoptic.json") as tmp:
        tmp.write_text(json.dumps(entry))


def panoptic_gt(data_root: Path, split: str, cache_dir: Path) -> tuple[Path, Path]:
    """The split's true GT in panoptic format (train-id categories), made once into `cache_dir`."""
    name = f"cityscapes_panoptic_{split}_trainId"
    json_file, folder = Path(cache_dir) / f"{name}.json", Path(cache_dir) / name
    if not json_file.exists():
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(io.StringIO()):
            convert2panoptic(str(Path(data_root) / "gtFine"), str(cache_dir), useTrainId=True, setNames=[split])
    return json_file, folder


def evaluate_panoptic(gt_json: Path, gt_folder: Path, pred_folder: Path, image_ids: Iterable[str]) -> dict:
    """PQ, SQ, RQ (all, things, stuff) of the predictions in `pred_folder` on `image_ids`."""
    gt = json.loads(Path(gt_json).read_text())
    categories = {c["id"]: c for c in gt["categories"]}
    wanted = set(image_ids)
    pairs = []
    for annotation in gt["annotations"]:
        if annotation["image_id"] in wanted:
            pred = json.loads((Path(pred_folder) / f"{annotation['image_id']}_panoptic.json").read_text())
            pairs.append((annotation, pred))
    if not pairs:
        raise ValueError(f"no prediction in {pred_folder} matches the ground truth in {gt_json}")
    with contextlib.redirect_stdout(io.StringIO()):
        stat = pq_compute_single_core(0, pairs, str(gt_folder), str(pred_folder), categories)
    results = average_pq(stat, categories)
    return {
        "PQ": results["All"]["pq"], "SQ": results["All"]["sq"], "RQ": results["All"]["rq"],
        "PQ_th": results["Things"]["pq"], "PQ_st": results["Stuff"]["pq"],
        "per_class": {categories[k]["name"]: v["pq"] for k, v in results["per_class"].items()},
        "images": len(pairs),
    }
