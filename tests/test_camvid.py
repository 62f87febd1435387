"""The CamVid converter on real shared images: classes, void, component instances, lists, boxes,
and one clear line per bad file while the rest is converted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, SHARED, SMALL, run_script
from wsps.data.camvid import component_instances
from wsps.data.metadata import dataset_meta
from wsps.gt.boxes import read_boxes_mat
from wsps.io import read_id_list, read_label_png, read_uint16_png, write_png

CAMVID = dataset_meta("camvid")
SOURCE = SHARED / "data" / "camvid"


def _subset(src: Path, **counts: int) -> Path:
    """The first images of each split of the shared CamVid, with their annotations, in its layout."""
    for split, count in counts.items():
        (src / split).mkdir(parents=True)
        (src / f"{split}annot").mkdir()
        for path in sorted((SOURCE / split).glob("*.png"))[:count]:
            shutil.copy(path, src / split)
            shutil.copy(SOURCE / f"{split}annot" / path.name, src / f"{split}annot")
    return src


@pytest.fixture
def camvid_src(tmp_path) -> Path:
    """Three training and two validation images of the shared CamVid, in its own layout."""
    if not SOURCE.exists():
        pytest.skip(f"CamVid not found at {SOURCE} (set WSPS_SHARED to the folder holding data/)")
    return _subset(tmp_path / "src", train=3, val=2)


def test_component_instances_number_each_region_of_a_thing_class():
    label = np.full((6, 8), 3, np.uint8)
    label[0:2, 0:2] = 8  # a car
    label[4:6, 6:8] = 8  # another car
    label[1, 5] = 9  # a pedestrian of one pixel: below the area, a crowd region
    label[3, 3] = 255
    inst = component_instances(label, (8, 9, 10), min_area=2)
    assert sorted(np.unique(inst).tolist()) == [3, 9, 255, 8001, 8002]
    assert (inst[0:2, 0:2] == 8001).all() and (inst[4:6, 6:8] == 8002).all() and inst[1, 5] == 9


def test_convert_real_images_then_prepare_boxes(camvid_src, tmp_path):
    root = tmp_path / "root"
    result = run_script(["-m", "wsps.data.camvid", f"src={camvid_src}", f"data_root={root}"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for split, count in (("train", 3), ("val", 2)):
        ids = read_id_list(root / f"lists/{split}_id.txt")
        assert ids == sorted(p.stem for p in (camvid_src / split).glob("*.png")) and len(ids) == count
        for image_id in ids:
            annotation = read_label_png(camvid_src / f"{split}annot" / f"{image_id}.png")
            label = read_label_png(CAMVID.gt_path(root, split, image_id, "labelTrainIds"))
            np.testing.assert_array_equal(
                label, np.where(annotation == 11, 255, annotation)
            )  # void -> 255, classes kept
            image = cv2.imread(str(CAMVID.image_path(root, split, image_id)))
            np.testing.assert_array_equal(image, cv2.imread(str(camvid_src / split / f"{image_id}.png")))
            inst = read_uint16_png(CAMVID.gt_path(root, split, image_id, "instanceTrainIds"))
            np.testing.assert_array_equal(np.where(inst >= 1000, inst // 1000, inst), label)
            for c in CAMVID.thing_classes:  # every region of 20+ pixels is one instance, each connected
                count, _, stats, _ = cv2.connectedComponentsWithStats((label == c).astype(np.uint8), connectivity=8)
                values = [v for v in np.unique(inst[label == c]) if v >= 1000]
                assert len(values) == int((stats[1:, cv2.CC_STAT_AREA] >= 20).sum())
                for v in values:
                    assert cv2.connectedComponents((inst == v).astype(np.uint8), connectivity=8)[0] == 2
    prep = run_script(["-m", "wsps.prepare", "dataset=camvid", f"data_root={root}", "split=train"], cwd=tmp_path)
    assert prep.returncode == 0, prep.stdout + prep.stderr
    for image_id in read_id_list(root / "lists/train_id.txt"):
        objects = read_boxes_mat(root / "gtFine_bboxes/train/panoptic" / f"{image_id}_leftImg8bit.mat")
        inst = read_uint16_png(CAMVID.gt_path(root, "train", image_id, "instanceTrainIds"))
        assert sum(not (o.is_stuff or o.is_grp) for o in objects) == len([v for v in np.unique(inst) if v >= 1000])
        assert {o.name for o in objects} <= set(CAMVID.class_names)


def test_bad_files_get_one_line_each_and_the_rest_is_converted(camvid_src, tmp_path):
    names = sorted(p.name for p in (camvid_src / "train").glob("*.png"))
    (camvid_src / "trainannot" / names[0]).unlink()  # missing annotation
    small = read_label_png(camvid_src / "trainannot" / names[1])[:100]
    write_png(camvid_src / "trainannot" / names[1], small)  # size mismatch
    bad = read_label_png(camvid_src / "valannot" / sorted(p.name for p in (camvid_src / "val").glob("*.png"))[0])
    bad[0, 0] = 12
    val_bad = sorted(p.name for p in (camvid_src / "val").glob("*.png"))[0]
    write_png(camvid_src / "valannot" / val_bad, bad)  # a value outside 0..11
    root = tmp_path / "root"
    result = run_script(["-m", "wsps.data.camvid", f"src={camvid_src}", f"data_root={root}"], cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in out
    assert f"{camvid_src / 'trainannot' / names[0]}: annotation not found" in out
    assert f"{camvid_src / 'trainannot' / names[1]}: labels are 100x480 but the image is 360x480" in out
    assert f"{camvid_src / 'valannot' / val_bad}: label values [12] are outside CamVid's 0..11" in out
    assert read_id_list(root / "lists/train_id.txt") == [Path(names[2]).stem]
    assert len(read_id_list(root / "lists/val_id.txt")) == 1
    assert "3 failed" in out


@pytest.mark.slow
def test_the_whole_method_runs_on_two_camvid_images(tmp_path):
    """The weak loop with `dataset=camvid` at the test scale: CamVid's own classes throughout."""
    if not SOURCE.exists():
        pytest.skip(f"CamVid not found at {SOURCE} (set WSPS_SHARED to the folder holding data/)")
    src = _subset(tmp_path / "src", train=2, val=1)
    root, run_dir = tmp_path / "root", tmp_path / "run"
    assert run_script(["-m", "wsps.data.camvid", f"src={src}", f"data_root={root}"], cwd=tmp_path).returncode == 0
    result = run_script(
        [str(REPO / "train.py"), "dataset=camvid", f"data_root={root}", f"hydra.run.dir={run_dir}", *SMALL],
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert len(results["rounds"]) == 2
    for row in results["rounds"]:
        assert set(row["iou"]["model"]) <= set(CAMVID.class_names) and "sky" in row["iou"]["pseudo_gt"]
    ids = read_id_list(root / "lists/train_id.txt")
    for image_id in ids:
        truth = read_label_png(CAMVID.gt_path(root, "train", image_id, "labelTrainIds"))
        tags = set(np.unique(truth).tolist()) - {255}
        cam = read_label_png(run_dir / f"cues/cam/train/{image_id}_leftImg8bit.png")
        assert cam.shape == (360, 480) and set(np.unique(cam).tolist()) - {255} <= tags  # the image's own tags
        for k in (1, 2):
            sem = read_label_png(run_dir / f"round_{k}/pseudo_gt/sem/{image_id}_leftImg8bit.png")
            assert sem.shape == (360, 480) and set(np.unique(sem).tolist()) <= set(range(11)) | {255}
    first = read_label_png(run_dir / f"round_1/pseudo_gt/sem/{ids[0]}_leftImg8bit.png")
    assert np.isin(first, CAMVID.thing_classes).any()  # things from the M&G cue in CamVid's boxes
