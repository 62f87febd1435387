"""The self-training driver, reduced to a few images and epochs: results, resume, modes, W&B, sweeps."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from PIL import Image

from tests.conftest import REPO, SMALL, run_script
from wsps.data.cityscapes import gt_path
from wsps.data.synthetic import DRAWN_WITH, generate
from wsps.io import read_label_png, write_label_png, write_png
from wsps.loop import Loop, StepFailed
from wsps.loop.record import convert, first_difference


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("loop_data")
    generate(root, num_train=6, num_val=3, height=128, width=256, seed=5)
    return root


def _loop(data: Path, run_dir: Path, *overrides):
    result = run_script(
        [str(REPO / "train.py"), f"data_root={data}", f"hydra.run.dir={run_dir}", *SMALL, *overrides],
        cwd=run_dir.parent,
        timeout=900,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def weak_run(data, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("weak") / "run"
    code, out = _loop(data, run_dir)
    assert code == 0, out[-3000:]
    return run_dir


def test_weak_loop_writes_every_step_and_the_results(weak_run, data):
    results = json.loads((weak_run / "results.json").read_text())
    assert results["supervision"] == "weak" and 1 <= len(results["rounds"]) <= 2
    # the loop uses the data on disk, and says that it was drawn otherwise than the config says
    assert "was drawn with seed=5 (config: 0)" in (weak_run / "cli.log").read_text()
    for k, row in enumerate(results["rounds"], start=1):
        assert row["round"] == k and row["train_loss"] > 0
        assert set(row["model"]) == {"PQ", "PQ_th", "PQ_st", "mIoU"} and all(0 <= v <= 1 for v in row["model"].values())
        assert set(row["pseudo_gt"]) == {"mIoU", "PQ", "PQ_th", "PQ_st"} and row["pseudo_gt"]["mIoU"] > 0.05
        for source in ("model", "pseudo_gt"):  # per-class IoUs, whose mean is the mIoU
            assert "road" in row["iou"][source] and np.mean(list(row["iou"][source].values())) == pytest.approx(
                row[source]["mIoU"]
            )
        ids = (data / "lists/train_id.txt").read_text().split()
        for image_id in ids:
            assert read_label_png(weak_run / f"round_{k}/pseudo_gt/sem/{image_id}_leftImg8bit.png").shape == (128, 256)
            assert (weak_run / f"round_{k}/pred/pred_flat_feat/{image_id}_leftImg8bit.mat").exists()
    assert results["final"] == results["rounds"][-1]["model"]
    table = (weak_run / "results.md").read_text()
    assert "| round | PQ | PQ_th | PQ_st | mIoU | pseudo-GT mIoU | pseudo-GT PQ | train loss |" in table
    last = results["rounds"][-1]
    assert f"| road | {last['iou']['model']['road']:.3f} | {last['iou']['pseudo_gt']['road']:.3f} |" in table
    state = json.loads((weak_run / "state.json").read_text())
    assert {"data", "prepare", "cues", "classifier", "round_1/pseudo_gt", "round_1/segmenter"} <= set(state["steps"])
    assert (weak_run / "cues/mcg_and_grabcut/train").is_dir() and (weak_run / "cues/cam/train").is_dir()
    assert (weak_run / "round_1/generate_gt.yaml").exists()  # each step's resolved config
    assert "max_epochs: 1\n" in (weak_run / "round_1/segmenter/train.yaml").read_text()
    metrics = (weak_run / "round_1/segmenter/csv/version_0/metrics.csv").read_text().splitlines()
    assert "train/loss_tags" in metrics[0].split(",")  # the crops' image tags are a loss of the weak segmenter


def test_round_two_uses_the_later_rounds_preset_and_the_chosen_threshold(weak_run):
    if not (weak_run / "round_2").exists():
        pytest.skip("the loop stopped after one round")
    config = (weak_run / "round_2/generate_gt.yaml").read_text()
    assert "pred_dir: pred_sem_raw" in config and "run_score_thresh: true" in config
    state = json.loads((weak_run / "state.json").read_text())
    chosen = state["steps"]["round_2/pseudo_gt"]["selection/score_threshold"]  # from the tags and boxes
    assert f"score_thresh: {chosen}" in config and 0.05 <= chosen <= 0.99
    assert state["settings"]["selection"] == "tags_and_boxes" and "round_1/pseudo_gt" in state["steps"]
    assert "selection/score_threshold" not in state["steps"]["round_1/pseudo_gt"]  # the first round has no scores
    assert "pred_dir: cam/train" in (weak_run / "round_1/generate_gt.yaml").read_text()
    assert "run_fill_from_prior: false" in config  # the reference's cleaning (keep_previous_labels=false)
    segmenter = (weak_run / "round_2/segmenter/train.yaml").read_text()
    assert "max_epochs: 2\n" in segmenter  # a round's override wins
    assert f"init_ckpt: {weak_run}/round_1/segmenter/checkpoints/last.ckpt" in segmenter  # warm start


def test_the_gpu_summary_reads_the_loops_log(weak_run, tmp_path):
    """benchmarks/gpu_summary.py on a real loop's log: every step, each training's seconds with the
    GPU's use during it, each writer's images and rate (the issue's figures), the last round."""
    from benchmarks.gpu_summary import read_log, summarise_loop

    (tmp_path / "weak").mkdir()
    shutil.copy(weak_run / "cli.log", tmp_path / "weak" / "cli.log")
    shutil.copy(weak_run / "results.json", tmp_path / "weak" / "results.json")
    steps = read_log(tmp_path / "weak" / "cli.log", end=datetime.now())
    names = [step.name for step in steps]
    assert names[:4] == ["data", "prepare", "cues", "classifier"] and "round_1/segmenter" in names
    by_name = {step.name: step for step in steps}
    classifier, segmenter = by_name["classifier"], by_name["round_1/segmenter"]
    assert len(classifier.fits) == len(segmenter.fits) == 1
    (start, stop), (image_writer, images, _, rate, pool) = segmenter.fits[0], segmenter.writers[0]
    assert segmenter.start <= start <= stop <= segmenter.end
    assert image_writer == "SegmentationWriter" and images == 6 and rate > 0 and pool == 0  # 6 images, on a CPU
    assert [w[:2] for w in classifier.writers] == [("CamLabelWriter", 6)]
    assert [name for name, _ in classifier.choices] == ["CAM threshold"]
    # the GPU busy 80% during the segmenters' training, idle otherwise
    fits = [fit for step in steps if step.name.endswith("/segmenter") for fit in step.fits]
    samples, t = [], steps[0].start
    while t < steps[-1].end:
        samples.append((t, 80.0 if any(a <= t < b for a, b in fits) else 0.0))
        t += timedelta(milliseconds=100)
    text = "\n".join(summarise_loop("weak", tmp_path, samples))
    assert "still running or killed" in text  # no weak.seconds: a loop cut short is summarised as far as it went
    assert "GPU busy during the segmenter's training: 80% (target >= 70%)" in text
    assert "predictions: slowest" in text and "CAM labels: slowest" in text and "last round: PQ" in text


def test_starting_again_skips_what_is_done(weak_run, data):
    before = (weak_run / "results.json").read_text()
    code, out = _loop(data, weak_run)
    assert code == 0 and out.count("done before, skipped") >= 6
    assert (weak_run / "results.json").read_text() == before


def test_an_interrupted_step_is_redone_alone(weak_run, data, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(weak_run, run_dir)
    state = json.loads((run_dir / "state.json").read_text())
    last = [k for k in state["steps"] if k.endswith("segmenter")][-1]
    del state["steps"][last]
    for setting in ("stuff_cues", "selection", "selection_images"):  # a record of before these settings
        del state["settings"][setting]
    del state["version"]  # records of that time carried no version
    (run_dir / "state.json").write_text(json.dumps(state))
    code, out = _loop(data, run_dir)  # it used the CAMs and chose on the validation labels, as runs of then did
    assert code == 1 and "holds a run with other loop settings" in out
    code, out = _loop(data, run_dir, "selection=val_labels")
    assert code == 0, out[-2000:]
    assert f"step {last}" in out and "step cues\n" not in out and "step classifier\n" not in out
    # its checkpoint holds every epoch already: training resumes from it, ends, and validates
    assert f"Restoring states from the checkpoint path at {run_dir}/{last}/checkpoints/last.ckpt" in out
    redone = json.loads((run_dir / "state.json").read_text())["steps"][last]
    assert {"val/PQ", "val/mIoU", "train/loss"} <= set(redone)


def test_val_label_selection_takes_the_previous_segmenters_threshold(weak_run, data, tmp_path):
    if not (weak_run / "round_2").exists():
        pytest.skip("the loop stopped after one round")
    run_dir = tmp_path / "run"
    shutil.copytree(weak_run, run_dir)
    state = json.loads((run_dir / "state.json").read_text())
    for step in [k for k in state["steps"] if k.startswith("round_2/")]:
        del state["steps"][step]
    state["settings"]["selection"] = "val_labels"
    del state["settings"]["selection_images"]
    (run_dir / "state.json").write_text(json.dumps(state))
    _in_process(data, run_dir, "selection=val_labels")
    chosen = state["steps"]["round_1/segmenter"]["val/score_threshold"]
    assert f"score_thresh: {chosen}\n" in (run_dir / "round_2/generate_gt.yaml").read_text()
    recorded = json.loads((run_dir / "state.json").read_text())["steps"]["round_2/pseudo_gt"]
    assert recorded["selection/score_threshold"] == chosen


def _permute_val_labels(data: Path, root: Path) -> None:
    """A copy of `data` whose validation labels have their classes permuted (stuff among stuff,
    things among things), official-id maps removed: only scoring may read them."""
    shutil.copytree(data, root)
    table = np.arange(256)
    table[:11], table[11:19] = np.roll(np.arange(11), 3), np.roll(np.arange(11, 19), 2)
    for path in sorted((root / "gtFine" / "val").rglob("*.png")):
        if path.name.endswith("_labelTrainIds.png"):
            write_label_png(path, table[read_label_png(path)].astype(np.uint8))
        elif path.name.endswith("_instanceTrainIds.png"):
            ins = np.array(Image.open(path)).astype(np.int64)  # 16-bit: trainId * 1000 + k
            thing = ins >= 1000
            ins[thing] = table[ins[thing] // 1000] * 1000 + ins[thing] % 1000
            ins[~thing] = table[ins[~thing]]
            write_png(path, ins.astype(np.uint16))
        else:
            path.unlink()


def test_no_choice_of_the_weak_loop_reads_the_validation_labels(weak_run, data, tmp_path):
    permuted = tmp_path / "permuted"
    _permute_val_labels(data, permuted)
    run_dir = tmp_path / "run"
    code, out = _loop(permuted, run_dir)
    assert code == 0, out[-3000:]
    first, second = (json.loads((r / "state.json").read_text()) for r in (weak_run, run_dir))
    assert list(first["steps"]) == list(second["steps"])  # the same steps and rounds

    def chosen(state):
        return {step: {k: v for k, v in m.items() if k.startswith("selection/")} for step, m in state["steps"].items()}

    assert chosen(first) == chosen(second) and chosen(first)["classifier"]["selection/cam_threshold"] > 0
    assert "selection/cam_precision_tags" in first["steps"]["classifier"]  # chosen on the tags

    def config(run, path):
        return (
            (run / path)
            .read_text()
            .replace(str(run), "RUN")
            .replace(str(data if run == weak_run else permuted), "DATA")
        )

    rounds = [k for k in first["steps"] if k.endswith("/pseudo_gt")]
    for path in ["classifier/train.yaml"] + [
        f"{k.split('/')[0]}/{f}" for k in rounds for f in ("generate_gt.yaml", "segmenter/train.yaml")
    ]:
        assert config(weak_run, path) == config(run_dir, path), path
    for folder in ["cues/cam/train"] + [f"{k.split('/')[0]}/pseudo_gt/{m}" for k in rounds for m in ("sem", "ins")]:
        names = sorted(p.name for p in (weak_run / folder).iterdir())
        assert names and names == sorted(p.name for p in (run_dir / folder).iterdir())
        for name in names:
            assert np.array_equal(read_label_png(weak_run / folder / name), read_label_png(run_dir / folder / name)), (
                name
            )
    scored = [json.loads((r / "results.json").read_text())["rounds"][0]["model"]["mIoU"] for r in (weak_run, run_dir)]
    assert scored[0] != scored[1]  # the permuted labels were read, to score


def test_train_extra_adds_coarse_images_to_the_weak_loop(data, tmp_path):
    """loop.train_extra: the embedded data gains a coarse train_extra split (train untouched); its
    boxes, M&G cue and CAM labels (the threshold chosen on train) make a semantic pseudo-GT with the
    release's train_extra settings, round 2 cleaning the previous model's predictions of them; the
    segmenter trains on both splits."""
    root = tmp_path / "data"
    shutil.copytree(data, root)
    run_dir = tmp_path / "run"
    _in_process(
        root,
        run_dir,
        "loop.train_extra=true",
        'loop.steps.synthetic=["num_train_extra=4"]',
        "loop.keep_previous_labels=true",  # the prior fill on the coarse images too
    )
    assert (root / "lists/train_id.txt").read_text() == (data / "lists/train_id.txt").read_text()
    extra = (root / "lists/train_extra_id.txt").read_text().split()
    state = json.loads((run_dir / "state.json").read_text())
    steps = state["steps"]
    assert steps["data"]["generated"] == 4 and state["settings"]["train_extra"] is True
    assert steps["prepare_extra"]["images"] == 4 and steps["cues_extra"]["images"] == 4
    rounds = len(json.loads((run_dir / "results.json").read_text())["rounds"])
    threshold = steps["classifier"]["selection/cam_threshold"]
    assert f"cam_threshold: {threshold}" in (run_dir / "classifier_extra/train.yaml").read_text()
    for image_id in extra:
        coarse = read_label_png(gt_path(root, "train_extra", image_id, "labelTrainIds", "gtCoarse"))
        cam = read_label_png(run_dir / f"cues/cam/train_extra/{image_id}_leftImg8bit.png")
        assert cam.shape == (128, 256) and set(np.unique(cam)) - {255} <= set(np.unique(coarse)) - {255}
        assert (run_dir / f"cues/mcg_and_grabcut/train_extra/{image_id}_leftImg8bit.png").exists()
        for k in range(1, rounds + 1):
            sem = read_label_png(run_dir / f"round_{k}/pseudo_gt_extra/sem/{image_id}_leftImg8bit.png")
            assert sem.shape == (128, 256) and set(np.unique(sem)) <= set(range(19)) | {255}
    assert not (run_dir / "round_1/pseudo_gt_extra/ins").exists()  # no instances: save_ins=false
    config = (run_dir / "round_1/pseudo_gt_extra/generate_gt.yaml").read_text()
    for setting in ("split: train_extra", "pred_dir: cam/train_extra", "run_apply_bbox_prior: false"):
        assert setting in config  # the first round's preset and train_extra's together
    assert "run_check_image_level_tags: false" in config and "save_ins: false" in config
    assert 0 < steps["round_1/pseudo_gt_extra"]["pseudo_gt_extra/labelled"] <= 1
    segmenter = (run_dir / "round_1/segmenter/train.yaml").read_text()
    assert "extra_split: train_extra" in segmenter and f"extra_labels: {run_dir}/round_1/pseudo_gt_extra" in segmenter
    if rounds == 2:
        for image_id in extra:  # round 1's model predicted the coarse images for round 2
            assert (run_dir / f"round_1/pred/pred_flat_feat/{image_id}_leftImg8bit.mat").exists()
        config = (run_dir / "round_2/pseudo_gt_extra/generate_gt.yaml").read_text()
        chosen = steps["round_2/pseudo_gt"]["selection/score_threshold"]
        assert "run_score_thresh: true" in config and f"score_thresh: {chosen}" in config
        assert f"prior_dir: {run_dir}/round_1/pseudo_gt_extra/sem" in config


def test_other_settings_in_the_same_folder_are_refused(weak_run, data):
    code, out = _loop(data, weak_run, "loop.tolerance=0.5")
    assert code == 1 and "holds a run with other loop settings" in out


def test_a_run_takes_over_the_first_steps_of_another(weak_run, data, tmp_path):
    """loop.reuse_from: prepare, cues and the classifier are copied from a run whose configs for
    them are the same, with their metrics, and the rounds go on from there; refused in one line
    naming the step where a config differs. A donor may have been moved since it ran; of a list of
    donors the first that fits is taken."""
    code, out = _loop(
        data, tmp_path / "other", f"loop.reuse_from={weak_run}", 'loop.steps.classifier=["trainer.max_epochs=2"]'
    )
    assert code == 1 and "its classifier step ran with another config" in out and "classifier/train.yaml: '" in out
    assert not (tmp_path / "other" / "classifier").exists()  # nothing copied
    moved = tmp_path / "moved"  # a donor moved after it ran: its configs name the folder it ran in
    shutil.copytree(weak_run, moved)
    run_dir = tmp_path / "run"
    code, out = _loop(data, run_dir, f"loop.reuse_from=['{tmp_path / 'nowhere'}','{moved}']", "loop.max_rounds=1")
    assert code == 0, out[-3000:]
    assert "nowhere: no run record" in out  # a list: the first donor that fits
    assert f"steps prepare, cues, classifier: taken over from {moved}" in out and "step classifier\n" not in out
    donor, state = (json.loads((r / "state.json").read_text()) for r in (weak_run, run_dir))
    for step in ("prepare", "cues", "classifier"):
        assert {k: v for k, v in state["steps"][step].items() if k != "seconds"} == {
            k: v for k, v in donor["steps"][step].items() if k != "seconds"
        }
    assert "reuse_from" not in state["settings"] and state["settings"]["max_rounds"] == 1
    for folder in ("cues/cam/train", "round_1/pseudo_gt/sem"):  # the same CAM labels, so the same first pseudo-GT
        names = sorted(p.name for p in (weak_run / folder).iterdir())
        assert names and names == sorted(p.name for p in (run_dir / folder).iterdir())
        for name in names:
            assert np.array_equal(read_label_png(weak_run / folder / name), read_label_png(run_dir / folder / name))
    assert (run_dir / "classifier/checkpoints/last.ckpt").exists() and not list(run_dir.glob(".*.partial"))
    saved = (run_dir / "classifier/train.yaml").read_text()  # the configs name this run: it can be a donor in turn
    assert str(run_dir / "cues") in saved and str(weak_run) not in saved and str(moved) not in saved


@pytest.fixture(scope="module")
def full_run(data, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("full") / "run"
    code, out = _loop(data, run_dir, "loop.supervision=full", "loop.max_rounds=1")
    assert code == 0, out[-3000:]
    return run_dir


def _check_mode(run_dir: Path, mode: str) -> None:
    results = json.loads((run_dir / "results.json").read_text())
    assert results["supervision"] == mode and len(results["rounds"]) == 1
    steps = json.loads((run_dir / "state.json").read_text())["steps"]
    assert ("cues" in steps) == (mode == "semi") and results["rounds"][0]["model"]["mIoU"] >= 0
    config = (run_dir / "round_1/segmenter/train.yaml").read_text()
    assert ("\nlabels: gt\n" in config) == (mode == "full")
    assert ("tag_weight: 0\n" in config and "tag_crop_size: null" in config) == (
        mode == "full"
    )  # the truth says what tags do
    assert ("\npredict: false\n" in config) == (mode == "full")  # no pseudo-GT is made from its predictions
    assert (run_dir / "round_1/pred/pred_sem_raw").is_dir() == (mode != "full")
    if mode == "semi":
        assert "true_gt_fraction: 0.3" in config


def test_full_supervision(full_run):
    _check_mode(full_run, "full")


def test_semi_supervision(data, tmp_path):
    _in_process(data, tmp_path / "run", "experiment=semi", "loop.max_rounds=1")
    _check_mode(tmp_path / "run", "semi")


def test_true_stuff_cues_replace_the_cams(data, tmp_path):
    """The upper-bound ablation: the CAM labels are the true stuff labels, things unlabelled, and
    the round-1 pseudo-GT's stuff is then exact wherever no thing cue or box claims it."""
    run_dir = tmp_path / "run"
    _in_process(data, run_dir, "loop.stuff_cues=truth", "loop.max_rounds=1")
    steps = json.loads((run_dir / "state.json").read_text())["steps"]
    assert "classifier" not in steps and steps["true_stuff_cues"]["images"] == 6
    for image_id in (data / "lists/train_id.txt").read_text().split():
        truth = read_label_png(gt_path(data, "train", image_id, "labelTrainIds"))
        cue = read_label_png(run_dir / f"cues/cam/train/{image_id}_leftImg8bit.png")
        stuff = truth <= 10
        assert (cue[stuff] == truth[stuff]).all() and (cue[~stuff] == 255).all()
        sem = read_label_png(run_dir / f"round_1/pseudo_gt/sem/{image_id}_leftImg8bit.png")
        unclaimed = stuff & (sem <= 10)
        assert unclaimed.mean() > 0.5 and (sem[unclaimed] == truth[unclaimed]).all()
    assert steps["round_1/pseudo_gt"]["pseudo_gt/PQ_st"] > 0.9


def _in_process(data: Path, run_dir: Path, *overrides, run: bool = True) -> None:
    """The loop as `_loop` runs it, in this process: no interpreter start-up (seconds of imports
    per run). The command-line behaviour (exit codes, logs, sweeps) is tested through train.py."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="train",
            return_hydra_config=True,
            overrides=[f"data_root={data}", f"paths.output_dir={run_dir}", *SMALL, *overrides],
        )
        HydraConfig().set_config(cfg)
        loop = Loop(cfg, run_dir)
        if run:
            loop.run()


def _refused(data: Path, run_dir: Path, *overrides) -> str:
    """What the loop says when it refuses its settings before any step."""
    with pytest.raises(StepFailed) as refusal:
        _in_process(data, run_dir, *overrides, run=False)
    return str(refusal.value)


def test_unknown_stuff_cues_are_refused(data, tmp_path):
    assert "stuff_cues=oracle: choose one of cam, truth" in _refused(data, tmp_path / "run", "loop.stuff_cues=oracle")
    out = _refused(data, tmp_path / "full", "loop.stuff_cues=truth", "loop.supervision=full")
    assert "stuff_cues=truth with supervision=full: full supervision uses no cues" in out


def test_results_notebook(weak_run, full_run, tmp_path):
    from tests.test_notebooks import execute

    (tmp_path / "runs").mkdir()
    (tmp_path / "runs/weak").symlink_to(weak_run)
    (tmp_path / "runs/full").symlink_to(full_run)
    out = execute("03_results.ipynb", {"WSPS_RUNS": str(tmp_path / "runs")})
    assert "2 run(s)" in out and "weak / full PQ" in out and "round 1: PQ" in out
    assert "per-class IoU, last round" in out and "weak pseudo-GT" in out


def test_the_embedded_data_is_generated_when_absent(tmp_path):
    data = tmp_path / "data"
    code, out = _loop(
        data,
        tmp_path / "run",
        "loop.supervision=full",
        "loop.max_rounds=1",
        'loop.steps.synthetic=["num_train=4","num_val=2","object_scale=1.5"]',
    )
    assert code == 0, out[-3000:]
    assert len((data / "lists/train_id.txt").read_text().split()) == 4
    assert OmegaConf.load(data / DRAWN_WITH).object_scale == 1.5
    steps = json.loads((tmp_path / "run/state.json").read_text())["steps"]
    assert steps["data"]["generated"] == 6 and "round_1/segmenter" in steps


def test_wandb_runs_offline(data, tmp_path):
    overrides = [o for o in SMALL if o != "logger=csv"] + [
        "loop.supervision=full",
        "loop.max_rounds=1",
        "loop.log_images=2",
    ]
    result = run_script(
        [str(REPO / "train.py"), f"data_root={data}", f"hydra.run.dir={tmp_path}/run", *overrides],
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    runs = list((tmp_path / "run/wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


@pytest.mark.slow
def test_multirun_sweep(data, tmp_path):
    result = run_script(
        [
            str(REPO / "train.py"),
            "-m",
            f"data_root={data}",
            f"hydra.sweep.dir={tmp_path}/sweep",
            *SMALL,
            "loop.max_rounds=1",
            "loop.supervision=full",
            "seed=1,2",
        ],
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert {p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir()} >= {"full_seed1", "full_seed2"}
    for name in ("full_seed1", "full_seed2"):
        assert (tmp_path / "sweep" / name / "results.json").exists()


def test_predict_only_from_a_checkpoint(weak_run, data, tmp_path):
    checkpoint = weak_run / "round_1/segmenter/checkpoints/last.ckpt"
    result = run_script(
        [
            str(REPO / "train.py"),
            "stage=segmenter",
            "fit=false",
            f"ckpt_path={checkpoint}",
            f"data_root={data}",
            f"pred_root={tmp_path}/pred",
            f"hydra.run.dir={tmp_path}/run",
            "logger=csv",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    ids = (data / "lists/train_id.txt").read_text().split()
    for image_id in ids:
        ours = read_label_png(tmp_path / f"pred/pred_sem_raw/{image_id}_leftImg8bit.png")
        theirs = read_label_png(weak_run / f"round_1/pred/pred_sem_raw/{image_id}_leftImg8bit.png")
        assert (ours == theirs).mean() > 0.99  # the same weights predict the same labels


def test_a_typo_in_a_later_round_fails_before_anything_runs(tmp_path):
    data = tmp_path / "never_made"
    code, out = _loop(data, tmp_path / "run", 'loop.rounds.2.gt=["score_thres=0.5"]')
    assert code == 1 and "loop step gt, round 2" in out and "score_thres" in out
    out = _refused(data, tmp_path / "run", 'loop.rounds.2.segmenter=["model.center_wieght=3"]')
    assert "loop step segmenter, round 2" in out and "center_wieght" in out
    out = _refused(data, tmp_path / "run", "loop.train_extra=true", 'loop.rounds.2.gt=["preset=second"]')
    assert "loop step gt, round 2" in out and "second" in out
    assert not data.exists() and not (tmp_path / "run" / "state.json").exists()  # nothing ran: no data, no record


def test_configs_that_differ_in_how_a_step_runs_make_the_same_outputs():
    """A donor's step config against this run's: loader and writer workers, the superpixels'
    place and the logger do not count (loop.reuse_from takes the step over); anything else does,
    the first differing lines named."""
    theirs = (
        "seed: 0\ndata:\n  batch_size: 4\n  num_workers: 0\n  superpixels_in_loader: false\n"
        "writer:\n  num_workers: auto\n  in_flight: 2\nlogger:\n  csv:\n    name: csv\n"
    )
    ours = "seed: 0\ndata:\n  batch_size: 4\n  num_workers: 8\nwriter:\n  num_workers: 15\n  in_flight: 32\n"
    assert first_difference(theirs, ours) is None
    assert first_difference(theirs, ours.replace("batch_size: 4", "batch_size: 2")) == (
        "  batch_size: 4",
        "  batch_size: 2",
    )
    assert first_difference(theirs, "seed: 0\n") == ("data:", None)


def test_records_of_earlier_versions_are_converted():
    v1 = convert({"settings": {"supervision": "weak", "max_rounds": 4}, "steps": {"data": {}}})
    assert v1["version"] == 5 and v1["steps"] == {"data": {}}
    assert v1["settings"] == {
        "confidence_weights": False,
        "pseudo_gt_steps": {},
        "selection": "val_labels",
        "stuff_cues": "cam",
        "supervision": "weak",
        "max_rounds": 4,
    }
    full = convert({"version": 2, "settings": {"supervision": "full", "stuff_cues": "cam"}})
    assert full["settings"] == {"supervision": "full", "stuff_cues": "cam"}  # full supervision chooses nothing
    v3 = convert({"version": 3, "settings": {"supervision": "semi", "selection": "tags_and_boxes"}, "steps": {}})
    assert v3["settings"]["pseudo_gt_steps"] == {}  # it added nothing to the steps that learn from pseudo-GT
    v4 = convert({"version": 4, "settings": {"supervision": "weak", "pseudo_gt_steps": {}}, "steps": {}})
    assert v4["settings"]["confidence_weights"] is False  # every labelled pixel weighed 1
    current = {
        "version": 5,
        "settings": {
            "supervision": "weak",
            "selection": "tags_and_boxes",
            "pseudo_gt_steps": {"segmenter": []},
            "confidence_weights": True,
        },
        "steps": {},
    }
    assert convert(current) == current
