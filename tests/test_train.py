"""train.py through the composed configs: both stages, their files, and 2-process DDP on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from tests.conftest import REPO, run_script
from wsps.data.synthetic import generate
from wsps.io import InputError, read_id_list, read_label_png, read_score_mat
from wsps.train import train


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_data")
    generate(root, num_train=8, num_val=4, height=128, width=256, seed=4, num_train_extra=2)
    return root


def _cfg(tmp_path: Path, data: Path, *overrides):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="train",
            return_hydra_config=True,
            overrides=[
                f"data_root={data}",
                f"pred_root={tmp_path}/results",
                f"paths.output_dir={tmp_path}/run",
                "hydra.job.num=0",
                *overrides,
            ],
        )
    HydraConfig().set_config(cfg)
    return cfg


def test_classifier_fast_dev_run_writes_cam_labels(tmp_path, data):
    metrics = train(_cfg(tmp_path, data, "stage=classifier", "debug=fast", "selection_images=3"))
    assert 0 <= metrics["val/mAP"] <= 1 and 0.05 <= metrics["selection/cam_threshold"] <= 0.6
    assert metrics["selection/cam_images"] == 3  # the label-free choice read the first 3 training images
    assert 0 < metrics["selection/cam_precision_tags"] <= 1 and 0 <= metrics["val/cam_precision_all"] <= 1
    written = sorted((tmp_path / "results/cam/train").iterdir())
    assert len(written) == 4  # fast_dev_run predicts one batch of 4 images
    for path in written:
        image_id = path.name.replace("_leftImg8bit.png", "")
        cam = read_label_png(path)
        assert cam.shape == (128, 256) and set(np.unique(cam).tolist()) <= set(range(19)) | {255}
        truth = read_label_png(data / "gtFine/train" / image_id.split("_")[0] / f"{image_id}_gtFine_labelTrainIds.png")
        assert set(np.unique(cam).tolist()) - {255} <= set(np.unique(truth).tolist())  # only the image's own tags


def test_classifier_cam_threshold_on_the_validation_labels(tmp_path, data):
    metrics = train(_cfg(tmp_path, data, "stage=classifier", "debug=fast", "selection=val_labels", "predict=false"))
    assert 0.05 <= metrics["selection/cam_threshold"] <= 0.6 and "selection/cam_precision_tags" not in metrics
    assert 0 <= metrics["val/cam_precision_all"] <= 1 and 0 <= metrics["val/cam_coverage_all"] <= 1


def test_segmenter_fast_dev_run_and_generate_gt_reads_its_files(tmp_path, data):
    metrics = train(_cfg(tmp_path, data, "stage=segmenter", "debug=fast"))
    assert {"val/PQ", "val/PQ_th", "val/PQ_st", "val/mIoU", "train/loss"} <= set(metrics)
    per_class = [v for k, v in metrics.items() if k.startswith("val/IoU/")]
    assert per_class and np.mean(per_class) == pytest.approx(metrics["val/mIoU"], abs=1e-6)
    results = tmp_path / "results"
    ids = read_id_list(data / "lists/train_id.txt")
    for image_id in ids:
        sem = read_label_png(results / "pred_sem_raw" / f"{image_id}_leftImg8bit.png")
        feat = read_score_mat(results / "pred_flat_feat" / f"{image_id}_leftImg8bit.mat")
        assert sem.shape == feat.shape == (128, 256) and feat.dtype == np.float32
        assert 1 / 19 - 1e-6 <= feat.min() and feat.max() <= 1
        assert (results / "panoptic" / f"{image_id}_panoptic.png").exists()
    # the next round: boxes, cues and generate_gt on these predictions
    assert run_script(["-m", "wsps.prepare", f"data_root={data}", "dataset=synthetic"], cwd=tmp_path).returncode == 0
    assert (
        run_script(
            ["-m", "wsps.cues", f"data_root={data}", "dataset=synthetic", f"pred_root={results}"], cwd=tmp_path
        ).returncode
        == 0
    )
    gt = run_script(
        [
            str(REPO / "generate_gt.py"),
            "dataset=synthetic",
            f"data_root={data}",
            f"pred_root={results}",
            "score_thresh=0.1",
        ],
        cwd=tmp_path,
    )
    assert gt.returncode == 0, gt.stdout + gt.stderr
    assert "8 image(s): 8 written" in gt.stdout + gt.stderr
    # the pseudo-GT's quality against the true labels, as `python -m wsps.eval` reports it
    scored = run_script(
        ["-m", "wsps.eval", f"data_root={data}", "dataset=synthetic", f"labels={results}", f"work_dir={tmp_path}/eval"],
        cwd=tmp_path,
    )
    report = scored.stdout + scored.stderr
    assert scored.returncode == 0, report
    scores = json.loads(report.split("8 images of train: ")[1].splitlines()[0])
    assert {"mIoU", "PQ", "PQ_th", "PQ_st", "SQ", "RQ", "IoU/road"} <= set(scores) and 0 < scores["mIoU"] < 1
    assert np.mean([v for k, v in scores.items() if k.startswith("IoU/")]) == pytest.approx(
        scores["mIoU"], abs=1e-4
    )  # printed to 4 places
    # and a segmenter trains on that pseudo-GT
    metrics = train(
        _cfg(tmp_path / "again", data, "stage=segmenter", "debug=fast", f"labels={results}", "predict=false")
    )
    assert metrics["train/loss"] > 0


def test_segmenter_trains_on_train_extra_with_its_coarse_or_pseudo_labels(tmp_path, data):
    metrics = train(_cfg(tmp_path, data, "stage=segmenter", "debug=fast", "extra_split=train_extra", "predict=false"))
    assert metrics["train/loss"] > 0  # the true coarse labels (full supervision)
    cfg = _cfg(tmp_path, data, "stage=segmenter", "extra_split=train_extra", f"extra_labels={tmp_path}/missing")
    with pytest.raises(InputError, match="missing/pred_sem_clean: label folder not found"):
        train(cfg)


def test_class_balance_weighs_the_semantic_loss_by_the_training_labels(tmp_path, data):
    plain = train(
        _cfg(tmp_path / "plain", data, "stage=segmenter", "debug=fast", "predict=false", "model.class_balance=false")
    )
    balanced = train(_cfg(tmp_path / "balanced", data, "stage=segmenter", "debug=fast", "predict=false"))
    assert plain["train/loss_center"] == pytest.approx(balanced["train/loss_center"])  # the same batch and weights
    assert balanced["train/loss_semantic"] != pytest.approx(plain["train/loss_semantic"], rel=1e-3)


def test_semi_supervision_mixes_true_labels(tmp_path, data):
    from wsps.train import label_source

    cfg = _cfg(tmp_path, data, "labels=somewhere", "true_gt_fraction=0.25")
    source = label_source(cfg)
    assert len(source.true_gt_ids) == 2 and source.true_gt_ids <= set(read_id_list(data / "lists/train_id.txt"))
    assert source.sem_dir.endswith("somewhere/pred_sem_clean")


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path, data):
    result = run_script(
        [
            str(REPO / "train.py"),
            "stage=segmenter",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.sync_batchnorm=false",
            "trainer.max_epochs=1",
            "logger=csv",
            f"data_root={data}",
            f"pred_root={tmp_path}/results",
            f"hydra.run.dir={tmp_path}/run",
            "data.batch_size=2",
            "data.val_batch_size=2",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "distributed_backend=gloo" in out and "All distributed processes registered" in out
    assert "val/PQ=" in out
    assert len(list((tmp_path / "results/pred_sem_raw").iterdir())) == 8  # both processes wrote their half


def test_bad_inputs_end_with_one_line_naming_the_file(tmp_path):
    root = tmp_path / "data"
    generate(root, num_train=4, num_val=2, height=64, width=128, seed=2)
    common = ["stage=segmenter", "debug=fast", f"data_root={root}", "canvas_size=[64,128]", f"pred_root={tmp_path}/r"]
    missing = run_script([str(REPO / "train.py"), *common[:2], f"data_root={tmp_path}/nowhere"], cwd=tmp_path)
    assert missing.returncode == 2 and f"{tmp_path}/nowhere: data root not found" in missing.stderr + missing.stdout
    assert "Traceback" not in missing.stderr + missing.stdout
    image_id = read_id_list(root / "lists/train_id.txt")[0]
    image = root / "leftImg8bit/train" / image_id.split("_")[0] / f"{image_id}_leftImg8bit.png"
    image.write_bytes(image.read_bytes()[:200])  # truncated
    for workers in (0, 1):
        corrupt = run_script([str(REPO / "train.py"), *common, f"data.num_workers={workers}"], cwd=tmp_path)
        out = corrupt.stdout + corrupt.stderr
        assert corrupt.returncode == 2, out[-2000:]
        assert f"{image}: not a readable image" in out and "Traceback" not in out


def test_an_ema_teacher_ends_the_segmenters_training(tmp_path, data):
    """callbacks=ema: the weights that end the training (and predict) are the moving average's."""
    import torch
    from pytorch_lightning.callbacks import EMAWeightAveraging

    seen = {}

    class Spy(EMAWeightAveraging):
        def on_train_end(self, trainer, pl_module):
            seen["last"] = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
            super().on_train_end(trainer, pl_module)
            seen["ema"] = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    cfg = _cfg(
        tmp_path,
        data,
        "stage=segmenter",
        "callbacks=ema",
        "trainer.max_epochs=2",
        "predict=false",
        "logger=csv",
        "data.batch_size=2",
    )
    cfg.callbacks.ema._target_ = f"{__name__}.Spy"
    globals()["Spy"] = Spy
    metrics = train(cfg)
    assert 0 <= metrics["val/mIoU"] <= 1
    key = "net.segmentation_head.0.weight"
    assert not torch.equal(seen["last"][key], seen["ema"][key])  # the average replaced the last step's weights


