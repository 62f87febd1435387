"""The loop's reporting: the experiment tracker, `results.json` / `results.md`, example images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig

from wsps.data.metadata import DatasetMeta
from wsps.io import atomic_path, read_id_list
from wsps.train import resolved


def per_class(metrics: dict, prefix: str) -> dict[str, float]:
    """The per-class IoUs among a step's metrics, by class name."""
    return {k[len(prefix) :]: v for k, v in metrics.items() if k.startswith(prefix)}


def write_results(run_dir: Path, results: dict) -> None:
    """`results.json` and a `results.md` table in the run folder."""
    with atomic_path(run_dir / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1))

    def fmt(value) -> str:
        return "" if value is None else f"{value:.3f}"

    oracle = ", true stuff labels as the stuff cues (an upper bound)" if results.get("stuff_cues") == "truth" else ""
    lines = [
        f"# Results: {results['supervision']} supervision{oracle}, {len(results['rounds'])} round(s), "
        f"{results['seconds'] / 60:.1f} min",
        "",
        "| round | PQ | PQ_th | PQ_st | mIoU | pseudo-GT mIoU | pseudo-GT PQ | train loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rounds"]:
        m, p = row["model"], row["pseudo_gt"] or {}
        lines.append(
            f"| {row['round']} | {fmt(m['PQ'])} | {fmt(m['PQ_th'])} | {fmt(m['PQ_st'])} | {fmt(m['mIoU'])} | "
            f"{fmt(p.get('mIoU'))} | {fmt(p.get('PQ'))} | {fmt(row['train_loss'])} |"
        )
    if results["rounds"]:
        last = results["rounds"][-1]
        model, pseudo = last["iou"]["model"], last["iou"]["pseudo_gt"] or {}
        lines += ["", f"Per-class IoU, round {last['round']}:", "", "| class | model | pseudo-GT |", "|---|---|---|"]
        lines += [
            f"| {name} | {fmt(model.get(name))} | {fmt(pseudo.get(name))} |"
            for name in dict.fromkeys([*model, *pseudo])
        ]
    with atomic_path(run_dir / "results.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


class Tracker:
    """The loop's experiment log: the loggers of `cfg.logger` (W&B offline by default) get the
    resolved config, per-round metrics (step = round) and, on W&B, example images with the
    pseudo-GT and the predictions as masks."""

    def __init__(self, cfg: DictConfig, meta: DatasetMeta, data_root: Path):
        self.loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
        for logger in self.loggers:
            logger.log_hyperparams(resolved(cfg))
        self.examples, self.meta, self.data_root = int(cfg.loop.log_images), meta, data_root

    def log(self, metrics: dict, step: int) -> None:
        metrics = {k: v for k, v in metrics.items() if v is not None}
        for logger in self.loggers:
            logger.log_metrics(metrics, step=step)

    def round(self, row: dict, folder: Path) -> None:
        flat = {
            "round/train_loss": row["train_loss"],
            "round/score_threshold": row.get("score_threshold"),
            **{f"model/{k}": v for k, v in row["model"].items()},
        }
        flat.update({f"pseudo_gt/{k}": v for k, v in (row["pseudo_gt"] or {}).items()})
        for source, ious in row["iou"].items():
            flat.update({f"{source}/IoU/{name}": v for name, v in (ious or {}).items()})
        self.log(flat, row["round"])
        for logger in self.loggers:
            if type(logger).__name__ == "WandbLogger" and self.examples:
                logger.experiment.log(
                    {
                        "examples": example_images(folder, self.data_root, self.meta, self.examples),
                        "round": row["round"],
                    }
                )

    def finish(self, results: dict) -> None:
        for logger in self.loggers:
            logger.log_metrics({f"final/{k}": v for k, v in results["final"].items() if v is not None})
            logger.finalize("success")


def example_images(folder: Path, data_root: Path, meta: DatasetMeta, count: int) -> list:
    """W&B images of the first training images with the round's pseudo-GT and predictions as masks."""
    import wandb

    from wsps.data.cityscapes import read_image
    from wsps.io import read_label_png

    class_labels = {k: name for k, name in enumerate(meta.class_names)} | {meta.ignore_label: "void"}
    images = []
    for image_id in read_id_list(meta.list_path(data_root, "train"))[:count]:
        masks = {}
        for name, path in (
            ("pseudo_gt", folder / "pseudo_gt" / "sem"),
            ("prediction", folder / "pred" / "pred_sem_raw"),
        ):
            file = meta.label_file(path, image_id)
            if file.exists():
                masks[name] = {"mask_data": read_label_png(file).astype(np.int64), "class_labels": class_labels}
        images.append(
            wandb.Image(read_image(meta.image_path(data_root, "train", image_id)), masks=masks, caption=image_id)
        )
    return images
