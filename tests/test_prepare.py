"""wsps.prepare: train-id maps, boxes and lists from official Cityscapes annotations."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from tests.conftest import run_script
from wsps.gt.boxes import read_boxes_mat
from wsps.io import read_label_png, read_uint16_png, write_png
from wsps.labels import CLASS_NAMES, instance_ids_to_train_ids


def _copy_annotations(real: Path, root: Path, count: int) -> list[str]:
    source = real / "gtFine/train/aachen"
    ids = sorted({p.name.split("_gtFine_")[0] for p in source.glob("*_gtFine_instanceIds.png")})[:count]
    target = root / "gtFine/train/aachen"
    target.mkdir(parents=True)
    for image_id in ids:
        for kind in ("labelIds", "instanceIds"):
            shutil.copy(source / f"{image_id}_gtFine_{kind}.png", target)
    return ids


def test_prepare_real_images(real, tmp_path):
    root = tmp_path / "cs"
    ids = _copy_annotations(real, root, 3)
    result = run_script(["-m", "wsps.prepare", f"data_root={root}", "split=train"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "lists/train_id.txt").read_text().split() == ids
    for image_id in ids:
        gt = root / "gtFine/train/aachen" / f"{image_id}_gtFine_"
        instance_ids = read_uint16_png(f"{gt}instanceIds.png")
        instance_train_ids = read_uint16_png(f"{gt}instanceTrainIds.png")
        np.testing.assert_array_equal(instance_train_ids, instance_ids_to_train_ids(instance_ids))
        assert read_label_png(f"{gt}labelTrainIds.png").max() == 255
        objects = read_boxes_mat(root / "gtFine_bboxes/train/panoptic" / f"{image_id}_leftImg8bit.mat")
        values = sorted(set(np.unique(instance_train_ids).tolist()) - {255})
        expected_names = [CLASS_NAMES[v // 1000] if v > 1000 else CLASS_NAMES[v] for v in values]
        assert [o.name for o in objects] == expected_names
        for obj, value in zip(objects, values):
            rows, cols = np.nonzero(instance_train_ids == value)
            if obj.is_stuff:
                assert (obj.xmin, obj.ymin, obj.xmax, obj.ymax) == (0, 0, 2047, 1023)
            else:
                assert (obj.xmin, obj.ymin, obj.xmax, obj.ymax) == (cols.min(), rows.min(), cols.max(), rows.max())
                assert obj.is_grp == (value < 1000)
        assert (root / "gtFine_bboxes/train/panoptic" / f"{image_id}_leftImg8bit.json").exists()

    # a second run skips; existing train-id maps are kept unless forced
    gt = root / "gtFine/train/aachen" / f"{ids[0]}_gtFine_labelTrainIds.png"
    write_png(gt, np.zeros((1024, 2048), np.uint8))
    again = run_script(["-m", "wsps.prepare", f"data_root={root}"], cwd=tmp_path)
    assert "3 image(s): 0 written, 3 skipped" in again.stdout + again.stderr
    assert read_label_png(gt).max() == 0
    forced = run_script(["-m", "wsps.prepare", f"data_root={root}", "force_overwrite=true"], cwd=tmp_path)
    assert "3 image(s): 3 written" in forced.stdout + forced.stderr
    assert read_label_png(gt).max() == 255


def test_prepare_thing_only_and_bad_image(real, tmp_path):
    root = tmp_path / "cs"
    ids = _copy_annotations(real, root, 2)
    (root / "gtFine/train/aachen" / f"{ids[1]}_gtFine_instanceIds.png").write_bytes(b"\x89PNG broken")
    result = run_script(
        ["-m", "wsps.prepare", f"data_root={root}", "is_panoptic=false", "incl_grps=false"], cwd=tmp_path
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert "2 image(s): 1 written, 0 skipped (outputs exist), 1 failed" in out
    error = [line for line in out.splitlines() if "ERROR" in line]
    assert len(error) == 1 and ids[1] in error[0] and f"{ids[1]}_gtFine_instanceIds.png" in error[0]
    objects = read_boxes_mat(root / "gtFine_bboxes/train/thing-only" / f"{ids[0]}_leftImg8bit.mat")
    assert objects and not any(o.is_stuff or o.is_grp for o in objects)
    assert not (root / "gtFine_bboxes/train/thing-only" / f"{ids[1]}_leftImg8bit.mat").exists()


def test_prepare_without_annotations(tmp_path):
    result = run_script(["-m", "wsps.prepare", f"data_root={tmp_path}"], cwd=tmp_path)
    assert result.returncode == 2 and "no *_gtFine_instanceIds.png files" in result.stdout + result.stderr
