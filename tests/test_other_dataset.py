"""A dataset with its own classes (CamVid's 11, 3 of them things, kept in train ids) runs
through every part: prepare, cues, a classifier batch and its CAM labels, generate_gt, a
segmenter batch, and evaluation, all reading one dataset description."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from tests.conftest import REPO
from wsps.cues.job import CueOptions
from wsps.cues.job import run as run_cues
from wsps.data.metadata import DatasetMeta, dataset_meta, meta_for
from wsps.data.synthetic import generate
from wsps.eval.folders import score_label_folder
from wsps.gt.boxes import read_boxes_mat
from wsps.gt.job import run as run_gt
from wsps.gt.options import GTOptions
from wsps.io import ConfigError, read_id_list, read_label_png, read_uint16_png, write_label_png, write_png, write_text
from wsps.prepare import PrepareOptions, prepare
from wsps.train import train

CAMVID = dataset_meta("camvid")
SIZE = (64, 128)
#: Cityscapes train id -> CamVid class (255: void): how the tiny root is drawn from the embedded streets.
TO_CAMVID = {
    0: 3,
    1: 4,
    2: 1,
    3: 1,
    4: 7,
    5: 2,
    6: 6,
    7: 6,
    8: 5,
    9: 5,
    10: 0,
    11: 9,
    12: 10,
    13: 8,
    14: 8,
    15: 8,
    17: 10,
    18: 10,
}


def _remap(label: np.ndarray, instances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cityscapes train ids and instance train ids as CamVid's, instances renumbered per class."""
    lut = np.full(256, 255, np.uint8)
    for city_id, camvid_id in TO_CAMVID.items():
        lut[city_id] = camvid_id
    sem = lut[label]
    inst = sem.astype(np.uint16)
    for c in CAMVID.thing_classes:
        values = [v for v in np.unique(instances[sem == c]) if v >= 1000]
        for k, value in enumerate(values, start=1):
            inst[(instances == value) & (sem == c)] = c * 1000 + k
    return sem, inst


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    source, root = tmp_path_factory.mktemp("cityscapes_like"), tmp_path_factory.mktemp("camvid_like")
    generate(source, num_train=4, num_val=2, height=SIZE[0], width=SIZE[1], seed=7)
    for split in ("train", "val"):
        ids = read_id_list(source / f"lists/{split}_id.txt")
        for image_id in ids:
            image = CAMVID.image_path(root, split, image_id)
            image.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(CAMVID.image_path(source, split, image_id), image)
            sem, inst = _remap(
                read_label_png(CAMVID.gt_path(source, split, image_id, "labelTrainIds")),
                read_uint16_png(CAMVID.gt_path(source, split, image_id, "instanceTrainIds")),
            )
            write_label_png(CAMVID.gt_path(root, split, image_id, "labelTrainIds"), sem)
            write_png(CAMVID.gt_path(root, split, image_id, "instanceTrainIds"), inst)
        write_text(CAMVID.list_path(root, split), "".join(f"{i}\n" for i in ids))
    return root


def _compose(config_name: str, root: Path, *overrides: str, hydra_config: bool = False):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            config_name=config_name,
            return_hydra_config=hydra_config,
            overrides=[
                "dataset=camvid",
                f"data_root={root}",
                f"canvas_size=[{SIZE[0]},{SIZE[1]}]",
                "schk_crop_size=[25,31]",
                *overrides,
            ],
        )
    if hydra_config:
        HydraConfig().set_config(cfg)
    return cfg


def test_the_description_is_the_yaml():
    assert CAMVID.num_classes == 11 and CAMVID.thing_classes == (8, 9, 10) and CAMVID.stuff_classes == tuple(range(8))
    assert CAMVID.label_table is None and CAMVID.canvas_size == (360, 480)
    assert CAMVID.list_path("/d", "val") == Path("/d/lists/val_id.txt")
    assert CAMVID.label_file("/r/sem", "0001TP_006690") == Path("/r/sem/0001TP_006690_leftImg8bit.png")


def test_a_file_template_without_one_placeholder_is_refused():
    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "dataset" / "cityscapes.yaml"))
    for key in ("pred_template", "list_template"):
        with pytest.raises(ConfigError, match=f"{key} must contain '%s' once"):
            DatasetMeta.from_config({**cfg, key: "labels.png"})
    assert DatasetMeta.from_config({**cfg, "pred_template": "%s.png"}).label_file("f", "a") == Path("f/a.png")


