"""`train.py`: fit the classifier or the segmenter on composed configs, then predict.

Everything is instantiated from the config (data, model, callbacks, loggers, trainer), as in
the lightning-hydra-template. The classifier's CAM threshold, when `auto`, is chosen after
training as `selection` says (`wsps.selection`): by default from the crop tags, without pixel labels.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate, to_absolute_path
from omegaconf import DictConfig, OmegaConf

from wsps.data.cityscapes import LabelSource
from wsps.data.metadata import DatasetMeta, meta_for
from wsps.io import ConfigError, InputError, read_id_list, write_text
from wsps.runner import finish
from wsps.selection import cam_threshold_from_tags, cam_threshold_from_val_labels, check_selection

log = logging.getLogger(__name__)


def resolved(cfg: DictConfig) -> dict:
    """The config as plain values for the loggers, without Hydra's own node (composed configs
    may carry it, with runtime values only a running app has)."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)


METRICS_FILE = "metrics.json"


def read_metrics(folder: str | os.PathLike) -> dict[str, float]:
    """The figures a step left in `folder/metrics.json` (none: {})."""
    path = Path(folder) / METRICS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def update_metrics(folder: str | os.PathLike, metrics: dict[str, float]) -> dict[str, float]:
    """Merge `metrics` into `folder/metrics.json` (newer values win), written atomically; returns
    the merged figures."""
    merged = {**read_metrics(folder), **{k: float(v) for k, v in metrics.items()}}
    write_text(Path(folder) / METRICS_FILE, json.dumps(merged, indent=1, sort_keys=True))
    return merged


class MetricsFile(pl.Callback):
    """The step's latest figures in `<output_dir>/metrics.json`, after every training and
    validation epoch, whatever logger is on: what the loop reads (a run stopped after its last
    epoch still has its training loss there)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = folder

    def _write(self, trainer: pl.Trainer) -> None:
        if not trainer.sanity_checking and trainer.is_global_zero and trainer.callback_metrics:
            update_metrics(self.folder, trainer.callback_metrics)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._write(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._write(trainer)


def label_source(cfg: DictConfig) -> LabelSource:
    """The segmenter's targets: the true labels, a generate_gt output, or a mix (semi-supervision)."""
    if cfg.labels in (None, "gt"):
        return LabelSource()
    root = Path(to_absolute_path(cfg.labels))
    true_gt_ids = frozenset()
    if cfg.true_gt_fraction > 0:
        ids = read_id_list(meta_for(cfg).list_path(to_absolute_path(cfg.data_root), "train"))
        chosen = np.random.default_rng(cfg.seed).permutation(len(ids))[: int(round(cfg.true_gt_fraction * len(ids)))]
        true_gt_ids = frozenset(ids[k] for k in chosen)
    return LabelSource(
        str(root / cfg.sem_save_dir), str(root / cfg.ins_save_dir), cfg.pred_template, true_gt_ids=true_gt_ids
    )


def extra_label_source(cfg: DictConfig) -> LabelSource:
    """The labels of the `extra_split` images: their own (coarse) labels, or a generate_gt output's
    semantic folder (no instances: they feed the semantic loss alone)."""
    if cfg.extra_labels in (None, "gt"):
        return LabelSource()
    return LabelSource(str(Path(to_absolute_path(cfg.extra_labels)) / cfg.sem_save_dir), template=cfg.pred_template)


def choose_cam_threshold(cfg: DictConfig, model, datamodule, meta: DatasetMeta) -> dict[str, float]:
    """Set an `auto` CAM threshold as `cfg.selection` says: from the crop tags of the images the
    labels are made for (the predict split), or from the validation split's pixel labels. Either
    way the chosen threshold's labels are then scored on the validation split (`val/cam_*`)."""
    started = time.perf_counter()
    datamodule.setup("validate")
    metrics = {}
    val = datamodule.val_dataloader(for_cams=True)
    if check_selection(cfg.selection) == "val_labels":
        threshold, scores = cam_threshold_from_val_labels(model, val, meta.stuff_classes)
    else:
        datamodule.setup("predict")
        threshold, chosen = cam_threshold_from_tags(
            model, datamodule.predict_dataloader(), cfg.selection_images, ignore_label=meta.ignore_label
        )
        metrics = {f"selection/cam_{k}": float(v) for k, v in chosen.items()}
        _, scores = cam_threshold_from_val_labels(model, val, meta.stuff_classes, thresholds=(threshold,))
    model.hparams.cam_threshold = threshold
    metrics.update({"selection/cam_threshold": threshold, **{f"val/cam_{k}": v for k, v in scores.items()}})
    log.info(
        "CAM threshold %.2f (selection=%s) chosen in %.1f s; its labels on %s: %s",
        threshold,
        cfg.selection,
        time.perf_counter() - started,
        cfg.val_split,
        ", ".join(f"{k} {v:.3f}" for k, v in scores.items()),
    )
    return metrics


