"""Benchmark the thing cues (M&G) on real Cityscapes images: quality and seconds per image.

    python benchmarks/bench_cues.py [--data ../shared/data/cityscapes_real]

Boxes come from each image's own instance annotations (wsps.prepare), cues from wsps.cues
with the defaults of conf/cues.yaml, one process, one OpenCV thread. For thing pixels the
M&G map labels with a class: precision (the label equals the true train id) and coverage
(share of true thing pixels labelled with the right class); for its 0 pixels: background
precision (true label stuff or void). Targets (issue #4), means over the images: precision
>= 0.85, coverage >= 0.60, background precision >= 0.99, at most 10 s per image. The authors'
MCG+GrabCut map for aachen_000000_000019 (from ../shared/data/wsps_sample) is scored alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hydra import compose, initialize_config_dir  # noqa: E402

from wsps.cues.job import CueOptions, process_image  # noqa: E402
from wsps.data.cityscapes import gt_path  # noqa: E402
from wsps.io import read_id_list, read_label_png  # noqa: E402
from wsps.labels import THING_CLASSES, label_ids_to_train_ids  # noqa: E402
from wsps.prepare import PrepareOptions, prepare  # noqa: E402

SHARED = Path(os.environ.get("WSPS_SHARED", REPO.parent / "shared")) / "data"
AUTHORS = SHARED / "wsps_sample" / "results" / "mcg_and_grabcut" / "train" / "aachen_000000_000019_leftImg8bit.png"


def scores(mandg: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(precision, coverage, background precision) of an M&G map against train ids."""
    is_thing = np.isin(truth, THING_CLASSES)
    labelled = np.isin(mandg, THING_CLASSES)
    precision = float((mandg[labelled] == truth[labelled]).mean()) if labelled.any() else float("nan")
    coverage = float(((mandg == truth) & is_thing).sum() / max(1, is_thing.sum()))
    background = float((~np.isin(truth[mandg == 0], THING_CLASSES)).mean())
    return precision, coverage, background


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "cityscapes_real")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data}: not found (five real Cityscapes images in the official layout)")
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="wsps_cues_") as tmp:
        root = Path(tmp) / "cityscapes"
        shutil.copytree(args.data, root)
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            cfg = compose(config_name="cues", overrides=[f"data_root={root}", f"pred_root={tmp}/results"])
            prepare(PrepareOptions.from_config(compose(config_name="prepare", overrides=[f"data_root={root}"])))
        opts = CueOptions.from_config(cfg)
        rows = []
        for image_id in read_id_list(root / cfg.list_path):
            start = time.perf_counter()
            result = process_image(opts, image_id)
            seconds = time.perf_counter() - start
            assert result.status == "done", result.message
            truth = label_ids_to_train_ids(read_label_png(gt_path(root, "train", image_id, "labelIds")))
            mandg = read_label_png(opts.output_paths(image_id)["mandg"])
            rows.append((image_id, *scores(mandg, truth), seconds))
            if image_id == "aachen_000000_000019" and AUTHORS.exists():
                authors = (image_id + " (authors' map)", *scores(read_label_png(AUTHORS), truth), float("nan"))

    print(f"thing cues (M&G) on {len(rows)} real Cityscapes images of 2048x1024, defaults of conf/cues.yaml, 1 core")
    print(f"{'image':42s} {'precision':>9s} {'coverage':>9s} {'bg prec.':>9s} {'s/image':>8s}")
    for name, p, c, b, s in rows + ([authors] if "authors" in locals() else []):
        print(f"{name:42s} {p:9.3f} {c:9.3f} {b:9.4f} {s:8.2f}")
    mean = np.array([r[1:] for r in rows]).mean(axis=0)
    print(f"{'mean':42s} {mean[0]:9.3f} {mean[1]:9.3f} {mean[2]:9.4f} {mean[3]:8.2f}")
    checks = [
        ("precision", mean[0] >= 0.85, ">= 0.85"),
        ("coverage", mean[1] >= 0.60, ">= 0.60"),
        ("background precision", mean[2] >= 0.99, ">= 0.99"),
        ("seconds per image", mean[3] <= 10, "<= 10"),
    ]
    print("targets: " + ", ".join(f"{name} {target} {'PASS' if ok else 'FAIL'}" for name, ok, target in checks))


if __name__ == "__main__":
    main()