def test_a_step_leaves_its_figures_in_metrics_json_whatever_the_logger(tmp_path, data):
    """No logger at all: the figures are in <output_dir>/metrics.json, and a finished run started
    again from its checkpoint still returns the training loss its first attempt left there."""
    common = ["stage=segmenter", "trainer.max_epochs=1", "predict=false", "~logger", "data.batch_size=4"]
    metrics = train(_cfg(tmp_path, data, *common))
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written == pytest.approx(metrics) and {"train/loss", "val/PQ", "val/mIoU"} <= set(written)
    assert not (tmp_path / "run" / "csv").exists()
    again = train(_cfg(tmp_path, data, *common, f"ckpt_path={tmp_path}/run/checkpoints/last.ckpt"))
    assert again["train/loss"] == pytest.approx(metrics["train/loss"]) and again["val/PQ"] == pytest.approx(
        metrics["val/PQ"]
    )
    train(_cfg(tmp_path, data, *common, "trainer.max_epochs=2"))  # a fresh start forgets the first run's figures
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["train/loss"] != metrics["train/loss"]


TINY_NETS = '''
import torch
from torch import nn


class TinySegmentationNet(nn.Module):
    """Images (N, 3, H, W) in [0, 1], H and W even -> (N, classes, H, W)."""

    def __init__(self, classes, width):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(width, classes, 1))

    def forward(self, image):
        return nn.functional.interpolate(self.body(image * 2 - 1), size=image.shape[-2:], mode="bilinear")


class TinyFeatures(nn.Module):
    """Crops (N, 3, h, w) in [0, 1] -> features (N, width, h / 4, w / 4)."""

    def __init__(self, width):
        super().__init__()
        self.out_channels = width
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU())

    def forward(self, crops):
        return self.body(crops * 2 - 1)
'''


