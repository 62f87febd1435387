"""Benchmark generate_gt on 1024x2048 inputs: time per image against the I/O floor, 2-worker
scaling, peak memory per worker.

    python benchmarks/bench_generate_gt.py [--images 24] [--repeats 3] [--synthetic]

The inputs are copies of the reference release's sample image (prediction, scores, tags, M&G
cue, boxes) from ../shared/data/wsps_sample, or synthetic maps of the same size when that
folder is absent. The I/O floor reads the same inputs and writes the same outputs with the
same libraries, and does nothing else. Targets (issue #2): at most 1.5x the floor with one
worker, at least 1.7x the throughput with 2 workers, under 600 MB peak memory per worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsps.gt.boxes import BoxObject, read_boxes_mat, write_boxes_mat  # noqa: E402
from wsps.gt.instances import ins_box_process  # noqa: E402
from wsps.gt.job import run  # noqa: E402
from wsps.gt.options import GTOptions  # noqa: E402
from wsps.gt.pipeline import clean_label, load_inputs  # noqa: E402
from wsps.io import read_label_png, read_score_mat, write_label_png  # noqa: E402
from wsps.runner import keep_freed_memory  # noqa: E402

SAMPLE = REPO.parent / "shared" / "data" / "wsps_sample"
SAMPLE_ID = "aachen_000000_000019"
H, W = 1024, 2048


def _source_files(workdir: Path, synthetic: bool) -> tuple[dict[str, Path], str]:
    """One image's five inputs: the release's sample if present, else synthetic ones."""
    if SAMPLE.exists() and not synthetic:
        return {
            "pred": SAMPLE / "results/pred_sem_raw" / f"{SAMPLE_ID}_leftImg8bit.png",
            "scores": SAMPLE / "results/pred_flat_feat" / f"{SAMPLE_ID}_leftImg8bit.mat",
            "mandg": SAMPLE / "results/mcg_and_grabcut/train" / f"{SAMPLE_ID}_leftImg8bit.png",
            "gt": SAMPLE / "data/Cityscapes/gtFine/train/aachen" / f"{SAMPLE_ID}_gtFine_labelTrainIds.png",
            "boxes": SAMPLE / "reference/gtFine_bboxes/train/panoptic" / f"{SAMPLE_ID}_leftImg8bit.mat",
        }, "the reference release's sample image"
    rng = np.random.default_rng(0)
    gt = np.repeat(np.repeat(rng.choice([0, 1, 2, 8, 10, 13, 11], size=(64, 128)).astype(np.uint8), 16, 0), 16, 1)
    pred = gt.copy()
    noise = rng.random((H, W)) < 0.05
    pred[noise] = rng.choice([0, 2, 8, 13], size=noise.sum())
    mandg = np.where(np.isin(gt, [11, 13]), gt, 0).astype(np.uint8)
    src = workdir / "src"
    src.mkdir()
    write_label_png(src / "pred.png", pred)
    write_label_png(src / "gt.png", gt)
    write_label_png(src / "mandg.png", mandg)
    scipy.io.savemat(src / "scores.mat", {"feat": rng.random((H, W), dtype=np.float32)}, do_compression=True)
    objects = [
        BoxObject(n, 0, 0, W - 1, H - 1, is_stuff=True) for n in ("road", "sidewalk", "building", "vegetation", "sky")
    ]
    objects += [BoxObject("car", x, 400, x + 150, 520) for x in range(0, 1800, 200)]
    write_boxes_mat(src / "boxes.mat", objects)
    return {
        k: src / f"{k}.{'mat' if k in ('scores', 'boxes') else 'png'}"
        for k in ("pred", "scores", "mandg", "gt", "boxes")
    }, "synthetic maps"


def build_dataset(workdir: Path, count: int, synthetic: bool = False) -> tuple[GTOptions, list[str], str]:
    files, origin = _source_files(workdir, synthetic)
    data, results = workdir / "data", workdir / "results"
    ids = [f"bench_{k:06d}_000019" for k in range(count)]
    targets = {
        "pred": results / "pred_sem_raw/{}_leftImg8bit.png",
        "scores": results / "pred_flat_feat/{}_leftImg8bit.mat",
        "mandg": results / "mcg_and_grabcut/train/{}_leftImg8bit.png",
        "gt": data / "gtFine/train/bench/{}_gtFine_labelTrainIds.png",
        "boxes": data / "gtFine_bboxes/train/panoptic/{}_leftImg8bit.mat",
    }
    for image_id in ids:
        for key, pattern in targets.items():
            target = Path(str(pattern).format(image_id))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(files[key], target)
    (data / "lists").mkdir()
    (data / "lists/train_id.txt").write_text("".join(f"{i}\n" for i in ids))
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="generate_gt", overrides=[f"data_root={data}", f"pred_root={results}"])
    return GTOptions.from_mapping(OmegaConf.to_container(cfg, resolve=True)), ids, origin


def io_floor(opts: GTOptions, ids: list[str], outputs: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Read the same inputs and write the same outputs with the same libraries, nothing else."""
    for image_id in ids:
        read_label_png(opts.pred_path(image_id))
        read_score_mat(opts.score_path(image_id))
        read_label_png(opts.gt_label_path(image_id))
        read_label_png(opts.mandg_path(image_id))
        read_boxes_mat(opts.boxes_path(image_id))
        sem, ins = outputs[image_id]
        write_label_png(opts.sem_save_path(image_id), sem)
        write_label_png(opts.ins_save_path(image_id), ins)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthetic", action="store_true", help="synthetic maps even when the sample is there")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    allocator = "glibc keeps freed memory (as generate_gt sets it)" if keep_freed_memory() else "default"
    with tempfile.TemporaryDirectory(prefix="wsps_bench_") as tmp:
        opts, ids, origin = build_dataset(Path(tmp), args.images, args.synthetic)
        first = load_inputs(opts, ids[0])
        sem = clean_label(opts, first)
        ins = ins_box_process(sem, first.boxes, opts.class_names)[0]
        outputs = {image_id: (sem, ins) for image_id in ids}  # every copy has the same outputs

        floor, one, two = [], [], []
        for _ in range(args.repeats):  # interleaved, so that drift hits all three alike
            floor.append(timed(lambda: io_floor(opts, ids, outputs)))
            one.append(timed(lambda: run(opts)))
            two.append(timed(lambda: run(dataclasses.replace(opts, num_workers=2))))
        peak_worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        written = read_label_png(opts.sem_save_path(ids[-1]))
        assert np.array_equal(written, sem), "the benchmark's output differs from the expected map"

    n = len(ids)
    floor_ms, one_ms, two_ms = (1000 * statistics.median(t) / n for t in (floor, one, two))
    ratio, scaling = one_ms / floor_ms, one_ms / two_ms
    print(f"generate_gt benchmark: {n} images of {H}x{W} ({origin}), all stages on, median of {args.repeats} runs")
    print(f"allocator for the floor and the job alike: {allocator}")
    print(f"{'measure':44s} {'value':>10s}   target")
    rows = [
        ("I/O floor, ms per image", f"{floor_ms:.1f}", ""),
        ("generate_gt, 1 worker, ms per image", f"{one_ms:.1f}", ""),
        ("generate_gt, 2 workers, ms per image", f"{two_ms:.1f}", ""),
        ("ratio to the I/O floor (1 worker)", f"{ratio:.2f}x", f"<= 1.5x  {'PASS' if ratio <= 1.5 else 'FAIL'}"),
        ("throughput, 2 workers / 1 worker", f"{scaling:.2f}x", f">= 1.7x  {'PASS' if scaling >= 1.7 else 'FAIL'}"),
        (
            "peak memory per worker, MB",
            f"{peak_worker_mb:.0f}",
            f"< 600    {'PASS' if peak_worker_mb < 600 else 'FAIL'}",
        ),
    ]
    for name, value, target in rows:
        print(f"{name:44s} {value:>10s}   {target}")


if __name__ == "__main__":
    main()