def test_every_part_runs_on_eleven_classes(root, tmp_path):
    names = set(CAMVID.class_names)
    # prepare: boxes with CamVid's names, one per instance, image-wide ones for the stuff present
    summary = prepare(PrepareOptions.from_config(_compose("prepare", root, "split=train")))
    assert summary.failed == 0
    ids = read_id_list(root / "lists/train_id.txt")
    for image_id in ids:
        objects = read_boxes_mat(root / "gtFine_bboxes/train/panoptic" / f"{image_id}_leftImg8bit.mat")
        inst = read_uint16_png(CAMVID.gt_path(root, "train", image_id, "instanceTrainIds"))
        instances = {int(v) for v in np.unique(inst) if v >= 1000}
        assert {o.name for o in objects} <= names
        assert sum(not (o.is_stuff or o.is_grp) for o in objects) == len(instances)
        stuff_present = {CAMVID.class_names[v] for v in np.unique(inst) if v < 1000 and v in CAMVID.stuff_classes}
        assert {o.name for o in objects if o.is_stuff} == stuff_present

    # cues: only CamVid's thing ids (or 0 / 255) in the M&G map
    results = tmp_path / "results"
    assert run_cues(CueOptions.from_config(_compose("cues", root, "split=train", f"pred_root={results}"))).failed == 0
    for image_id in ids:
        mandg = read_label_png(results / "mcg_and_grabcut/train" / f"{image_id}_leftImg8bit.png")
        assert set(np.unique(mandg).tolist()) <= {0, 255, 8, 9, 10}

    # a classifier batch: 11 outputs, CAM labels only of classes the image's tags hold (things too:
    # the CAM labels keep every tagged class)
    cfg = _compose(
        "train",
        root,
        "stage=classifier",
        "debug=fast",
        f"pred_root={results}",
        f"paths.output_dir={tmp_path}/cls",
        "hydra.job.num=0",
        "model.input_scale=1",
        hydra_config=True,
    )
    assert cfg.model.class_names == list(CAMVID.class_names)
    metrics = train(cfg)
    assert 0 <= metrics["val/mAP"] <= 1
    for image_id in ids:
        cam = read_label_png(results / "cam/train" / f"{image_id}_leftImg8bit.png")
        truth = read_label_png(CAMVID.gt_path(root, "train", image_id, "labelTrainIds"))
        assert set(np.unique(cam).tolist()) - {255} <= set(np.unique(truth).tolist()) - {255}

    # generate_gt's first round on those cues: CamVid's ids only, things only inside their boxes
    gt_cfg = _compose(
        "generate_gt",
        root,
        "preset=first_round",
        f"pred_root={results}",
        "sem_save_dir=pseudo/sem",
        "ins_save_dir=pseudo/ins",
    )
    opts = GTOptions.from_mapping(OmegaConf.to_container(gt_cfg, resolve=True))
    assert opts.stuff_classes == CAMVID.stuff_classes and opts.class_names == CAMVID.class_names
    assert run_gt(opts).failed == 0
    for image_id in ids:
        sem = read_label_png(results / "pseudo/sem" / f"{image_id}_leftImg8bit.png")
        assert set(np.unique(sem).tolist()) <= set(range(11)) | {255}

    # a segmenter batch on that pseudo-GT: 11 + 3 output channels, per-class IoU by CamVid's names
    cfg = _compose(
        "train",
        root,
        "stage=segmenter",
        "debug=fast",
        f"pred_root={tmp_path}/pred",
        f"paths.output_dir={tmp_path}/seg",
        "hydra.job.num=0",
        f"labels={results / 'pseudo'}",
        "sem_save_dir=sem",
        "ins_save_dir=ins",
        hydra_config=True,
    )
    metrics = train(cfg)
    assert {k.split("/", 2)[2] for k in metrics if k.startswith("val/IoU/")} <= names and 0 <= metrics["val/PQ"] <= 1
    pred = read_label_png(tmp_path / "pred/pred_sem_raw" / f"{ids[0]}_leftImg8bit.png")
    assert pred.shape == SIZE and pred.max() < 11

    # evaluation: the truth scores 1 against itself; the pseudo-GT is scored by CamVid's classes
    meta = meta_for(_compose("evaluate", root))
    truth_dir = tmp_path / "truth"
    for image_id in ids:
        write_label_png(
            truth_dir / "sem" / f"{image_id}_leftImg8bit.png",
            read_label_png(CAMVID.gt_path(root, "train", image_id, "labelTrainIds")),
        )
        inst = read_uint16_png(CAMVID.gt_path(root, "train", image_id, "instanceTrainIds"))
        write_label_png(
            truth_dir / "ins" / f"{image_id}_leftImg8bit.png", np.where(inst >= 1000, inst % 1000, 0).astype(np.uint8)
        )
    perfect = score_label_folder(
        meta, root, "train", ids, truth_dir / "sem", truth_dir / "ins", tmp_path / "eval_truth"
    )
    assert (
        perfect["mIoU"] == pytest.approx(1)
        and perfect["PQ"] == pytest.approx(1)
        and perfect["PQ_th"] == pytest.approx(1)
    )
    scores = score_label_folder(
        meta, root, "train", ids, results / "pseudo/sem", results / "pseudo/ins", tmp_path / "eval"
    )
    assert (
        {k[4:] for k in scores if k.startswith("IoU/")} <= names and 0 < scores["mIoU"] < 1 and 0 <= scores["PQ"] <= 1
    )


