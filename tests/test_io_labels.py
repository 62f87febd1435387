"""File I/O at the edges and the Cityscapes label tables."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from cityscapesscripts.helpers.labels import labels as cs_labels
from PIL import Image

from tests.conftest import SAMPLE_ID
from wsps.io import (
    InputError,
    atomic_path,
    read_id_list,
    read_label_png,
    read_score_mat,
    read_uint16_png,
    write_label_png,
    write_png,
)
from wsps.labels import (
    CLASS_NAMES,
    PALETTE,
    STUFF_CLASSES,
    THING_CLASSES,
    instance_ids_to_train_ids,
    label_ids_to_train_ids,
)


def test_class_lists_follow_cityscapesscripts():
    names = {lb.trainId: lb.name for lb in cs_labels if 0 <= lb.trainId < 255}
    assert CLASS_NAMES == tuple(names[k] for k in range(19))
    assert STUFF_CLASSES == tuple(range(11)) and THING_CLASSES == tuple(range(11, 19))


def test_palette_equals_reference_outputs(sample):
    image = Image.open(sample / "reference/pred_sem_clean" / f"{SAMPLE_ID}_leftImg8bit.png")
    np.testing.assert_array_equal(np.array(image.getpalette()).reshape(-1, 3), PALETTE)
    assert PALETTE[13].tolist() == [0, 0, 142] and PALETTE[255].tolist() == [0, 0, 0]


def test_label_id_conversion():
    label_ids = np.array([[7, 8, 26, 0, 29, 33]], np.uint8)  # road, sidewalk, car, unlabeled, caravan, bicycle
    np.testing.assert_array_equal(label_ids_to_train_ids(label_ids), [[0, 1, 13, 255, 255, 18]])
    instance_ids = np.array([[7, 26, 26002, 24000, 29001, 33]], np.uint16)
    np.testing.assert_array_equal(
        instance_ids_to_train_ids(instance_ids), [[0, 13, 13002, 11000, 255, 18]]
    )  # a bare thing id is a group; an instance of an ignored class is ignore


def test_conversion_agrees_with_authors_maps(sample):
    gt = sample / "data/Cityscapes/gtFine/train/aachen" / f"{SAMPLE_ID}_gtFine_"
    ours = label_ids_to_train_ids(read_label_png(f"{gt}labelIds.png"))
    theirs = read_label_png(f"{gt}labelTrainIds.png")
    assert (ours != theirs).mean() < 0.006  # the authors' maps differ at object edges only
    ours = instance_ids_to_train_ids(read_uint16_png(f"{gt}instanceIds.png"))
    theirs = read_uint16_png(f"{gt}instanceTrainIds.png")
    assert (ours != theirs).mean() < 0.006
    assert set(np.unique(ours)) == set(np.unique(theirs))


def test_palette_png_keeps_indices(tmp_path):
    label = np.array([[0, 1, 2, 10, 13, 255]], np.uint8)  # the indices Pillow 13 destroys without a palette
    write_label_png(tmp_path / "l.png", label)
    assert Image.open(tmp_path / "l.png").mode == "P"
    np.testing.assert_array_equal(read_label_png(tmp_path / "l.png"), label)
    write_png(tmp_path / "i.png", np.array([[0, 13002, 65535]], np.uint16))
    np.testing.assert_array_equal(read_uint16_png(tmp_path / "i.png"), [[0, 13002, 65535]])


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.png") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    write_label_png(tmp_path / "out.png", np.zeros((2, 2), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_png_read_errors(tmp_path):
    write_label_png(tmp_path / "good.png", np.zeros((64, 64), np.uint8) + np.arange(64, dtype=np.uint8))
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG" + b"\x00" * 50)
    Image.new("RGB", (4, 4)).save(tmp_path / "rgb.png")
    cases = {
        "missing.png": "file not found",
        "truncated.png": "truncated",
        "corrupt.png": "not a readable image",
        "rgb.png": "got mode RGB",
    }
    for name, problem in cases.items():
        with pytest.raises(InputError, match=problem) as info:
            read_label_png(tmp_path / name)
        assert info.value.path == str(tmp_path / name)


def test_score_mat_first_variable_any_name(tmp_path):
    scipy.io.savemat(tmp_path / "s.mat", {"probabilities": np.full((2, 3), 0.5, np.float32)})
    scores = read_score_mat(tmp_path / "s.mat")
    assert scores.dtype == np.float32 and scores.shape == (2, 3)


def test_score_mat_errors(tmp_path):
    scipy.io.savemat(tmp_path / "cube.mat", {"feat": np.zeros((2, 2, 2), np.float32)})
    scipy.io.savemat(tmp_path / "empty.mat", {})
    good = tmp_path / "good.mat"
    scipy.io.savemat(good, {"feat": np.random.default_rng(0).random((64, 64), np.float32)}, do_compression=True)
    (tmp_path / "truncated.mat").write_bytes(good.read_bytes()[:600])
    cases = {
        "missing.mat": "file not found",
        "cube.mat": "not a 2-D numeric score map",
        "empty.mat": "holds no variable",
        "truncated.mat": "truncated or corrupt",
    }
    for name, problem in cases.items():
        with pytest.raises(InputError, match=problem):
            read_score_mat(tmp_path / name)


def test_id_list_tolerates_crlf_bom_and_blank_lines(tmp_path):
    (tmp_path / "ids.txt").write_bytes(b"\xef\xbb\xbfa_000000_000001\r\n\r\n  b_000000_000002  \r\n\n")
    assert read_id_list(tmp_path / "ids.txt") == ["a_000000_000001", "b_000000_000002"]


@pytest.mark.parametrize("content, problem", [("\n\r\n  \n", "the id list is empty"), ("a b\n", "not an image id")])
def test_id_list_errors(tmp_path, content, problem):
    (tmp_path / "ids.txt").write_text(content)
    with pytest.raises(InputError, match=problem):
        read_id_list(tmp_path / "ids.txt")
    with pytest.raises(InputError, match="id list not found"):
        read_id_list(tmp_path / "none.txt")
