"""Prediction on any folder of images, COCO panoptic output checked by cityscapesscripts, export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import evaluatePanoptic
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from PIL import Image

from tests.conftest import REPO, run_script
from wsps.data.metadata import dataset_meta
from wsps.data.synthetic import generate
from wsps.eval.panoptic import panoptic_gt
from wsps.export import export
from wsps.inference import PredictorSpec, coco_segments, load_backend
from wsps.io import InputError, read_id_list, read_label_png
from wsps.predict import image_ids, predict_folder
from wsps.train import train

META = dataset_meta("synthetic")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A segmenter trained a few epochs on tiny embedded data (float32), and its validation scores."""
    root = tmp_path_factory.mktemp("predict")
    data = root / "data"
    generate(data, num_train=8, num_val=4, height=128, width=256, seed=3)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="train",
            return_hydra_config=True,
            overrides=[
                "stage=segmenter",
                f"data_root={data}",
                f"paths.output_dir={root / 'run'}",
                f"pred_root={root / 'results'}",
                "logger=csv",
                "predict=false",
                "trainer.max_epochs=10",
                "data.batch_size=2",
                "trainer.precision=32-true",
                "model.tag_weight=0",
                "data.tag_crop_size=null",
                "hydra.job.num=0",
            ],
        )
    HydraConfig().set_config(cfg)
    metrics = train(cfg)
    return {"data": data, "ckpt": root / "run" / "checkpoints" / "last.ckpt", "metrics": metrics, "root": root}


def test_the_checkpoint_carries_what_prediction_needs(trained):
    spec = load_backend(trained["ckpt"]).spec
    assert spec.class_names == META.class_names and spec.thing_classes == META.thing_classes
    assert spec.working_size == (128, 256) and spec.dataset_name == "synthetic" and spec.thing_area == 64
    assert PredictorSpec.from_json(spec.to_json()) == spec
    categories = spec.categories()
    assert [c["id"] for c in categories] == list(range(19))
    assert [c["isthing"] for c in categories] == [int(c in META.thing_classes) for c in range(19)]


def test_coco_output_scores_in_cityscapesscripts_as_in_wsps_eval(trained, tmp_path):
    """cityscapesscripts' panoptic evaluation on our COCO files gives the segmenter's own
    validation PQ (wsps.eval), to 1e-6."""
    out = tmp_path / "out"
    results = predict_folder(
        load_backend(trained["ckpt"]), trained["data"] / "leftImg8bit" / "val", out, batch_size=3, num_workers=0
    )
    assert results.summary.counts["done"] == 4 and results.summary.failed == 0
    ids = read_id_list(trained["data"] / "lists" / "val_id.txt")
    gt_json, gt_folder = panoptic_gt(META, trained["data"], "val", ids, tmp_path / "gt")
    scores = evaluatePanoptic(
        str(gt_json), str(gt_folder), str(out / "panoptic.json"), str(out / "panoptic"), str(tmp_path / "r.json")
    )
    wsps_pq = trained["metrics"]["val/PQ"]
    assert 0.01 < wsps_pq < 1  # matched segments: the comparison is not of two zeros (0.03-0.1 by machine)
    assert abs(scores["All"]["pq"] - wsps_pq) < 1e-6
    assert abs(scores["Things"]["pq"] - trained["metrics"]["val/PQ_th"]) < 1e-6