def test_another_network_is_one_module_and_one_yaml(tmp_path, data, monkeypatch):
    """A network defined outside wsps (a module and a YAML per stage on the search paths) trains
    both stages through train.py, and its checkpoint loads back into the same network."""
    from wsps.models.segmenter import PanopticSegmenter

    plugin = tmp_path / "plugin"
    (plugin / "conf" / "model" / "net").mkdir(parents=True)
    (plugin / "tiny_nets.py").write_text(TINY_NETS)
    nets = plugin / "conf" / "model" / "net"
    (nets / "tiny.yaml").write_text("_target_: tiny_nets.TinySegmentationNet\nwidth: 8\n")
    (nets / "tiny_features.yaml").write_text("_target_: tiny_nets.TinyFeatures\nwidth: 8\n")
    monkeypatch.syspath_prepend(str(plugin))
    search = f"hydra.searchpath=[file://{plugin / 'conf'}]"

    cfg = _cfg(tmp_path / "c", data, search, "stage=classifier", "model/net=tiny_features", "debug=fast")
    metrics = train(cfg)
    assert 0 <= metrics["val/mAP"] <= 1 and 0.05 <= metrics["selection/cam_threshold"] <= 0.6
    written = sorted((tmp_path / "c/results/cam/train").iterdir())
    assert len(written) == 4
    assert all(set(np.unique(read_label_png(p)).tolist()) <= set(range(19)) | {255} for p in written)

    one_epoch = ["trainer.max_epochs=1", "+trainer.limit_train_batches=2", "predict=false", "logger=csv"]
    cfg = _cfg(tmp_path / "s", data, search, "stage=segmenter", "model/net=tiny", *one_epoch)
    metrics = train(cfg)
    assert {"val/PQ", "val/mIoU", "train/loss"} <= set(metrics) and 0 <= metrics["val/mIoU"] <= 1
    model = PanopticSegmenter.load_from_checkpoint(tmp_path / "s/run/checkpoints/last.ckpt").eval()
    assert type(model.net).__name__ == "TinySegmentationNet" and model.net.body[0].out_channels == 8
    state = torch.load(tmp_path / "s/run/checkpoints/last.ckpt", weights_only=False)["state_dict"]
    assert sorted(state) == sorted(f"net.{k}" for k in model.net.state_dict())
    assert all(torch.equal(state[f"net.{k}"], v) for k, v in model.net.state_dict().items())
    out = model(torch.rand(1, 3, 64, 128))
    assert out["sem"].shape == (1, 19, 64, 128) and out["offset"].shape == (1, 2, 64, 128)
