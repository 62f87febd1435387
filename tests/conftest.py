"""Shared fixtures: the repository root, the shared sample data (skipped when absent), boxes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wsps.gt.boxes import Box

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WSPS_SHARED", REPO.parent / "shared"))
SAMPLE = SHARED / "data" / "wsps_sample"
REAL = SHARED / "data" / "cityscapes_real"
SAMPLE_ID = "aachen_000000_000019"
# The loop at the test scale: two rounds of one or two epochs, no example images, CSV logs.
SMALL = [
    "loop.max_rounds=2",
    'loop.steps.classifier=["trainer.max_epochs=1"]',
    'loop.steps.segmenter=["trainer.max_epochs=1"]',
    "loop.rounds.1.segmenter=[]",
    'loop.rounds.2.segmenter=["trainer.max_epochs=2"]',
    "loop.log_images=0",
    "logger=csv",
]


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set WSPS_SHARED to the folder holding data/)")
    return path


@pytest.fixture
def sample() -> Path:
    """The reference release's sample (../shared/data/wsps_sample)."""
    return _require(SAMPLE)


@pytest.fixture
def real() -> Path:
    """Five real Cityscapes images (../shared/data/cityscapes_real)."""
    return _require(REAL)


def box(class_id, xmin, ymin, xmax, ymax, is_grp=False, is_stuff=False) -> Box:
    """A loaded box with its reference area."""
    return Box(class_id, xmin, ymin, xmax, ymax, (xmax - xmin + 1) * (ymax - ymin + 1), is_grp, is_stuff)


def run_script(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a repository script or module in a subprocess, as a user would."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def make_gt_dataset(root: Path, ids: list[str], height: int = 48, width: int = 96, seed: int = 0) -> dict:
    """A tiny dataset in the release's layout: predictions, scores, tags, M&G cue and boxes.

    Returns the generate_gt overrides that point at it (crop grid 20x40 on the small canvas).
    """
    import numpy as np
    import scipy.io

    from wsps.gt.boxes import BoxObject, write_boxes_mat
    from wsps.io import write_label_png

    rng = np.random.default_rng(seed)
    data_root, pred_root = root / "data", root / "results"
    for image_id in ids:
        gt = np.zeros((height, width), np.uint8)
        gt[: height // 3] = 10  # sky
        gt[height // 3 : 2 * height // 3] = 2  # building
        gt[2 * height // 3 :] = 0  # road
        gt[20:40, 10:30] = 13  # a car
        gt[10:45, 60:70] = 11  # a person
        pred = gt.copy()
        noise = rng.random((height, width)) < 0.1
        pred[noise] = rng.choice([0, 2, 8, 10, 13, 11, 12], size=noise.sum())
        mandg = np.zeros((height, width), np.uint8)
        mandg[22:38, 12:28] = 13
        mandg[20:40, 10:30][mandg[20:40, 10:30] == 0] = 255
        mandg[12:43, 61:69] = 11
        city = image_id.split("_")[0]
        write_label_png(pred_root / "pred_sem_raw" / f"{image_id}_leftImg8bit.png", pred)
        write_label_png(pred_root / "cam" / "train" / f"{image_id}_leftImg8bit.png", pred)
        write_label_png(pred_root / "mcg_and_grabcut" / "train" / f"{image_id}_leftImg8bit.png", mandg)
        scores = rng.random((height, width)).astype(np.float32) * 0.2 + 0.8
        (pred_root / "pred_flat_feat").mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(pred_root / "pred_flat_feat" / f"{image_id}_leftImg8bit.mat", {"feat": scores})
        write_label_png(data_root / "gtFine" / "train" / city / f"{image_id}_gtFine_labelTrainIds.png", gt)
        objects = [BoxObject(n, 0, 0, width - 1, height - 1, is_stuff=True) for n in ("road", "building", "sky")]
        objects += [
            BoxObject("car", 10, 20, 29, 39),
            BoxObject("person", 60, 10, 69, 44),
            BoxObject("person", 80, 5, 90, 30),
        ]
        write_boxes_mat(data_root / "gtFine_bboxes" / "train" / "panoptic" / f"{image_id}_leftImg8bit.mat", objects)
    (data_root / "lists").mkdir(parents=True, exist_ok=True)
    (data_root / "lists" / "train_id.txt").write_text("".join(f"{i}\n" for i in ids))
    return {
        "data_root": str(data_root),
        "pred_root": str(pred_root),
        "canvas_size": f"[{height},{width}]",
        "schk_crop_size": "[20,40]",
    }