def test_any_folder_any_size_one_bad_image_reported(trained, tmp_path):
    images = tmp_path / "images"
    val = sorted((trained["data"] / "leftImg8bit" / "val").rglob("*.png"))
    (images / "nested").mkdir(parents=True)
    shutil.copy(val[0], images / "a.png")
    rgb = np.asarray(Image.open(val[1]).convert("RGB"))
    Image.fromarray(rgb).resize((150, 100)).save(images / "nested" / "small.jpg", quality=95)  # another size, a JPEG
    Image.fromarray(rgb).resize((512, 256)).save(images / "nested" / "a.png")  # a second `a`
    (images / "broken.png").write_bytes(b"\x89PNG not an image")
    out = tmp_path / "out"
    result = run_script(
        [
            "-m",
            "wsps.predict",
            f"ckpt={trained['ckpt']}",
            f"images={images}",
            f"out={out}",
            "overlay=true",
            "batch_size=2",
            f"hydra.run.dir={tmp_path / 'log'}",
        ],
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert sum(f"{images / 'broken.png'}: cannot read the image" in line for line in output.splitlines()) >= 1
    coco = json.loads((out / "panoptic.json").read_text())
    ids = {i["id"]: i for i in coco["images"]}
    assert set(ids) == {"a", "nested__a", "small"}  # the two `a` images by their paths
    for image_id, (height, width) in {"a": (128, 256), "nested__a": (256, 512), "small": (100, 150)}.items():
        assert (ids[image_id]["height"], ids[image_id]["width"]) == (height, width)
        sem = read_label_png(out / "semantic" / f"{image_id}.png")
        assert sem.shape == (height, width) and sem.max() < 19
        panoptic = np.asarray(Image.open(out / "panoptic" / f"{image_id}.png")).astype(np.int64)
        segment_ids = panoptic[..., 0] + 256 * panoptic[..., 1] + 65536 * panoptic[..., 2]
        annotation = next(a for a in coco["annotations"] if a["image_id"] == image_id)
        for segment in annotation["segments_info"]:
            mask = segment_ids == segment["id"]
            assert mask.sum() == segment["area"] > 0
            x, y, w, h = segment["bbox"]
            rows, cols = np.nonzero(mask)
            assert (x, y, w, h) == (cols.min(), rows.min(), cols.max() - x + 1, rows.max() - y + 1)
            assert (sem[mask] == segment["category_id"]).mean() > 0.5  # mostly its class in the semantic map
        assert np.asarray(Image.open(out / "overlay" / f"{image_id}.jpg")).shape == (height, width, 3)
    assert [c["name"] for c in coco["categories"]] == list(META.class_names)
    assert not list(out.rglob("*.tmp*"))  # every file renamed into place


def test_exported_networks_match_torch_and_predict_alone(trained, tmp_path):
    for fmt, name in (("onnx", "seg.onnx"), ("torchscript", "seg.pt")):
        difference = export(trained["ckpt"], fmt, tmp_path / name)
        assert difference <= 1e-4, fmt
    torch.manual_seed(4)
    images = torch.rand(2, 3, 128, 256)
    reference = load_backend(trained["ckpt"])(images)
    for name in ("seg.onnx", "seg.pt"):
        backend = load_backend(tmp_path / name)
        assert backend.spec == load_backend(trained["ckpt"]).spec  # the spec travels in the file
        for a, b in zip(reference, backend(images)):
            assert a.shape == b.shape and float((a - b).abs().max()) <= 1e-4
    val = trained["data"] / "leftImg8bit" / "val"
    predict_folder(load_backend(trained["ckpt"]), val, tmp_path / "from_ckpt", num_workers=0)
    predict_folder(load_backend(tmp_path / "seg.onnx"), val, tmp_path / "from_onnx", num_workers=0)
    for path in (tmp_path / "from_ckpt" / "semantic").glob("*.png"):
        ours, theirs = read_label_png(path), read_label_png(tmp_path / "from_onnx" / "semantic" / path.name)
        assert (ours == theirs).mean() > 0.999


def test_bad_models_and_folders_are_refused_in_one_line(trained, tmp_path):
    with pytest.raises(InputError, match="model file not found"):
        load_backend(tmp_path / "absent.ckpt")
    with pytest.raises(InputError, match=r"a model must be a \.ckpt, \.onnx, \.pt, \.ts file"):
        load_backend(tmp_path / "model.bin")
    (tmp_path / "fake.onnx").write_bytes(b"not onnx")
    with pytest.raises(InputError, match="fake.onnx: not an ONNX model"):
        load_backend(tmp_path / "fake.onnx")
    result = run_script(
        [
            "-m",
            "wsps.predict",
            f"ckpt={trained['ckpt']}",
            f"images={tmp_path / 'none'}",
            f"out={tmp_path / 'o'}",
            f"hydra.run.dir={tmp_path / 'log'}",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert (result.stdout + result.stderr).strip().splitlines()[-1].endswith("image folder not found (images=...)")
    assert "Traceback" not in result.stdout + result.stderr


def test_coco_segments_and_ids():
    sem = np.array([[0, 0, 13, 13], [0, 255, 13, 11], [10, 10, 13, 11]], np.uint8)
    inst = np.array([[0, 0, 1, 1], [0, 0, 1, 2], [0, 0, 1, 2]], np.int32)
    ids, segments = coco_segments(sem, inst, META.thing_classes)
    by_class = {s["category_id"]: s for s in segments}
    assert by_class[0]["area"] == 3 and by_class[0]["bbox"] == [0, 0, 2, 2]
    assert by_class[13]["area"] == 4 and by_class[13]["bbox"] == [2, 0, 2, 3]
    assert by_class[11]["bbox"] == [3, 1, 1, 2] and by_class[10]["bbox"] == [0, 2, 2, 1]
    assert ids[1, 1] == 0 and len(segments) == 4
    paths = [Path("d/x_leftImg8bit.png"), Path("d/a/y.jpg"), Path("d/b/y.png")]
    assert image_ids(paths, Path("d")) == ["x", "a__y", "b__y"]
