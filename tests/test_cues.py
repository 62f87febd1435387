"""Thing cues: GrabCut and proposals on scenes with a known answer, the consensus rule, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import box, run_script
from wsps.cues.consensus import consensus, cue_map
from wsps.cues.grabcut import GrabCutParams, grabcut_box, grabcut_cue
from wsps.cues.job import image_cues
from wsps.cues.proposals import ProposalParams, best_proposal, proposal_cue
from wsps.cues.window import box_window
from wsps.data.synthetic import generate
from wsps.gt.boxes import box_slices, load_boxes, read_boxes_mat
from wsps.io import read_id_list, read_label_png
from wsps.labels import CLASS_NAMES

I = 255
THINGS = tuple(range(11, 19))


def textured_scene(seed=0, height=120, width=160):
    """Green-brown textured ground with a red rectangle (rows 40..79, cols 50..109) on it."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal((90, 120, 60), 25, (height, width, 3)), 0, 255).astype(np.uint8)
    image[40:80, 50:110] = np.clip(rng.normal((200, 30, 40), 8, (40, 60, 3)), 0, 255).astype(np.uint8)
    truth = np.zeros((height, width), bool)
    truth[40:80, 50:110] = True
    return image, truth


def _full(shape, patch):
    rows, cols, mask = patch
    out = np.zeros(shape, bool)
    out[rows, cols] = mask
    return out


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_window_geometry():
    w = box_window(box(13, 100, 50, 199, 99), (1024, 2048), margin=0.5, min_margin=10, max_side=100)
    assert (w.rows, w.cols) == (slice(25, 125), slice(50, 250))  # 50% of 100x50 on every side
    assert w.scale == 0.5 and w.size == (50, 100) and w.box == (25, 12, 74, 37)
    near_edge = box_window(box(13, 0, 0, 9, 9), (100, 100), margin=0.5, min_margin=10, max_side=256)
    assert (near_edge.rows, near_edge.cols, near_edge.scale) == (slice(0, 20), slice(0, 20), 1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_grabcut_and_proposal_find_the_rectangle(seed):
    image, truth = textured_scene(seed)
    b = box(13, 46, 36, 113, 83)  # a loose box around the rectangle
    gc = _full(truth.shape, grabcut_box(image, b, GrabCutParams()))
    pr = _full(truth.shape, best_proposal(image, b, ProposalParams()))
    assert _iou(gc, truth) > 0.9 and _iou(pr, truth) > 0.9


def test_grabcut_is_deterministic():
    image, _ = textured_scene(3)
    b = box(13, 46, 36, 113, 83)
    first, second = (grabcut_box(image, b, GrabCutParams())[2] for _ in range(2))
    np.testing.assert_array_equal(first, second)


def test_cue_map_conventions_and_contested_pixels():
    shape = (10, 12)
    car, person, group = box(13, 1, 1, 6, 6), box(11, 4, 3, 9, 8), box(12, 9, 0, 11, 2, is_grp=True)
    boxes = [box(0, 0, 0, 11, 9, is_stuff=True), car, person, group]
    everything = lambda b: (slice(0, 10), slice(0, 12), np.ones(shape, bool))  # noqa: E731
    out = cue_map(shape, boxes, [car, person], [everything(car), everything(person)])
    assert out[2, 2] == 13 and out[7, 8] == 11
    assert out[4, 5] == I  # claimed by a car and a person box: contested
    assert out[1, 10] == I  # inside the group box, which no cue claims
    assert out[9, 0] == 0 and out[0, 11] == I
    # two boxes of one class overlapping: the class, not contested
    car2 = box(13, 3, 3, 8, 8)
    both = cue_map(shape, [car, car2], [car, car2], [everything(car), everything(car2)])
    assert both[4, 4] == 13


def test_consensus_rule():
    gc = np.array([[0, 13, 13, 13, I, 11, I]], np.uint8)
    pr = np.array([[0, 13, 11, I, 13, 11, I]], np.uint8)
    for rule in ("all", "majority"):  # two cues: both rules are the paper's agreement
        np.testing.assert_array_equal(consensus([gc, pr], THINGS, rule), [[0, 13, I, I, I, 11, I]])


def test_consensus_of_three_cues():
    a = np.array([[0, 13, 13, 13, 11, 5, I]], np.uint8)
    b = np.array([[0, 13, 13, 11, 12, 5, I]], np.uint8)
    c = np.array([[0, 13, 11, 12, 13, 5, I]], np.uint8)
    np.testing.assert_array_equal(consensus([a, b, c], THINGS, "all"), [[0, 13, I, I, I, I, I]])
    # majority: two of three; a stuff class (5) or ignore is never kept
    np.testing.assert_array_equal(consensus([a, b, c], THINGS, "majority"), [[0, 13, 13, I, I, I, I]])
    with pytest.raises(ValueError, match="consensus='most'"):
        consensus([a, b], THINGS, "most")


def test_two_overlapping_objects():
    image, _ = textured_scene(2)
    image[20:60, 20:60] = (30, 60, 200)  # a blue square partly hidden by the red rectangle
    image[40:80, 50:110] = (200, 30, 40)
    boxes = [box(13, 50, 40, 109, 79), box(11, 20, 20, 59, 59)]
    maps, mandg = image_cues(image, boxes, {"grabcut": grabcut_cue, "proposals": proposal_cue}, THINGS)
    assert list(maps) == ["grabcut", "proposals"]
    assert (mandg[45:75, 60:105] == 13).mean() > 0.9  # the red car, away from the overlap
    assert (mandg[22:38, 22:48] == 11).mean() > 0.9  # the visible part of the blue person
    assert (mandg[0:15, :] == 0).all() and (mandg[90:, :] == 0).all()  # outside the boxes
    assert set(np.unique(mandg[40:60, 50:60]).tolist()) <= {11, 13, I}


def test_cli_on_generated_data(tmp_path):
    root = tmp_path / "data"
    generate(root, num_train=4, num_val=0, height=128, width=256, seed=2)
    ids = read_id_list(root / "lists/train_id.txt")
    (root / "leftImg8bit/train" / ids[3].split("_")[0] / f"{ids[3]}_leftImg8bit.png").write_bytes(b"broken")
    assert run_script(["-m", "wsps.prepare", f"data_root={root}", "dataset=synthetic"], cwd=tmp_path).returncode == 0
    args = [
        "-m",
        "wsps.cues",
        f"data_root={root}",
        "dataset=synthetic",
        f"pred_root={tmp_path}/results",
        "num_workers=2",
    ]
    result = run_script(args, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "4 image(s): 3 written, 0 skipped (outputs exist), 1 failed" in out
    assert f"{ids[3]}_leftImg8bit.png: not a readable image" in out
    for image_id in ids[:3]:
        maps = {
            kind: read_label_png(tmp_path / "results" / kind / "train" / f"{image_id}_leftImg8bit.png")
            for kind in ("mcg_and_grabcut", "grabcut", "proposals")
        }
        boxes = load_boxes(
            read_boxes_mat(root / "gtFine_bboxes/train/panoptic" / f"{image_id}_leftImg8bit.mat"),
            CLASS_NAMES,
            (128, 256),
        )
        in_things = np.zeros((128, 256), bool)
        for b in boxes:
            if not b.is_stuff:
                in_things[box_slices(b)] = True
        for m in maps.values():
            assert set(np.unique(m).tolist()) <= {0, I, *THINGS}
            assert not (m[~in_things] != 0).any() and not (m[in_things] == 0).any()
        agree = maps["grabcut"] == maps["proposals"]
        np.testing.assert_array_equal(maps["mcg_and_grabcut"], np.where(agree, maps["grabcut"], I))
        assert np.isin(maps["mcg_and_grabcut"], THINGS).any()
    again = run_script(args[:-1], cwd=tmp_path)
    assert "4 image(s): 0 written, 3 skipped (outputs exist), 1 failed" in again.stdout + again.stderr


def test_a_new_cue_is_one_module_and_one_yaml(tmp_path, monkeypatch):
    """A cue defined outside the package (a module and a YAML in a temporary folder, found
    through Hydra's search path) runs through the loop's cues step, the consensus and
    generate_gt, with no file of wsps changed."""
    from hydra import compose, initialize_config_dir

    from wsps import CONFIG_DIR
    from wsps.data.metadata import dataset_meta
    from wsps.loop.steps import Steps

    plugin = tmp_path / "plugin"
    (plugin / "conf" / "thing_cues").mkdir(parents=True)
    (plugin / "inner_box_cue.py").write_text(
        "def inner_box(image, boxes, border=0):\n"
        "    import numpy as np\n"
        "    masks = []\n"
        "    for b in boxes:\n"
        "        rows, cols = slice(b.ymin, b.ymax + 1), slice(b.xmin, b.xmax + 1)\n"
        "        mask = np.zeros((b.ymax - b.ymin + 1, b.xmax - b.xmin + 1), bool)\n"
        "        mask[border : mask.shape[0] - border, border : mask.shape[1] - border] = True\n"
        "        masks.append((rows, cols, mask))\n"
        "    return masks\n"
    )
    (plugin / "conf" / "thing_cues" / "inner_box.yaml").write_text(
        "inner_box:\n  _target_: inner_box_cue.inner_box\n  border: 2\n"
    )
    monkeypatch.syspath_prepend(str(plugin))
    root, run_dir = tmp_path / "data", tmp_path / "run"
    generate(root, num_train=2, num_val=0, height=128, width=256, seed=2)
    cues = [f"hydra.searchpath=[file://{plugin / 'conf'}]", "thing_cues=[grabcut,inner_box]"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                f"data_root={root}",
                "dataset=synthetic",
                "loop.steps.cues=[" + ",".join(f"'{c}'" for c in cues) + "]",
            ],
        )
        steps = Steps(cfg, run_dir, "synthetic", record=None)
        steps.prepare()
        assert steps.cues() == {"images": 2}
        steps.true_stuff_cues()
        steps.run_gt(1, "train", steps.gt_overrides(1, "train"))
    meta = dataset_meta("synthetic")
    for image_id in read_id_list(root / "lists/train_id.txt"):
        maps = {
            kind: read_label_png(meta.label_file(run_dir / "cues" / kind / "train", image_id))
            for kind in ("grabcut", "inner_box", "mcg_and_grabcut")
        }
        assert not (run_dir / "cues" / "proposals").exists()
        boxes = load_boxes(
            read_boxes_mat(root / "gtFine_bboxes/train/panoptic" / f"{image_id}_leftImg8bit.mat"),
            CLASS_NAMES,
            (128, 256),
        )
        single = [b for b in boxes if not (b.is_stuff or b.is_grp) and b.xmax - b.xmin > 6 and b.ymax - b.ymin > 6]
        inner = single[0]
        assert maps["inner_box"][inner.ymin + 3, inner.xmin + 3] in (
            inner.class_id,
            I,
        )  # inside: its class (or contested)
        np.testing.assert_array_equal(maps["mcg_and_grabcut"], consensus([maps["grabcut"], maps["inner_box"]], THINGS))
        assert (maps["mcg_and_grabcut"] != maps["grabcut"]).any()  # the new cue changed the consensus
        pseudo = read_label_png(meta.label_file(run_dir / "round_1" / "pseudo_gt" / "sem", image_id))
        things = np.isin(maps["mcg_and_grabcut"], THINGS)
        assert things.any() and (pseudo[things] == maps["mcg_and_grabcut"][things]).all()
