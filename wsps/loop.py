"""The self-training driver: `python train.py` runs the whole method, resumably.

Steps, each composed from the same configs as the standalone tools (`synthetic`, `prepare`,
`cues`, `train` with `stage=classifier|segmenter`, `generate_gt`) plus the loop's overrides:

    data -> prepare -> cues -> classifier (+ CAM labels) ->
    round 1: generate_gt (first_round preset: CAM + M&G) -> score pseudo-GT -> train segmenter -> predict
    round k: generate_gt (later rounds: predictions + scores) -> score -> train -> predict
    ... until the final training loss falls by less than `tolerance` (relative), or `max_rounds`.

`supervision=full` trains every round on the true labels (no cues); `semi` mixes the true labels
of `true_gt_fraction` of the images into the pseudo-GT. `stuff_cues=truth` replaces the CAM labels
with the true stuff labels (an upper bound: the method with perfect stuff cues, the boxes' thing
cues unchanged) and skips the classifier. Everything goes to the run folder; a
completed step is recorded in `state.json` and skipped when the run is started again.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate, to_absolute_path
from omegaconf import DictConfig, OmegaConf

from wsps.cues.__main__ import options_from_config as cue_options
from wsps.cues.job import run as run_cues
from wsps.data.cityscapes import gt_path
from wsps.data.synthetic import generate
from wsps.eval.folders import score_label_folder
from wsps.gt.job import run as run_gt
from wsps.gt.options import GTOptions
from wsps.io import (
    InputError,
    atomic_path,
    read_id_list,
    read_label_png,
    write_label_png,
)
from wsps.prepare import options_from_config as prepare_options
from wsps.prepare import prepare
from wsps.train import resolved, train

log = logging.getLogger(__name__)

SUPERVISION = ("weak", "full", "semi")
STUFF_CUES = ("cam", "truth")
ADDED_SETTINGS = {"stuff_cues": "cam"}  # loop settings newer than some runs, with the value those runs used


class StepFailed(RuntimeError):
    """A step of the loop could not complete; the message says which and why."""


class Loop:
    """One run of the method in `run_dir`; `cfg` is the composed `train` config with `stage=loop`."""

    def __init__(self, cfg: DictConfig, run_dir: Path):
        self.cfg, self.loop = cfg, cfg.loop
        if self.loop.supervision not in SUPERVISION:
            raise StepFailed(f"supervision={self.loop.supervision}: choose one of {', '.join(SUPERVISION)}")
        if self.loop.stuff_cues not in STUFF_CUES:
            raise StepFailed(f"stuff_cues={self.loop.stuff_cues}: choose one of {', '.join(STUFF_CUES)}")
        if self.loop.stuff_cues != "cam" and self.loop.supervision == "full":
            raise StepFailed(f"stuff_cues={self.loop.stuff_cues} with supervision=full: full supervision uses no cues")
        self.run_dir = run_dir
        self.data_root = Path(to_absolute_path(cfg.data_root))
        self.dataset = HydraConfig.get().runtime.choices.get("dataset", "synthetic") if HydraConfig.initialized() else "synthetic"
        self.state_path = run_dir / "state.json"
        self.state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {"steps": {}}
        settings = OmegaConf.to_container(self.loop, resolve=True)
        if {**ADDED_SETTINGS, **self.state.get("settings", settings)} != settings:
            raise StepFailed(f"{run_dir} holds a run with other loop settings; start a new one (loop.name=...) or delete it")
        self.state["settings"] = settings
        self.tracker = Tracker(cfg, run_dir)

    # ------------------------------------------------------------------ bookkeeping

    def step(self, name: str, fn: Callable[[], dict]) -> dict:
        """Run `fn` unless a previous start completed it; record its metrics."""
        if name in self.state["steps"]:
            log.info("step %s: done before, skipped", name)
            return self.state["steps"][name]
        log.info("step %s", name)
        start = time.perf_counter()
        metrics = {k: float(v) for k, v in (fn() or {}).items() if v is not None}
        metrics["seconds"] = time.perf_counter() - start
        self.state["steps"][name] = metrics
        with atomic_path(self.state_path) as tmp:
            tmp.write_text(json.dumps(self.state, indent=1))
        return metrics

    def compose(self, config_name: str, overrides: list[str], folder: Path) -> DictConfig:
        """A tool's config as its CLI would compose it, saved beside the step's outputs."""
        dataset = [] if config_name == "synthetic" else [f"dataset={self.dataset}"]  # the generator has no dataset group
        cfg = compose(config_name=config_name, overrides=[*dataset, f"data_root={self.data_root}", *overrides])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{config_name}.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        return cfg

    def overrides(self, step: str, round_k: int | None = None) -> list[str]:
        """The loop's overrides for a step: those for every run, then those of the rounds up to `round_k`."""
        extra = list(self.loop.steps.get(step) or [])
        for start in sorted((self.loop.rounds or {}), key=int):  # keys are strings: "6" can be overridden as loop.rounds.6
            if round_k is not None and int(start) <= round_k:
                extra += list(self.loop.rounds[start].get(step) or [])
        return extra

    # ------------------------------------------------------------------ steps

    def data(self) -> dict:
        if (self.data_root / "lists" / "train_id.txt").exists():
            return {"generated": 0}
        if self.dataset != "synthetic":
            raise StepFailed(f"{self.data_root}: no lists/train_id.txt; prepare the dataset first (python -m wsps.prepare)")
        cfg = self.compose("synthetic", self.overrides("synthetic"), self.run_dir / "data")  # its own seed: shared by every run
        written = generate(self.data_root, int(cfg.num_train), int(cfg.num_val), int(cfg.height), int(cfg.width), int(cfg.seed))
        return {"generated": sum(len(v) for v in written.values())}

    def prepare(self) -> dict:
        cfg = self.compose("prepare", ["split=train", *self.overrides("prepare")], self.run_dir / "prepare")
        summary = prepare(prepare_options(cfg), int(cfg.num_workers))
        if summary.failed:
            raise StepFailed(f"prepare: {summary}: {summary.failures[0]}")
        return {"images": sum(summary.counts.values())}

    def cues(self) -> dict:
        cfg = self.compose("cues", ["split=train", f"pred_root={self.run_dir / 'cues'}", *self.overrides("cues")], self.run_dir / "cues")
        summary = run_cues(cue_options(cfg))
        if summary.failed:
            raise StepFailed(f"cues: {summary}: {summary.failures[0]}")
        return {"images": sum(summary.counts.values())}

    def train_stage(self, stage: str, folder: Path, overrides: list[str], round_k: int | None = None, defaults: tuple[str, ...] = ()) -> dict:
        """Train a stage; `defaults` come before the loop's step overrides, which may change them."""
        cfg = self.compose("train", [f"stage={stage}", f"seed={self.cfg.seed}", f"paths.output_dir={folder}", "logger=csv",
                                     *defaults, *self.overrides(stage, round_k), *overrides], folder)
        return train(cfg)

    def classifier(self) -> dict:
        folder = self.run_dir / "classifier"
        return self.train_stage("classifier", folder, [f"pred_root={self.run_dir / 'cues'}"])

    def true_stuff_cues(self) -> dict:
        """The true labels of the stuff classes where the CAM labels would be (things unlabelled)."""
        stuff = np.full(256, 255, np.uint8)
        stuff[list(self.cfg.stuff_classes)] = list(self.cfg.stuff_classes)
        folder = self.run_dir / "cues" / "cam" / "train"
        ids = read_id_list(self.data_root / "lists" / "train_id.txt")
        for image_id in ids:
            label = read_label_png(gt_path(self.data_root, "train", image_id, "labelTrainIds"))
            write_label_png(folder / f"{image_id}_leftImg8bit.png", stuff[label])
        return {"images": len(ids)}

    def pseudo_gt(self, k: int) -> dict:
        folder = self.run_dir / f"round_{k}"
        source = self.run_dir / "cues" if k == 1 else self.run_dir / f"round_{k - 1}" / "pred"
        overrides = ["split=train", f"pred_root={source}", f"mcg_and_grabcut_dir={self.run_dir / 'cues' / 'mcg_and_grabcut' / 'train'}"]
        if k > 1 and self.loop.score_thresh is not None:
            previous = self.state["steps"][f"round_{k - 1}/segmenter"].get("val/score_threshold")
            threshold = previous if self.loop.score_thresh == "auto" else self.loop.score_thresh
            if threshold is not None:
                overrides.append(f"score_thresh={threshold}")
        if k > 1 and self.loop.keep_previous_labels:
            overrides += ["run_fill_from_prior=true", f"prior_dir={self.run_dir / f'round_{k - 1}' / 'pseudo_gt' / 'sem'}"]
        cfg = self.compose("generate_gt", [
            *overrides, *self.overrides("gt", k), f"sem_save_dir={folder / 'pseudo_gt' / 'sem'}", f"ins_save_dir={folder / 'pseudo_gt' / 'ins'}",
        ], folder)
        opts = GTOptions.from_mapping(OmegaConf.to_container(cfg, resolve=True), resolve_path=to_absolute_path)
        summary = run_gt(opts)
        if summary.failed:
            raise StepFailed(f"generate_gt round {k}: {summary}: {summary.failures[0]}")
        ids = read_id_list(self.data_root / "lists" / "train_id.txt")
        scores = score_label_folder(self.data_root, "train", ids, folder / "pseudo_gt" / "sem", folder / "pseudo_gt" / "ins",
                                    folder / "pseudo_gt_eval")
        return {f"pseudo_gt/{k2}": v for k2, v in scores.items()}

    def segmenter(self, k: int) -> dict:
        folder = self.run_dir / f"round_{k}"
        overrides, defaults = [f"pred_root={folder / 'pred'}"], ()
        if self.loop.supervision == "full":
            overrides.append("labels=gt")
            defaults = ("model.tag_weight=0", "data.tag_crop_size=null")  # the true labels say all the tags do
        else:
            overrides += [f"labels={folder / 'pseudo_gt'}", "sem_save_dir=sem", "ins_save_dir=ins"]
            if self.loop.supervision == "semi":
                overrides.append(f"true_gt_fraction={self.loop.true_gt_fraction}")
        previous = self.run_dir / f"round_{k - 1}" / "segmenter" / "checkpoints" / "last.ckpt"
        if self.loop.warm_start and k > 1 and previous.exists():
            overrides.append(f"init_ckpt={previous}")
        resume = folder / "segmenter" / "checkpoints" / "last.ckpt"
        if resume.exists():  # an interrupted round: continue its training
            overrides.append(f"ckpt_path={resume}")
        metrics = self.train_stage("segmenter", folder / "segmenter", overrides, k, defaults)
        if "train/loss" not in metrics:  # it had trained every epoch before the interruption: take the loss from its log
            metrics["train/loss"] = last_logged(folder / "segmenter", "train/loss")
        return metrics

    # ------------------------------------------------------------------ the method

    def run(self) -> dict:
        weak = self.loop.supervision != "full"
        self.step("data", self.data)
        if weak:
            self.step("prepare", self.prepare)
            self.step("cues", self.cues)
            if self.loop.stuff_cues == "truth":
                self.step("true_stuff_cues", self.true_stuff_cues)
            else:
                classifier = self.step("classifier", self.classifier)
                self.tracker.log({f"classifier/{k.split('/', 1)[-1]}": v for k, v in classifier.items() if k.startswith("val/")}, 0)
        rounds, previous_loss = [], None
        for k in range(1, int(self.loop.max_rounds) + 1):
            pseudo = self.step(f"round_{k}/pseudo_gt", partial(self.pseudo_gt, k)) if weak else {}
            model = self.step(f"round_{k}/segmenter", partial(self.segmenter, k))
            loss = model.get("train/loss")
            row = {"round": k, "train_loss": loss,
                   "model": {m: model.get(f"val/{m}") for m in ("PQ", "PQ_th", "PQ_st", "mIoU")},
                   "pseudo_gt": {m: pseudo.get(f"pseudo_gt/{m}") for m in ("mIoU", "PQ", "PQ_th", "PQ_st")} if weak else None,
                   "iou": {"model": per_class(model, "val/IoU/"), "pseudo_gt": per_class(pseudo, "pseudo_gt/IoU/") if weak else None}}
            rounds.append(row)
            self.tracker.round(row, self.run_dir / f"round_{k}", self.data_root)
            if previous_loss is not None and loss is not None and previous_loss - loss < self.loop.tolerance * previous_loss:
                log.info("round %d: training loss %.4f fell by less than %.0f%% of %.4f: stopping", k, loss, 100 * self.loop.tolerance, previous_loss)
                break
            previous_loss = loss
        results = {"supervision": self.loop.supervision, "stuff_cues": self.loop.stuff_cues, "data_root": str(self.data_root), "rounds": rounds,
                   "final": rounds[-1]["model"] if rounds else {},
                   "seconds": sum(s.get("seconds", 0) for s in self.state["steps"].values())}
        write_results(self.run_dir, results)
        self.tracker.finish(results)
        return results


