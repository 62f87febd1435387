"""Panoptic quality through cityscapesscripts: our maps in its format, its PQ code.

A panoptic map here is a pair: `sem` (train ids, 255 = void) and `inst` (int, > 0 for thing
instances, 0 otherwise). Each image becomes cityscapesscripts' panoptic format (an RGB PNG
of segment ids and a segments_info list). The true GT is made the same way from any dataset's
`*_instanceTrainIds.png`, as cityscapesscripts' `convert2panoptic` makes it from Cityscapes'
official ids (thing pixels without an instance are crowd regions, ignored pixels void), so
that a dataset with its own classes is scored by the same code; PQ is computed by
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

from wsps.data.metadata import DatasetMeta
from wsps.io import atomic_path, read_uint16_png, write_png


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """Segment ids as cityscapesscripts' RGB encoding (id = R + 256 G + 256^2 B)."""
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def to_segments(sem: np.ndarray, inst: np.ndarray, thing_classes: Sequence[int], ignore_label: int = 255):
    """One segment per stuff class and per thing instance: (id map, segments_info).

    Thing pixels without an instance id and ignored pixels are void (id 0).
    """
    ids = np.zeros(sem.shape, np.int64)
    is_thing = np.isin(sem, thing_classes)
    keys = np.where(is_thing, sem.astype(np.int64) * 100_000 + inst, sem.astype(np.int64) * 100_000)
    valid = (sem != ignore_label) & ~(is_thing & (inst <= 0))
    uniques, inverse, areas = np.unique(keys[valid], return_inverse=True, return_counts=True)
    ids[valid] = inverse + 1
    segments = [
        {"id": k, "category_id": int(key // 100_000), "area": int(area), "iscrowd": 0}
        for k, (key, area) in enumerate(zip(uniques, areas), start=1)
    ]
    return ids, segments


def write_panoptic(
    folder: Path,
    image_id: str,
    sem: np.ndarray,
    inst: np.ndarray,
    thing_classes: Sequence[int],
    ignore_label: int = 255,
) -> None:
    """`<id>_panoptic.png` and `<id>_panoptic.json` (its annotation entry), atomically."""
    ids, segments = to_segments(sem, inst, thing_classes, ignore_label)
    write_png(Path(folder) / f"{image_id}_panoptic.png", id_to_rgb(ids))
    entry = {"image_id": image_id, "file_name": f"{image_id}_panoptic.png", "segments_info": segments}
    with atomic_path(Path(folder) / f"{image_id}_panoptic.json") as tmp:
        tmp.write_text(json.dumps(entry))


def gt_segments(instance_train_ids: np.ndarray, meta: DatasetMeta) -> tuple[np.ndarray, list[dict]]:
    """A `*_instanceTrainIds.png` map (`trainId*1000 + k` for instances, the bare train id
    elsewhere) as (id map, segments_info): one segment per instance and per class region; a
    thing class's pixels without an instance id are a crowd segment; ignored pixels are void."""
    ids = np.zeros(instance_train_ids.shape, np.int64)
    values, inverse, areas = np.unique(instance_train_ids, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(instance_train_ids.shape)
    segments = []
    for k, (value, area) in enumerate(zip(values.tolist(), areas.tolist())):
        category = value // 1000 if value >= 1000 else value
        if category >= meta.num_classes:
            continue
        crowd = int(value < 1000 and category in meta.thing_classes)
        segments.append({"id": len(segments) + 1, "category_id": category, "area": area, "iscrowd": crowd})
        ids[inverse == k] = len(segments)
    return ids, segments


def panoptic_gt(
    meta: DatasetMeta, data_root: Path, split: str, image_ids: Iterable[str], cache_dir: Path
) -> tuple[Path, Path]:
    """The true GT of `image_ids` in panoptic format (train-id categories), made into `cache_dir`
    and reused: images already there are not made again."""
    name = f"{meta.name}_panoptic_{split}_trainId"
    json_file, folder = Path(cache_dir) / f"{name}.json", Path(cache_dir) / name
    gt = json.loads(json_file.read_text()) if json_file.exists() else {"annotations": []}
    done = {a["image_id"] for a in gt["annotations"]}
    missing = [i for i in dict.fromkeys(image_ids) if i not in done]
    if not missing and json_file.exists():
        return json_file, folder
    for image_id in missing:
        path = meta.gt_path(data_root, split, image_id, "instanceTrainIds")
        ids, segments = gt_segments(read_uint16_png(path), meta)
        write_png(folder / f"{image_id}_panoptic.png", id_to_rgb(ids))
        gt["annotations"].append(
            {"image_id": image_id, "file_name": f"{image_id}_panoptic.png", "segments_info": segments}
        )
    gt["categories"] = [
        {"id": c, "name": n, "isthing": int(c in meta.thing_classes), "supercategory": "", "color": [0, 0, 0]}
        for c, n in enumerate(meta.class_names)
    ]
    gt["images"] = [{"id": a["image_id"], "file_name": a["file_name"]} for a in gt["annotations"]]
    with atomic_path(json_file) as tmp:
        tmp.write_text(json.dumps(gt))
    return json_file, folder


def evaluate_panoptic(gt_json: Path, gt_folder: Path, pred_folder: Path, image_ids: Iterable[str]) -> dict:
    """PQ, SQ, RQ (all, things, stuff) of the predictions in `pred_folder` on `image_ids`; per
    class PQ (`per_class`) and matched, false and missed segments (`counts`: TP, FP, FN)."""
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
        "PQ": results["All"]["pq"],
        "SQ": results["All"]["sq"],
        "RQ": results["All"]["rq"],
        "PQ_th": results["Things"]["pq"],
        "SQ_th": results["Things"]["sq"],
        "RQ_th": results["Things"]["rq"],
        "PQ_st": results["Stuff"]["pq"],
        "per_class": {categories[k]["name"]: v["pq"] for k, v in results["per_class"].items()},
        "counts": {categories[k]["name"]: {"TP": v.tp, "FP": v.fp, "FN": v.fn} for k, v in stat.pq_per_cat.items()},
        "images": len(pairs),
    }