def check_inputs(cfg: DictConfig, meta: DatasetMeta) -> None:
    """Refuse a run whose data root or id lists are missing, before any logger or output folder
    is made."""
    data_root = Path(to_absolute_path(cfg.data_root))
    if not data_root.is_dir():
        raise InputError(data_root, "data root not found (data_root=...)")
    extra = cfg.data.get("extra_split")
    splits = ([cfg.data.train_split, cfg.data.val_split, *([extra] if extra else [])] if cfg.fit else []) + (
        [cfg.data.predict_split] if cfg.predict else []
    )
    for split in dict.fromkeys(splits):
        path = meta.list_path(data_root, split)
        if not path.is_file():
            raise InputError(
                path, f"no id list for split {split} (python -m wsps.prepare data_root=... split={split} writes it)"
            )


def input_error_message(err: BaseException) -> str | None:
    """One line for an `InputError` or `ConfigError`, also one raised in a data-loader worker, which
    comes back re-raised with the worker's traceback as its text, or in a constructor that Hydra's
    `instantiate` wraps; None for any other error."""
    if isinstance(err, InstantiationException) and isinstance(err.__cause__, (ConfigError, InputError)):
        return str(err.__cause__)
    lines = [line for line in str(err).splitlines() if "InputError: " in line]
    if lines:
        return lines[-1].split("InputError: ", 1)[1]
    return str(err) if isinstance(err, (ConfigError, InputError)) else None


def run_stage(cfg: DictConfig, task: NetworkTask | None = None) -> float | None:
    """`train.py stage=classifier|segmenter`: train, with one line and exit code 2 for a bad
    option or input (the file or key named) instead of a traceback."""
    try:
        metrics = train(cfg, task)
    except (ConfigError, InputError, InstantiationException, RuntimeError) as err:
        message = input_error_message(err)
        if message is None:
            raise
        log.error("%s", message)
        finish(2, message)
        return None
    return metrics.get(cfg.monitor) if cfg.get("monitor") else None


class NetworkTask:
    """One network's stage (`stage=classifier|segmenter`; the config's `task` node names it):
    how `train` checks its inputs, builds its data, fits, loads a checkpoint and predicts. What
    differs between the networks is in the subclasses' hooks, not in branches of `train`."""

    def run(self, cfg: DictConfig) -> float | None:
        """The stage as `train.py` runs it (one line and exit code 2 for bad input)."""
        return run_stage(cfg, self)

    def check_inputs(self, cfg: DictConfig) -> None:
        """Refuse missing inputs of the stage's own (beyond the data root and id lists)."""

    def data_kwargs(self, cfg: DictConfig) -> dict:
        """The datamodule's arguments of the stage's own."""
        return {}

    def fit(self, cfg: DictConfig, trainer: pl.Trainer, model, datamodule) -> None:
        if not cfg.ckpt_path and trainer.is_global_zero:  # a fresh start: no figures of an earlier run
            Path(cfg.paths.output_dir, METRICS_FILE).unlink(missing_ok=True)
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
        if cfg.get("monitor") and cfg.monitor not in trainer.callback_metrics and not trainer.fast_dev_run:
            trainer.validate(model, datamodule=datamodule)  # a resumed run that had already finished its epochs

    def load(self, cfg: DictConfig, model):
        """The checkpoint `ckpt_path` in place of the freshly built `model` (predict without fit)."""
        return type(model).load_from_checkpoint(to_absolute_path(cfg.ckpt_path))

    def ready(self, cfg: DictConfig, model, datamodule, meta: DatasetMeta) -> dict[str, float]:
        """Whatever the model needs after fitting or loading, before it predicts; its figures."""
        return {}

    def predict(self, cfg: DictConfig, trainer: pl.Trainer, model, datamodule) -> None:
        trainer.predict(model, datamodule=datamodule, return_predictions=False)