def per_class(metrics: dict, prefix: str) -> dict[str, float]:
    """The per-class IoUs among a step's metrics, by class name."""
    return {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)}


def last_logged(folder: Path, key: str) -> float | None:
    """The last value of `key` in the CSV training logs of a step (`csv/version_N/metrics.csv`)."""
    value = None
    for path in sorted(folder.glob("csv/version_*/metrics.csv"), key=lambda p: int(p.parent.name.rsplit("_", 1)[1])):
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get(key):
                    value = float(row[key])
    return value


def write_results(run_dir: Path, results: dict) -> None:
    """`results.json` and a `results.md` table in the run folder."""
    with atomic_path(run_dir / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1))

    def fmt(value) -> str:
        return "" if value is None else f"{value:.3f}"

    oracle = ", true stuff labels as the stuff cues (an upper bound)" if results.get("stuff_cues") == "truth" else ""
    lines = [f"# Results: {results['supervision']} supervision{oracle}, {len(results['rounds'])} round(s), {results['seconds'] / 60:.1f} min", "",
             "| round | PQ | PQ_th | PQ_st | mIoU | pseudo-GT mIoU | pseudo-GT PQ | train loss |", "|---|---|---|---|---|---|---|---|"]
    for row in results["rounds"]:
        m, p = row["model"], row["pseudo_gt"] or {}
        lines.append(f"| {row['round']} | {fmt(m['PQ'])} | {fmt(m['PQ_th'])} | {fmt(m['PQ_st'])} | {fmt(m['mIoU'])} | "
                     f"{fmt(p.get('mIoU'))} | {fmt(p.get('PQ'))} | {fmt(row['train_loss'])} |")
    if results["rounds"]:
        last = results["rounds"][-1]
        model, pseudo = last["iou"]["model"], last["iou"]["pseudo_gt"] or {}
        lines += ["", f"Per-class IoU, round {last['round']}:", "", "| class | model | pseudo-GT |", "|---|---|---|"]
        lines += [f"| {name} | {fmt(model.get(name))} | {fmt(pseudo.get(name))} |" for name in dict.fromkeys([*model, *pseudo])]
    with atomic_path(run_dir / "results.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


class Tracker:
    """The loop's experiment log: the loggers of `cfg.logger` (W&B offline by default) get the
    resolved config, per-round metrics (step = round) and, on W&B, example images with the
    pseudo-GT and the predictions as masks."""

    def __init__(self, cfg: DictConfig, run_dir: Path):
        self.loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
        for logger in self.loggers:
            logger.log_hyperparams(resolved(cfg))
        self.examples = int(cfg.loop.log_images)

    def log(self, metrics: dict, step: int) -> None:
        metrics = {k: v for k, v in metrics.items() if v is not None}
        for logger in self.loggers:
            logger.log_metrics(metrics, step=step)

    def round(self, row: dict, folder: Path, data_root: Path) -> None:
        flat = {"round/train_loss": row["train_loss"], **{f"model/{k}": v for k, v in row["model"].items()}}
        flat.update({f"pseudo_gt/{k}": v for k, v in (row["pseudo_gt"] or {}).items()})
        for source, ious in row["iou"].items():
            flat.update({f"{source}/IoU/{name}": v for name, v in (ious or {}).items()})
        self.log(flat, row["round"])
        for logger in self.loggers:
            if type(logger).__name__ == "WandbLogger" and self.examples:
                logger.experiment.log({"examples": example_images(folder, data_root, self.examples), "round": row["round"]})

    def finish(self, results: dict) -> None:
        for logger in self.loggers:
            logger.log_metrics({f"final/{k}": v for k, v in results["final"].items() if v is not None})
            logger.finalize("success")


def example_images(folder: Path, data_root: Path, count: int) -> list:
    """W&B images of the first training images with the round's pseudo-GT and predictions as masks."""
    import wandb

    from wsps.data.cityscapes import image_path, read_image
    from wsps.io import read_label_png
    from wsps.labels import CLASS_NAMES

    class_labels = {k: name for k, name in enumerate(CLASS_NAMES)} | {255: "void"}
    images = []
    for image_id in read_id_list(data_root / "lists" / "train_id.txt")[:count]:
        masks = {}
        for name, path in (("pseudo_gt", folder / "pseudo_gt" / "sem"), ("prediction", folder / "pred" / "pred_sem_raw")):
            file = path / f"{image_id}_leftImg8bit.png"
            if file.exists():
                masks[name] = {"mask_data": read_label_png(file).astype(np.int64), "class_labels": class_labels}
        images.append(wandb.Image(read_image(image_path(data_root, "train", image_id)), masks=masks, caption=image_id))
    return images


def run_loop(cfg: DictConfig) -> dict:
    """`python train.py` (stage=loop)."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        return Loop(cfg, run_dir).run()
    except (StepFailed, InputError) as err:
        log.error("%s", err)
        raise SystemExit(1) from None