def test_a_label_outside_the_classes_is_refused_naming_the_file(root, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    image_id = read_id_list(bad / "lists/train_id.txt")[0]
    label_path = CAMVID.gt_path(bad, "train", image_id, "labelTrainIds")
    label = read_label_png(label_path)
    label[0, 0] = 12
    write_label_png(label_path, label)
    summary = prepare(PrepareOptions.from_config(_compose("prepare", bad, "split=train", "force_overwrite=true")))
    assert summary.failed == 1
    assert str(label_path) in summary.failures[0] and "[12]" in summary.failures[0]


def test_panoptic_gt_scores_as_cityscapes_convert2panoptic(tmp_path):
    """The GT made from `*_instanceTrainIds.png` gives the same PQ as cityscapesscripts' own
    conversion of the official ids, on Cityscapes-labelled data (crowds included)."""
    import contextlib
    import io

    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic

    from wsps.eval.panoptic import evaluate_panoptic, panoptic_gt, write_panoptic

    meta = dataset_meta("synthetic")
    generate(tmp_path / "d", num_train=1, num_val=4, height=64, width=128, seed=3)
    ids = read_id_list(tmp_path / "d/lists/val_id.txt")
    rng = np.random.default_rng(0)
    for image_id in ids:  # predictions: the truth with a shifted band and some instances merged
        sem = read_label_png(meta.gt_path(tmp_path / "d", "val", image_id, "labelTrainIds")).copy()
        inst = read_uint16_png(meta.gt_path(tmp_path / "d", "val", image_id, "instanceTrainIds")).astype(np.int32)
        inst = np.where(inst >= 1000, inst % 1000 // 2 + 1, 0)
        sem[rng.integers(0, 64) : rng.integers(0, 64) + 6] = 13
        write_panoptic(tmp_path / "pred", image_id, sem, inst, meta.thing_classes)
    ours = evaluate_panoptic(*panoptic_gt(meta, tmp_path / "d", "val", ids, tmp_path / "ours"), tmp_path / "pred", ids)
    (tmp_path / "theirs").mkdir()
    with contextlib.redirect_stdout(io.StringIO()):
        convert2panoptic(str(tmp_path / "d/gtFine"), str(tmp_path / "theirs"), useTrainId=True, setNames=["val"])
    theirs = evaluate_panoptic(
        tmp_path / "theirs/cityscapes_panoptic_val_trainId.json",
        tmp_path / "theirs/cityscapes_panoptic_val_trainId",
        tmp_path / "pred",
        ids,
    )
    assert 0 < ours["PQ"] < 1 and 0 < ours["PQ_th"] < 1
    for key in ("PQ", "PQ_th", "PQ_st", "SQ", "RQ"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-12)
    assert ours["per_class"] == pytest.approx(theirs["per_class"])
