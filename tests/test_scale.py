"""The Cityscapes path at its native 1024x2048 on the five real images, every tool as a user runs
it: prepare, cues, a classifier step and its CAM labels, generate_gt's first round, a segmenter
step on that pseudo-GT with its prediction, and wsps.eval. Shapes, value ranges and file formats.
Slow (minutes on 2 cores): `python -m pytest -m slow`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench_scale import real_root
from tests.conftest import REAL, REPO, run_script
from wsps.data.metadata import dataset_meta
from wsps.io import read_id_list, read_label_png, read_score_mat, read_uint16_png

pytestmark = pytest.mark.slow
CITYSCAPES = dataset_meta("cityscapes")
SHAPE = (1024, 2048)
# The Cityscapes experiments on this CPU: no download, a small encoder, one short epoch.
CPU = [
    "trainer=cpu",
    "model.net.encoder_weights=null",
    "model.net.encoder_name=resnet18",
    "trainer.max_epochs=1",
    "data.num_workers=0",
    "logger=csv",
]


def _ok(result) -> str:
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    return out


def test_the_cityscapes_path_at_full_resolution_on_real_images(tmp_path):
    if not REAL.exists():
        pytest.skip(f"shared data not found at {REAL} (set WSPS_SHARED to the folder holding data/)")
    root, results = real_root(tmp_path), tmp_path / "results"
    ids = read_id_list(root / "lists/train_id.txt")
    common = ["dataset=cityscapes", f"data_root={root}"]
    for split in ("train", "val"):
        _ok(run_script(["-m", "wsps.prepare", *common, f"split={split}"], cwd=tmp_path))
    for image_id in ids:
        label = read_label_png(CITYSCAPES.gt_path(root, "train", image_id, "labelTrainIds"))
        instances = read_uint16_png(CITYSCAPES.gt_path(root, "train", image_id, "instanceTrainIds"))
        assert label.shape == instances.shape == SHAPE and set(np.unique(label)) <= set(range(19)) | {255}
        assert (root / f"gtFine_bboxes/train/panoptic/{image_id}_leftImg8bit.mat").exists()

    _ok(run_script(["-m", "wsps.cues", *common, f"pred_root={results}", "num_workers=2"], cwd=tmp_path))
    for image_id in ids:
        mandg = read_label_png(results / f"mcg_and_grabcut/train/{image_id}_leftImg8bit.png")
        assert mandg.shape == SHAPE and set(np.unique(mandg)) <= {0, 255, *CITYSCAPES.thing_classes}
        assert np.isin(mandg, CITYSCAPES.thing_classes).any()  # every image has a car or a person

    classifier = [str(REPO / "train.py"), "stage=classifier", "experiment=cityscapes_classifier", *common, *CPU]
    _ok(
        run_script(
            [
                *classifier,
                "data.batch_size=1",
                "model.cam_threshold=0.2",
                f"pred_root={results}",
                f"hydra.run.dir={tmp_path}/classifier",
            ],
            cwd=tmp_path,
            timeout=1200,
        )
    )
    for image_id in ids:
        cam = read_label_png(results / f"cam/train/{image_id}_leftImg8bit.png")
        truth = read_label_png(CITYSCAPES.gt_path(root, "train", image_id, "labelTrainIds"))
        assert cam.shape == SHAPE and set(np.unique(cam)) - {255} <= set(np.unique(truth)) - {255}

    out = _ok(
        run_script([str(REPO / "generate_gt.py"), *common, "preset=first_round", f"pred_root={results}"], tmp_path)
    )
    assert f"{len(ids)} image(s): {len(ids)} written" in out
    for image_id in ids:
        sem = read_label_png(results / f"pred_sem_cam_mandg_merged/{image_id}_leftImg8bit.png")
        ins = read_label_png(results / f"pred_ins_cam_mandg_merged/{image_id}_leftImg8bit.png")
        assert sem.shape == ins.shape == SHAPE and set(np.unique(sem)) <= set(range(19)) | {255}
        assert ins.max() > 0  # instance ids per box

    predictions = tmp_path / "pred"
    segmenter = [str(REPO / "train.py"), "stage=segmenter", "experiment=cityscapes_segmenter", *common, *CPU]
    labels = [f"labels={results}", "sem_save_dir=pred_sem_cam_mandg_merged", "ins_save_dir=pred_ins_cam_mandg_merged"]
    run = [*labels, "data.batch_size=2", "data.val_batch_size=1", f"pred_root={predictions}"]
    _ok(run_script([*segmenter, *run, f"hydra.run.dir={tmp_path}/segmenter"], cwd=tmp_path, timeout=1200))
    for image_id in ids:
        sem = read_label_png(predictions / f"pred_sem_raw/{image_id}_leftImg8bit.png")
        score = read_score_mat(predictions / f"pred_flat_feat/{image_id}_leftImg8bit.mat")
        assert sem.shape == score.shape == SHAPE and score.dtype == np.float32
        assert 1 / 19 - 1e-6 <= score.min() and score.max() <= 1 and sem.max() < 19
        assert (predictions / f"panoptic/{image_id}_panoptic.png").exists()
    metrics = (tmp_path / "segmenter/csv").rglob("metrics.csv")
    assert any("val/PQ" in path.read_text() for path in metrics)

    out = _ok(
        run_script(
            ["-m", "wsps.eval", *common, f"labels={results}", *labels[1:], f"work_dir={tmp_path}/eval"], cwd=tmp_path
        )
    )
    scores = json.loads(out.split(f"{len(ids)} images of train: ")[1].splitlines()[0])
    assert 0 < scores["mIoU"] < 1 and 0 <= scores["PQ"] <= 1 and "IoU/car" in scores


def test_real_root_links_the_shared_images(tmp_path):
    """The benchmark's and this test's data: links into ../shared, never copies."""
    if not REAL.exists():
        pytest.skip(f"shared data not found at {REAL}")
    root = real_root(tmp_path)
    for path in (root / "leftImg8bit").rglob("*.png"):
        assert path.is_symlink() and Path(path.resolve()).is_relative_to(REAL.resolve())
    assert read_id_list(root / "lists/val_id.txt") == read_id_list(root / "lists/train_id.txt")