class ClassifierTask(NetworkTask):
    """The crop classifier: an `auto` CAM threshold is chosen before it predicts
    (`choose_cam_threshold`); a loaded checkpoint takes the config's threshold."""

    def load(self, cfg: DictConfig, model):
        return type(model).load_from_checkpoint(to_absolute_path(cfg.ckpt_path), cam_threshold=cfg.model.cam_threshold)

    def ready(self, cfg: DictConfig, model, datamodule, meta: DatasetMeta) -> dict[str, float]:
        if model.hparams.cam_threshold != "auto":
            return {}
        return choose_cam_threshold(cfg, model, datamodule, meta)


class SegmenterTask(NetworkTask):
    """The panoptic segmenter: it trains on the labels `labels` names (the true ones, a pseudo-GT,
    or a mix), and the `extra_split` images on `extra_labels`."""

    def check_inputs(self, cfg: DictConfig) -> None:
        if not cfg.fit:
            return
        if cfg.labels not in (None, "gt"):
            for name in (cfg.sem_save_dir, cfg.ins_save_dir):
                folder = Path(to_absolute_path(cfg.labels)) / name
                if not folder.is_dir():
                    raise InputError(
                        folder,
                        "label folder not found (labels=... holds the pseudo-GT's sem_save_dir and ins_save_dir)",
                    )
        if cfg.data.get("extra_split") and cfg.extra_labels not in (None, "gt"):
            folder = Path(to_absolute_path(cfg.extra_labels)) / cfg.sem_save_dir
            if not folder.is_dir():
                raise InputError(folder, "label folder not found (extra_labels=... holds the pseudo-GT's sem_save_dir)")

    def data_kwargs(self, cfg: DictConfig) -> dict:
        return {"labels": label_source(cfg), "extra_labels": extra_label_source(cfg)}


def train(cfg: DictConfig, task: NetworkTask | None = None) -> dict[str, float]:
    """Fit (and predict) as the config says, the stage's `task` (by default the config's) doing
    what is the stage's own; returns the final metrics."""
    task = task or instantiate(cfg.task)
    meta = meta_for(cfg)
    check_inputs(cfg, meta)
    task.check_inputs(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    if cfg.get("logger") and "wandb" in cfg.logger and cfg.logger.wandb.get("offline", True):
        os.environ.setdefault("WANDB_MODE", "offline")
    data_kwargs = {"data_root": to_absolute_path(cfg.data_root), "meta": meta, **task.data_kwargs(cfg)}
    datamodule = instantiate(cfg.data, _partial_=True)(**data_kwargs)  # objects stay objects
    model = instantiate(cfg.model, _convert_="all")  # plain types in the checkpoint's hyperparameters
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    callbacks += [instantiate(cfg.writer), MetricsFile(cfg.paths.output_dir)]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in trainer.loggers:
        logger.log_hyperparams(resolved(cfg))

    if cfg.get("init_ckpt"):
        state = torch.load(to_absolute_path(cfg.init_ckpt), map_location="cpu", weights_only=False)["state_dict"]
        model.load_state_dict(state)
    if cfg.fit:
        started = time.perf_counter()
        task.fit(cfg, trainer, model, datamodule)
        log.info("fit: %.1f s", time.perf_counter() - started)
    elif cfg.ckpt_path:
        model = task.load(cfg, model)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    chosen = task.ready(cfg, model, datamodule, meta)
    if chosen:
        metrics.update(chosen)
        for logger in trainer.loggers:
            logger.log_metrics(chosen)
    if cfg.fit and trainer.is_global_zero:  # with what earlier attempts left (a resumed, finished run logs no loss)
        metrics = update_metrics(cfg.paths.output_dir, metrics)
    if cfg.predict:
        task.predict(cfg, trainer, model, datamodule)
    log.info("metrics: %s", ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))
    return metrics
