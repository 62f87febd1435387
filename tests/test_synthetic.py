"""The embedded dataset: layout, label tables, determinism, and the GT tools running on it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from cityscapesscripts.helpers.labels import id2label
from omegaconf import OmegaConf

from tests.conftest import REPO, run_script
from wsps.crops import crop_grid
from wsps.data.cityscapes import gt_path, image_path, read_image
from wsps.data.synthetic import coarse_annotation, drawing_differences, generate, render
from wsps.gt.boxes import read_boxes_mat
from wsps.io import read_id_list, read_label_png, read_uint16_png
from wsps.labels import instance_ids_to_train_ids, label_ids_to_train_ids


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    result = run_script(
        ["-m", "wsps.data.synthetic", f"data_root={root}", "num_train=12", "num_val=4", "num_train_extra=2", "seed=3"],
        cwd=root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def test_layout_and_ids(dataset):
    for split, count in (("train", 12), ("val", 4)):
        ids = read_id_list(dataset / "lists" / f"{split}_id.txt")
        assert len(ids) == count and len(set(ids)) == count
        for image_id in ids:
            assert re.fullmatch(r"[a-z]+_\d{6}_\d{6}", image_id)
            assert read_image(image_path(dataset, split, image_id)).shape == (128, 256, 3)
            for kind in ("labelIds", "instanceIds", "labelTrainIds", "instanceTrainIds"):
                assert gt_path(dataset, split, image_id, kind).exists()
    train_cities = {i.split("_")[0] for i in read_id_list(dataset / "lists/train_id.txt")}
    val_cities = {i.split("_")[0] for i in read_id_list(dataset / "lists/val_id.txt")}
    assert len(train_cities) > 1 and not train_cities & val_cities


def test_labels_follow_cityscapesscripts_and_agree_with_instances(dataset):
    classes_seen, groups, instances = set(), 0, 0
    for image_id in read_id_list(dataset / "lists/train_id.txt"):
        label_ids = read_label_png(gt_path(dataset, "train", image_id, "labelIds"))
        instance_ids = read_uint16_png(gt_path(dataset, "train", image_id, "instanceIds"))
        assert set(np.unique(label_ids).tolist()) <= set(id2label)
        # semantics and instances agree: an instance id's label is its value // 1000
        np.testing.assert_array_equal(np.where(instance_ids >= 1000, instance_ids // 1000, instance_ids), label_ids)
        for value in np.unique(instance_ids[instance_ids >= 1000]):
            assert id2label[int(value) // 1000].hasInstances
        np.testing.assert_array_equal(
            read_label_png(gt_path(dataset, "train", image_id, "labelTrainIds")), label_ids_to_train_ids(label_ids)
        )
        np.testing.assert_array_equal(
            read_uint16_png(gt_path(dataset, "train", image_id, "instanceTrainIds")),
            instance_ids_to_train_ids(instance_ids),
        )
        classes_seen |= {id2label[int(v)].name for v in np.unique(label_ids)}
        groups += int(np.isin(instance_ids, [24, 25, 26]).any())
        instances += len(np.unique(instance_ids[instance_ids >= 1000]))
    assert {
        "road",
        "sidewalk",
        "building",
        "vegetation",
        "sky",
        "pole",
        "traffic sign",
        "person",
        "car",
    } <= classes_seen
    assert instances >= 3 * 12 and groups >= 1


def test_deterministic_by_seed():
    a, b, c = render(64, 128, 7), render(64, 128, 7), render(64, 128, 8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_object_scale_enlarges_the_things_and_keeps_the_background():
    for seed in (0, 3):
        small, large = render(128, 256, seed), render(128, 256, seed, object_scale=1.5)
        labels = [label_ids_to_train_ids(x[1]) for x in (small, large)]
        things = [(lab >= 11) & (lab != 255) for lab in labels]
        assert 1.6 < things[1].sum() / things[0].sum() < 2.5  # areas grow about 1.5^2, less what the edges clip
        elsewhere = ~things[0] & ~things[1]
        np.testing.assert_array_equal(labels[0][elsewhere], labels[1][elsewhere])
        ids = [set(np.unique(x[2][x[2] >= 1000]).tolist()) for x in (small, large)]
        assert len(ids[0]) == len(ids[1]) >= 4  # the same objects, larger


def test_generated_data_records_how_it_was_drawn(tmp_path):
    generate(tmp_path / "a", 1, 1, 64, 128, seed=5, object_scale=1.5)
    drawn = {"height": 64, "width": 128, "object_scale": 1.5, "seed": 5}
    assert drawing_differences(tmp_path / "a", OmegaConf.create(drawn)) == []
    assert drawing_differences(tmp_path / "a", OmegaConf.create({**drawn, "object_scale": 1.0})) == [
        "object_scale=1.5 (config: 1.0)"
    ]
    assert drawing_differences(tmp_path / "b", OmegaConf.create(drawn)) is None


def test_generate_is_reproducible(tmp_path):
    generate(tmp_path / "a", 2, 1, 64, 128, seed=5)
    generate(tmp_path / "b", 2, 1, 64, 128, seed=5)
    for path in (tmp_path / "a").rglob("*.png"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


def test_tags_vary_across_crops(dataset):
    crops = crop_grid((128, 256), (50, 63))
    image_id = read_id_list(dataset / "lists/train_id.txt")[0]
    label = read_label_png(gt_path(dataset, "train", image_id, "labelTrainIds"))
    tag_sets = {tuple(sorted(set(np.unique(label[c]).tolist()) - {255})) for c in crops}
    assert len(tag_sets) >= 5
    top, bottom = crops[0], crops[2]  # the first column's top and bottom crops
    assert 10 in np.unique(label[top]) and 10 not in np.unique(label[bottom])  # sky above, not below


def test_prepare_and_generate_gt_run_unchanged(dataset, tmp_path):
    prep = run_script(["-m", "wsps.prepare", f"data_root={dataset}", "dataset=synthetic"], cwd=tmp_path)
    assert prep.returncode == 0, prep.stdout + prep.stderr
    ids = read_id_list(dataset / "lists/train_id.txt")
    boxes = read_boxes_mat(dataset / "gtFine_bboxes/train/panoptic" / f"{ids[0]}_leftImg8bit.mat")
    assert any(b.is_stuff for b in boxes) and any(not b.is_stuff for b in boxes)
    # the true labels as "predictions": with the fill and the merge off, cleaning keeps them
    (tmp_path / "labels").mkdir()
    for image_id in ids:
        city = image_id.split("_")[0]
        (tmp_path / "labels" / f"{image_id}_leftImg8bit.png").symlink_to(
            dataset / "gtFine/train" / city / f"{image_id}_gtFine_labelTrainIds.png"
        )
    result = run_script(
        [
            str(REPO / "generate_gt.py"),
            "dataset=synthetic",
            f"data_root={dataset}",
            f"pred_root={tmp_path}",
            "preset=first_round",
            "pred_dir=labels",
            "run_check_low_iou=false",
            "run_merge_with_mcg_and_grabcut=false",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 image(s): 12 written" in result.stdout + result.stderr
    for image_id in ids:
        truth = read_label_png(tmp_path / "labels" / f"{image_id}_leftImg8bit.png")
        sem = read_label_png(tmp_path / "pred_sem_cam_mandg_merged" / f"{image_id}_leftImg8bit.png")
        np.testing.assert_array_equal(sem, truth)
        ins = read_label_png(tmp_path / "pred_ins_cam_mandg_merged" / f"{image_id}_leftImg8bit.png")
        objects = read_boxes_mat(dataset / "gtFine_bboxes/train/panoptic" / f"{image_id}_leftImg8bit.mat")
        assert ins[ins != 255].max() <= sum(not o.is_grp for o in objects)
        assert (ins > 0).sum() > 0.5 * (truth != 255).sum()


def test_coarse_annotation_trades_recall_for_precision():
    """train_extra's gtCoarse: every labelled pixel has its fine label; margins along boundaries
    and left-out regions are unlabelled (0); instances keep their ids where drawn."""
    recall, left_out = [], 0
    for seed in range(12):
        rgb, label_ids, instance_ids = render(128, 256, seed)
        coarse, coarse_instances = coarse_annotation(label_ids, instance_ids, np.random.default_rng(seed))
        drawn = coarse > 0
        np.testing.assert_array_equal(coarse[drawn], label_ids[drawn])
        np.testing.assert_array_equal(coarse_instances[drawn], instance_ids[drawn])
        assert not coarse_instances[~drawn].any()
        # a pixel whose 3x3 neighbourhood holds two fine regions is a boundary: never drawn
        padded = np.pad(instance_ids.astype(np.int64), 1, mode="edge")
        window = np.stack([padded[r : r + 128, c : c + 256] for r in range(3) for c in range(3)])
        boundary = (window != instance_ids[None]).any(axis=0)
        assert not drawn[boundary].any()
        recall.append(drawn.mean())
        left_out += len(set(np.unique(instance_ids)) - set(np.unique(coarse_instances)))
    assert 0.5 < np.mean(recall) < 0.9 and left_out > 12  # rough, and some objects not annotated at all


def test_train_extra_split_is_coarse_and_leaves_the_other_splits_unchanged(tmp_path):
    generate(tmp_path / "a", 2, 1, 64, 128, seed=5)
    generate(tmp_path / "b", 2, 1, 64, 128, seed=5, num_train_extra=3)
    for path in (tmp_path / "a").rglob("*.png"):  # train and val do not depend on train_extra's size
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
    ids = read_id_list(tmp_path / "b/lists/train_extra_id.txt")
    assert len(ids) == 3 and not {i.split("_")[0] for i in ids} & {"avalon", "brookfield", "eastwick"}
    for image_id in ids:
        assert read_image(image_path(tmp_path / "b", "train_extra", image_id)).shape == (64, 128, 3)
        assert not gt_path(tmp_path / "b", "train_extra", image_id, "labelIds").exists()  # no fine labels
        coarse = read_label_png(gt_path(tmp_path / "b", "train_extra", image_id, "labelTrainIds", "gtCoarse"))
        assert coarse.shape == (64, 128) and 0 < np.mean(coarse == 255) < 1
