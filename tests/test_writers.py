"""The prediction writers' process pool: the same files whatever the number of workers, a failing
image reported while the others are written, and the pool's size."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from wsps.data.metadata import dataset_meta
from wsps.io import InputError, read_score_mat
from wsps.models.build import build_model
from wsps.models.crf import dense_crf, dense_crf_torch
from wsps.models.writers import CamLabelWriter, SegmentationWriter, pool_size

CITYSCAPES = dataset_meta("cityscapes")
NET = ["model.net.encoder_name=tu-regnetx_002", "model.net.encoder_weights=null"]
CANVAS, CROP = (64, 96), (24, 32)
CRF = {"sxy": 10, "srgb": 8, "compat": 10, "gaussian_sxy": 3, "gaussian_compat": 3, "iterations": 3}


def _images(n: int, seed: int) -> torch.Tensor:
    """(n, H, W, 3) uint8 images of coloured blocks, so that superpixels and the CRF have edges."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (n, 4, 6, 3), dtype=np.uint8)
    return torch.from_numpy(np.ascontiguousarray(blocks.repeat(CANVAS[0] // 4, 1).repeat(CANVAS[1] // 6, 2)))


def _model(stage: str, **values):
    """A small randomly initialised network of `stage` on Cityscapes' classes."""
    torch.manual_seed(0)
    return build_model(stage, NET, class_names=CITYSCAPES.class_names, **values).eval()


def _segmenter_prediction(n: int = 3, backend: str = "cpu"):
    model = _model("segmenter", thing_classes=CITYSCAPES.thing_classes, crf={**CRF, "backend": backend})
    rgb = _images(n, seed=1)
    batch = {"id": [f"img{k}" for k in range(n)], "rgb": rgb, "image": rgb.permute(0, 3, 1, 2).float() / 255}
    with torch.no_grad():
        return model, batch, model.predict_step(batch, 0)


def _classifier_prediction(n: int = 3, backend: str = "cpu"):
    model = _model("classifier", canvas_size=list(CANVAS), crop_size=list(CROP), cam_threshold=0.3)
    model.hparams.cam_crf = {**model.hparams.cam_crf, "backend": backend}
    image = _images(n, seed=2)
    crops = torch.stack(
        [torch.stack([img.permute(2, 0, 1)[:, r, c].float() / 255 for r, c in model.crops]) for img in image]
    )
    tags = torch.from_numpy(np.random.default_rng(3).random((n, len(model.crops), len(CITYSCAPES.class_names))) < 0.4)
    batch = {"id": [f"img{k}" for k in range(n)], "image": image, "crops": crops, "tags": tags.float()}
    with torch.no_grad():
        return model, batch, model.predict_step(batch, 0)


def _write(writer, model, items) -> None:
    writer.on_predict_start(None, model)
    writer.write_on_batch_end(None, model, [dict(item) for item in items[:2]], None, None, 0)
    writer.write_on_batch_end(None, model, [dict(item) for item in items[2:]], None, None, 1)
    writer.on_predict_end(None, model)


def _files(root: Path) -> dict[str, bytes]:
    """Every file's bytes; a MAT-file's array (its header holds the time it was written)."""
    return {
        str(p.relative_to(root)): read_score_mat(p).tobytes() if p.suffix == ".mat" else p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _segmentation_writer(root: Path, workers: int) -> SegmentationWriter:
    return SegmentationWriter(
        str(root),
        CITYSCAPES.thing_classes,
        "pred_sem_raw",
        "pred_flat_feat",
        "panoptic",
        "%s_leftImg8bit.png",
        "%s_leftImg8bit.mat",
        num_workers=workers,
        in_flight=1,
    )


def test_segmentation_files_are_the_same_for_any_number_of_workers(tmp_path):
    model, batch, items = _segmenter_prediction()
    written = {}
    for workers in (0, 1, 2):
        _write(_segmentation_writer(tmp_path / str(workers), workers), model, items)
        written[workers] = _files(tmp_path / str(workers))
    assert len(written[0]) == 3 * 4  # per image: labels, scores, panoptic PNG and JSON
    assert written[1] == written[0] and written[2] == written[0]
    # the files hold the CRF's winning class and its marginal
    from PIL import Image

    for image_id, item in zip(batch["id"], items):
        marginals = dense_crf(item["probs"], item["rgb"], **CRF)
        label = np.asarray(Image.open(tmp_path / "2" / "pred_sem_raw" / f"{image_id}_leftImg8bit.png"))
        score = read_score_mat(tmp_path / "2" / "pred_flat_feat" / f"{image_id}_leftImg8bit.mat")
        assert np.array_equal(label, marginals.argmax(0)) and np.array_equal(score, marginals.max(0))


def test_cam_label_files_are_the_same_for_any_number_of_workers(tmp_path):
    model, batch, items = _classifier_prediction()
    written = {}
    for workers in (0, 2):
        _write(CamLabelWriter(str(tmp_path / str(workers)), "%s.png", num_workers=workers, in_flight=1), model, items)
        written[workers] = _files(tmp_path / str(workers))
    assert sorted(written[0]) == ["img0.png", "img1.png", "img2.png"]
    assert written[2] == written[0]
    # the same labels as the model's own path (stitched, pooled and masked CAMs, CRF) in one process
    from PIL import Image

    maps = model.stitched_cams(batch)
    for k, image_id in enumerate(batch["id"]):
        expected = model.cam_label_map(maps[k], batch["image"][k], 0.3).numpy()
        assert np.array_equal(np.asarray(Image.open(tmp_path / "2" / f"{image_id}.png")), expected)
        labelled = expected[expected != 255]
        allowed = model.allowed(batch["tags"][k]).numpy()
        assert labelled.size and all(allowed[c].any() for c in np.unique(labelled))


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_superpixels_from_the_loader_give_the_same_cam_labels(tmp_path, backend):
    """`data.superpixels_in_loader`: a batch that carries the images' superpixels gives the CAM
    labels the model makes when it computes them itself (with the CRF in the pool or in
    predict_step), and those superpixels are the ones used: one segment per image changes them."""
    from wsps.data.transforms import superpixels

    model, batch, items = _classifier_prediction(backend=backend)
    options = model.hparams.cam_superpixels
    segments = torch.stack([torch.from_numpy(superpixels(img.numpy(), **options)) for img in batch["image"]])
    with torch.no_grad():
        loaded = model.predict_step({**batch, "segments": segments}, 0)
        single = model.predict_step({**batch, "segments": torch.zeros_like(segments)}, 0)
    labels = {}
    for name, predicted in (("own", items), ("loaded", loaded), ("single", single)):
        _write(CamLabelWriter(str(tmp_path / name), "%s.png", num_workers=0, in_flight=1), model, predicted)
        labels[name] = _files(tmp_path / name)
    assert len(labels["own"]) == 3 and labels["loaded"] == labels["own"]
    assert labels["single"] != labels["own"]
    if backend == "cpu":  # the pool gets the loader's superpixels with the rest of an image's arrays
        assert np.array_equal(loaded[0]["segments"], segments[0].numpy()) and "segments" not in items[0]


def test_a_crf_on_the_device_gives_the_same_files_for_any_number_of_workers(tmp_path):
    """`crf.backend: gpu`: the CRF runs in torch in predict_step (here on the CPU), the pool does the rest."""
    from PIL import Image

    model, batch, items = _segmenter_prediction(backend="gpu")
    assert "probs" not in items[0] and model.finish_image().keywords["crf"] is None
    for workers in (0, 2):
        _write(_segmentation_writer(tmp_path / str(workers), workers), model, items)
    assert _files(tmp_path / "2") == _files(tmp_path / "0") and len(_files(tmp_path / "0")) == 12
    probs = model(batch["image"])["sem"].float().softmax(1)
    for image_id, p, rgb in zip(batch["id"], probs, batch["rgb"]):
        expected = dense_crf_torch(p, rgb, **CRF).argmax(0).numpy()
        label = np.asarray(Image.open(tmp_path / "0" / "pred_sem_raw" / f"{image_id}_leftImg8bit.png"))
        assert np.array_equal(label, expected)

    model, batch, items = _classifier_prediction(backend="gpu")
    assert set(items[0]) == {"id", "cam_label"}
    _write(CamLabelWriter(str(tmp_path / "cam"), "%s.png", num_workers=2, in_flight=1), model, items)
    maps = model.stitched_cams(batch)
    for k, image_id in enumerate(batch["id"]):
        expected = model.cam_label_map(maps[k], batch["image"][k], 0.3).numpy()
        assert np.array_equal(np.asarray(Image.open(tmp_path / "cam" / f"{image_id}.png")), expected)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_failing_image_is_reported_and_the_others_are_written(tmp_path, caplog, workers):
    model, batch, items = _segmenter_prediction()
    items = [dict(item) for item in items]
    items[1]["rgb"] = items[1]["rgb"][:10]  # the CRF refuses an image of another size
    writer = _segmentation_writer(tmp_path, workers)
    with caplog.at_level(logging.ERROR), pytest.raises(InputError, match=r"1 of 3 images' predictions failed.*img1"):
        _write(writer, model, items)
    written = _files(tmp_path)
    assert sorted(k for k in written if k.startswith("pred_sem_raw")) == [
        "pred_sem_raw/img0_leftImg8bit.png",
        "pred_sem_raw/img2_leftImg8bit.png",
    ]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "img1" in errors[0] and "\n" not in errors[0]


def test_pool_size():
    assert pool_size(3, on_cpu=True) == 3 and pool_size("0", on_cpu=False) == 0
    assert pool_size("auto", on_cpu=True, cores=2) == 0  # the network's threads use every core
    assert pool_size("auto", on_cpu=False, cores=16) == 15  # one core drives the GPU
    assert pool_size("auto", on_cpu=False, cores=1) == 1
    with pytest.raises(ValueError, match="num_workers=-1"):
        pool_size(-1, on_cpu=True)
