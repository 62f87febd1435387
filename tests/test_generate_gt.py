"""generate_gt end to end: parity with the reference release, the CLI, bad inputs, resume, scale-out."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, SAMPLE_ID, make_gt_dataset, run_script
from tests.test_config import _compose
from wsps.gt.boxes import BoxObject, write_boxes_mat
from wsps.gt.job import run
from wsps.gt.options import GTOptions
from wsps.io import read_label_png, write_label_png
from wsps.runner import shard

PRESETS = {  # preset -> reference output folders
    "later_rounds": ("pred_sem_clean", "pred_ins_clean"),
    "first_round": ("pred_sem_cam_mandg_merged", "pred_ins_cam_mandg_merged"),
}


def _sample_overrides(sample: Path, out: Path, boxes_dir: Path) -> list[str]:
    return [
        f"data_root={sample}/data/Cityscapes",
        f"pred_root={sample}/results",
        "list_path=lists/demo_id.txt",
        f"annotation_dir={boxes_dir}",
        f"sem_save_dir={out}/sem",
        f"ins_save_dir={out}/ins",
    ]


@pytest.mark.parametrize("preset", PRESETS)
def test_parity_with_reference(sample, tmp_path, preset):
    boxes_dir = sample / "reference/gtFine_bboxes/train/panoptic"
    opts = GTOptions.from_mapping(
        _compose(overrides=[f"preset={preset}", *_sample_overrides(sample, tmp_path, boxes_dir)])
    )
    summary = run(opts)
    assert summary.counts["done"] == 1 and summary.failed == 0
    for ours, theirs in zip(("sem", "ins"), PRESETS[preset]):
        got = read_label_png(tmp_path / ours / f"{SAMPLE_ID}_leftImg8bit.png")
        want = read_label_png(sample / "reference" / theirs / f"{SAMPLE_ID}_leftImg8bit.png")
        assert got.shape == (1024, 2048)
        np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) == 22  # 21 ids + ignore: the comparison is not trivially empty


def test_cli_first_round_from_prepared_boxes(sample, tmp_path):
    """The user's path: wsps.prepare writes the boxes, then the CLI reproduces the reference."""
    boxes_dir = tmp_path / "boxes/train/panoptic"
    prep = run_script(
        [
            "-m",
            "wsps.prepare",
            f"data_root={sample}/data/Cityscapes",
            "list_path=lists/demo_id.txt",
            f"annotation_dir={boxes_dir}",
        ],
        cwd=tmp_path,
    )
    assert prep.returncode == 0, prep.stderr
    reference = sample / "reference/gtFine_bboxes/train/panoptic" / f"{SAMPLE_ID}_leftImg8bit.mat"
    from wsps.gt.boxes import read_boxes_mat

    assert read_boxes_mat(boxes_dir / f"{SAMPLE_ID}_leftImg8bit.mat") == read_boxes_mat(reference)

    result = run_script(
        [
            "generate_gt.py",
            "preset=first_round",
            "visualise_results=true",
            "vis_save_dir=" + str(tmp_path / "vis"),
            *_sample_overrides(sample, tmp_path, boxes_dir),
            f"hydra.run.dir={tmp_path}/run",
        ],
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 image(s): 1 written, 0 skipped (outputs exist), 0 failed" in result.stdout + result.stderr
    for ours, theirs in zip(("sem", "ins"), PRESETS["first_round"]):
        got = read_label_png(tmp_path / ours / f"{SAMPLE_ID}_leftImg8bit.png")
        np.testing.assert_array_equal(
            got, read_label_png(sample / "reference" / theirs / f"{SAMPLE_ID}_leftImg8bit.png")
        )
    from PIL import Image

    assert Image.open(tmp_path / "vis" / f"{SAMPLE_ID}_leftImg8bit.png").size == (2048, 1024)


def _run_cli(tmp_path, overrides, *extra):
    args = ["generate_gt.py", *(f"{k}={v}" for k, v in overrides.items()), f"hydra.run.dir={tmp_path}/run", *extra]
    result = run_script(args, cwd=REPO)
    return result.returncode, result.stdout + result.stderr


def test_bad_inputs_are_reported_and_the_rest_is_processed(tmp_path):
    ids = [f"city_00000{k}_000019" for k in range(7)]
    overrides = make_gt_dataset(tmp_path, ids)
    data, results = Path(overrides["data_root"]), Path(overrides["pred_root"])
    bad = {
        ids[1]: results / "pred_sem_raw" / f"{ids[1]}_leftImg8bit.png",
        ids[2]: results / "pred_flat_feat" / f"{ids[2]}_leftImg8bit.mat",
        ids[3]: results / "mcg_and_grabcut/train" / f"{ids[3]}_leftImg8bit.png",
        ids[4]: data / "gtFine_bboxes/train/panoptic" / f"{ids[4]}_leftImg8bit.mat",
        ids[5]: data / "gtFine/train/city" / f"{ids[5]}_gtFine_labelTrainIds.png",
    }
    bad[ids[1]].unlink()  # missing
    bad[ids[2]].write_bytes(bad[ids[2]].read_bytes()[:300])  # truncated
    write_label_png(bad[ids[3]], np.zeros((48, 90), np.uint8))  # size mismatch
    write_boxes_mat(bad[ids[4]], [BoxObject("lorry", 0, 0, 5, 5)])  # unknown class
    bad[ids[5]].write_bytes(b"garbage")  # corrupt
    (data / "lists/train_id.txt").write_bytes("".join(f"{i}\r\n\r\n" for i in ids).encode())  # CRLF + blank lines
    code, out = _run_cli(tmp_path, overrides)
    assert code == 1
    assert "7 image(s): 2 written, 0 skipped (outputs exist), 5 failed" in out
    problems = {
        ids[1]: "file not found",
        ids[2]: "truncated or corrupt",
        ids[3]: "map is 48x90 but canvas_size is 48x96",
        ids[4]: "unknown class 'lorry'",
        ids[5]: "not a readable image",
    }
    for image_id, problem in problems.items():
        lines = [line for line in out.splitlines() if "ERROR" in line and image_id in line]
        assert len(lines) == 1 and str(bad[image_id]) in lines[0] and problem in lines[0], lines
    assert "Traceback" not in out
    written = sorted(p.name for p in (results / "pred_sem_clean").iterdir())
    assert written == [f"{ids[0]}_leftImg8bit.png", f"{ids[6]}_leftImg8bit.png"]  # nothing half-written, no temp files

    # resume: the finished images are skipped before anything is loaded
    code, out = _run_cli(tmp_path, {**overrides, "force_overwrite": "false"})
    assert code == 1 and "7 image(s): 0 written, 2 skipped (outputs exist), 5 failed" in out


def test_empty_list_and_missing_list(tmp_path):
    overrides = make_gt_dataset(tmp_path, ["c_000000_000001"])
    (Path(overrides["data_root"]) / "lists/train_id.txt").write_text("\r\n\n")
    code, out = _run_cli(tmp_path, overrides)
    assert code == 2 and "the id list is empty" in out and "Traceback" not in out
    code, out = _run_cli(tmp_path, {**overrides, "list_path": "lists/nope.txt"})
    assert code == 2 and "lists/nope.txt: id list not found" in out


def test_bad_options_exit_2_with_one_line(tmp_path):
    overrides = make_gt_dataset(tmp_path, ["c_000000_000001"])
    code, out = _run_cli(tmp_path, {**overrides, "schk_crop_size": "[48,40]"})
    assert code == 2 and "schk_crop_size" in out and "single crop along the height" in out and "Traceback" not in out
    code, out = _run_cli(tmp_path, {**overrides}, "split=test")
    assert code == 2 and "test split cannot be post-processed" in out


def test_relative_paths_resolve_against_the_start_directory(tmp_path):
    overrides = make_gt_dataset(tmp_path, ["c_000000_000001"])
    overrides.update(data_root="data", pred_root="results")
    result = run_script([str(REPO / "generate_gt.py"), *(f"{k}={v}" for k, v in overrides.items())], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "results/pred_sem_clean/c_000000_000001_leftImg8bit.png").exists()
    assert list((tmp_path / "outputs/generate_gt").iterdir())  # Hydra's log folder, also under the start directory


def _outputs(folder: Path) -> dict:
    return {p.name: read_label_png(p) for p in sorted(folder.iterdir())}


def test_workers_and_shards_give_the_same_maps(tmp_path):
    ids = [f"c_00000{k}_000001" for k in range(6)]
    overrides = make_gt_dataset(tmp_path, ids)
    base = _compose(overrides=[f"{k}={v}" for k, v in overrides.items()])
    run(GTOptions.from_mapping({**base, "sem_save_dir": "one", "ins_save_dir": "one_ins"}))
    summary = run(GTOptions.from_mapping({**base, "sem_save_dir": "two", "ins_save_dir": "two_ins", "num_workers": 2}))
    assert summary.counts["done"] == 6
    for k in range(3):
        run(
            GTOptions.from_mapping(
                {**base, "sem_save_dir": "shards", "ins_save_dir": "shards_ins", "shard_index": k, "num_shards": 3}
            )
        )
    one = _outputs(Path(overrides["pred_root"]) / "one")
    assert len(one) == 6
    for other in ("two", "shards"):
        got = _outputs(Path(overrides["pred_root"]) / other)
        assert got.keys() == one.keys() and all(np.array_equal(got[k], one[k]) for k in one)
    # the maps are not trivial: every stage left a mark
    sem = one[f"{ids[0]}_leftImg8bit.png"]
    assert {0, 2, 10, 11, 13, 255} <= set(np.unique(sem).tolist())


def test_shards_are_disjoint_and_cover_the_list():
    ids = [str(k) for k in range(10)]
    parts = [shard(ids, k, 3) for k in range(3)]
    assert sorted(sum(parts, [])) == sorted(ids) and sum(len(p) for p in parts) == 10


def test_multirun_over_shards(tmp_path):
    ids = [f"c_00000{k}_000001" for k in range(4)]
    overrides = make_gt_dataset(tmp_path, ids)
    args = [f"{k}={v}" for k, v in overrides.items()]
    result = run_script(
        [str(REPO / "generate_gt.py"), "-m", *args, "num_shards=2", "shard_index=0,1", "hydra/launcher=joblib"],
        cwd=tmp_path,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert len(re.findall(r"2 image\(s\): 2 written", out)) == 2
    assert len(list((Path(overrides["pred_root"]) / "pred_sem_clean").iterdir())) == 4


def test_instance_overflow_fails_that_image_only(tmp_path):
    ids = ["c_000000_000001", "c_000001_000001"]
    overrides = make_gt_dataset(tmp_path, ids)
    many = [BoxObject("car", k % 96, 0, k % 96, 40 + k // 96) for k in range(300)]  # 300 distinct boxes
    write_boxes_mat(Path(overrides["data_root"]) / "gtFine_bboxes/train/panoptic" / f"{ids[0]}_leftImg8bit.mat", many)
    code, out = _run_cli(tmp_path, overrides)
    assert code == 1 and "exceed the 254 ids of an 8-bit instance map" in out
    assert "2 image(s): 1 written, 0 skipped (outputs exist), 1 failed" in out
