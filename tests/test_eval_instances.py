"""The PQ breakdown and oracles of wsps.eval.instances (behind benchmarks/bench_instances.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsps.data.metadata import dataset_meta
from wsps.data.synthetic import generate
from wsps.eval.panoptic import evaluate_panoptic, panoptic_gt, write_panoptic
from wsps.instances import breakdown, match_things, true_centres, true_grouping, true_semantics
from wsps.io import read_id_list, read_label_png, read_uint16_png, write_png

THINGS = (11, 13)  # person, car
I = 255


def _scene():
    """Road with two cars (ids 1, 2) and a person (id 3); a void band at the top."""
    sem = np.zeros((20, 30), np.uint8)
    inst = np.zeros((20, 30), np.int32)
    sem[:2] = I
    sem[5:10, 2:10], inst[5:10, 2:10] = 13, 1  # car, 40 px
    sem[5:10, 12:20], inst[5:10, 12:20] = 13, 2  # car, 40 px
    sem[12:18, 24:27], inst[12:18, 24:27] = 11, 3  # person, 18 px
    return sem, inst


def test_matching_counts_pq_as_its_definition():
    sem, inst = _scene()
    p_sem, p_inst = sem.copy(), np.zeros_like(inst)
    p_inst[5:10, 2:10] = 7  # the first car exactly
    p_inst[5:10, 12:16] = 8  # the second car split in two halves: no half has IoU > 0.5
    p_inst[5:10, 16:20] = 9
    p_sem[12:18, 24:27] = 0  # the person missed
    p_sem[0:2, 0:6], p_inst[0:2, 0:6] = 13, 10  # a car on void pixels: no false positive
    p_sem[14:16, 2:5], p_inst[14:16, 2:5] = 11, 11  # a person on road: a false positive
    records = match_things(p_sem, p_inst, sem, inst, THINGS)
    kinds = sorted((r["kind"], r["class"], r["area"], round(r["iou"], 3)) for r in records)
    assert kinds == [
        ("fn", 11, 18, 0.0),
        ("fn", 13, 40, 0.0),
        ("fp", 11, 6, 0.0),
        ("fp", 13, 20, 0.0),
        ("fp", 13, 20, 0.0),
        ("tp", 13, 40, 1.0),
    ]
    table = breakdown(records, [str(c) for c in range(19)], bins=(0, 30, np.inf))
    assert table["13"]["PQ"] == pytest.approx(1 / (1 + 0.5 * 2 + 0.5 * 1))  # car: 1 TP, 2 FP, 1 FN
    assert table["11"]["PQ"] == 0 and table["11"]["recall"] == 0
    assert table["all"]["PQ"] == pytest.approx(0.4 / 2)
    assert (table["area 0-30"]["true"], table["area 30-"]["true"], table["area 30-"]["recall"]) == (1, 2, 0.5)


def test_breakdown_pq_is_cityscapesscripts_pq_th(tmp_path):
    """The records summed by class give cityscapesscripts' PQ_th on the same maps (crowds, void,
    merged and missed instances and a false band included)."""
    meta = dataset_meta("synthetic")
    generate(tmp_path / "d", num_train=1, num_val=4, height=64, width=128, seed=3)
    ids = read_id_list(tmp_path / "d/lists/val_id.txt")
    rng = np.random.default_rng(0)
    records = []
    for image_id in ids:
        truth = read_label_png(meta.gt_path(tmp_path / "d", "val", image_id, "labelTrainIds"))
        raw = read_uint16_png(meta.gt_path(tmp_path / "d", "val", image_id, "instanceTrainIds")).astype(np.int32)
        true_inst = np.where(raw >= 1000, raw, 0)
        sem, inst = truth.copy(), np.where(raw >= 1000, raw % 1000 // 2 + 1, 0)
        start = int(rng.integers(0, 58))
        sem[start : start + 6] = 13
        inst[start : start + 6, :64], inst[start : start + 6, 64:] = 90, 91
        write_panoptic(tmp_path / "pred", image_id, sem, inst, meta.thing_classes)
        records += match_things(sem, inst, truth, true_inst, meta.thing_classes)
    theirs = evaluate_panoptic(*panoptic_gt(meta, tmp_path / "d", "val", ids, tmp_path / "gt"), tmp_path / "pred", ids)
    ours = breakdown(records, meta.class_names)
    assert 0 < theirs["PQ_th"] < 1
    assert ours["all"]["PQ"] == pytest.approx(theirs["PQ_th"], abs=1e-9)
    for cls in meta.thing_classes:
        name = meta.class_names[cls]
        if name in ours:
            assert ours[name]["PQ"] == pytest.approx(theirs["per_class"][name], abs=1e-9)


def test_true_grouping_splits_predicted_things_by_the_true_instances():
    sem, inst = _scene()
    p_sem = sem.copy()
    p_sem[5:10, 10:12] = 13  # the two cars predicted as one blob
    p_sem[5:10, 2:4] = 11  # part of the first car called person
    p_sem[14:16, 2:5] = 11  # a person blob on road, no true instance
    out_sem, out_inst = true_grouping(p_sem, inst, THINGS)
    first, second, blob = out_inst[6, 5], out_inst[6, 15], out_inst[14, 2]
    assert len({first, second, blob, out_inst[13, 25]}) == 4 and 0 not in (first, second, blob)
    assert (out_sem[out_inst == first] == 13).all()  # majority class of the first car's pixels
    bridge = out_inst[5:10, 10:12]  # thing pixels on no true instance: a component of their own
    assert (bridge == bridge[0, 0]).all() and bridge[0, 0] not in (first, second, blob, 0)
    assert (out_sem[14:16, 2:5] == 11).all() and (out_sem[5:10, 10:12] == 13).all()
    np.testing.assert_array_equal(out_sem[p_sem == 0], 0)


def test_true_centres_group_by_the_offsets_to_the_nearest_true_centre():
    sem, inst = _scene()
    offset = torch.zeros(2, *sem.shape)
    offset[1, 5:10, 12:14] = -8.0  # the second car's left columns point at the first car
    out_sem, out_inst = true_centres(torch.as_tensor(sem).long(), offset, inst, THINGS)
    out_inst = out_inst.numpy()
    assert (out_inst[5:10, 2:10] == out_inst[6, 4]).all()
    assert (out_inst[5:10, 12:14] == out_inst[6, 4]).all() and (out_inst[5:10, 14:20] != out_inst[6, 4]).all()
    assert (out_inst[12:18, 24:27] > 0).all() and (out_sem.numpy()[12:18, 24:27] == 11).all()


def test_true_semantics_with_perfect_heads_recover_every_instance():
    sem, inst = _scene()
    rows, cols = np.indices(sem.shape).astype(np.float32)
    center = torch.zeros(1, *sem.shape)
    offset = torch.zeros(2, *sem.shape)
    for k in (1, 2, 3):
        ys, xs = np.nonzero(inst == k)
        cy, cx = int(round(ys.mean())), int(round(xs.mean()))
        center[0, cy, cx] = 1.0
        offset[0][inst == k] = torch.from_numpy(cy - rows[inst == k])
        offset[1][inst == k] = torch.from_numpy(cx - cols[inst == k])
    p_sem, p_inst = true_semantics(sem, center, offset, THINGS, stuff_area=1)
    records = match_things(p_sem.numpy(), p_inst.numpy(), sem, inst, THINGS)
    assert sorted(r["kind"] for r in records) == ["tp"] * 3 and all(r["iou"] == 1 for r in records)


def test_bench_rounds_counts_things_of_saved_validation_predictions(tmp_path):
    """benchmarks/bench_rounds.py: PQ_th and per thing class TP / FP / FN of a segmenter's saved
    `val_panoptic` folder."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_rounds import things_on_val

    meta = dataset_meta("synthetic")
    sem, inst = _scene()
    p_sem, p_inst = sem.copy(), inst.copy()
    p_inst[5:10, 12:16], p_inst[5:10, 16:20] = 8, 9  # the second car split: two false positives, one miss
    p_sem[12:18, 24:27] = 0  # the person missed
    p_sem[14:16, 2:5], p_inst[14:16, 2:5] = 11, 11  # a person on road: a false positive
    gt_folder = tmp_path / "gt" / "synthetic_panoptic_val_trainId"
    write_panoptic(gt_folder, "a", sem, inst, meta.thing_classes)
    write_panoptic(tmp_path / "pred", "a", p_sem, p_inst, meta.thing_classes)
    annotation = json.loads((gt_folder / "a_panoptic.json").read_text())
    categories = [
        {"id": c, "name": n, "isthing": int(c in meta.thing_classes), "supercategory": "", "color": [0, 0, 0]}
        for c, n in enumerate(meta.class_names)
    ]
    (tmp_path / "gt" / "synthetic_panoptic_val_trainId.json").write_text(
        json.dumps({"annotations": [annotation], "categories": categories})
    )
    v = things_on_val(tmp_path, meta)
    car, person = meta.class_names[13], meta.class_names[11]
    assert set(v["per_class"]) == {car, person}
    assert (v["per_class"][car]["TP"], v["per_class"][car]["FP"], v["per_class"][car]["FN"]) == (1, 2, 1)
    assert (v["per_class"][person]["TP"], v["per_class"][person]["FP"], v["per_class"][person]["FN"]) == (0, 1, 1)
    assert v["per_class"][car]["PQ"] == pytest.approx(1 / (1 + 0.5 * 2 + 0.5 * 1))  # the first car exact
    assert (v["TP"], v["FP"], v["FN"]) == (1, 3, 2) and v["PQ_th"] == pytest.approx(0.4 / 2)


def test_bench_rounds_shares_the_true_thing_pixels_by_their_label(tmp_path):
    """benchmarks/bench_rounds.py: of the true thing pixels, the shares a label map gives the true
    class, another thing class, a stuff class and no label (stuff and void pixels not counted)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_rounds import thing_pixels

    meta = dataset_meta("synthetic")
    true = np.zeros((4, 4), np.uint8)
    true[0, :] = I
    true[1:3, :], true[3, :] = 13, 11  # 8 car pixels and 4 person pixels
    label = np.zeros_like(true)  # stuff everywhere (the void and road pixels are not counted)
    label[1:3, :] = 13  # the cars right
    label[3, 0] = 11  # one person right, one a car, one unlabelled, one road
    label[3, 1], label[3, 2] = 13, I
    path = meta.gt_path(tmp_path / "data", "train", "aa_000000_000019", "labelTrainIds")
    write_png(path, true)
    write_png(meta.label_file(tmp_path / "pred", "aa_000000_000019"), label)
    shares = thing_pixels(meta, tmp_path / "data", ["aa_000000_000019"], tmp_path / "pred")
    assert shares == pytest.approx([9 / 12, 1 / 12, 1 / 12, 1 / 12])
