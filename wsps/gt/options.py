"""The options of `generate_gt.py`: the reference's `get_opts.m`, validated once per run."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsps.crops import crop_grid
from wsps.io import ConfigError
from wsps.options import build_options

__all__ = ["ConfigError", "GTOptions"]


@dataclass(frozen=True)
class GTOptions:
    """Every option of spec section 1 under its reference name, plus the job's own settings."""

    # dataset constants (config group `dataset`)
    data_root: str
    annotation_template: str
    canvas_size: tuple[int, int]
    ignore_label: int
    stuff_classes: tuple[int, ...]
    thing_classes: tuple[int, ...]
    class_names: tuple[str, ...]
    pred_template: str
    pred_score_template: str
    mcg_and_grabcut_template: str
    # split settings (config group `split`)
    split: str
    list_path: str
    annotation_dir: str
    gt_label_dir: str
    gt_label_template: str
    # job settings
    pred_root: str
    score_thresh: float
    ichk_thresh: float
    ichk_do_not_alter_existing_things: bool
    schk_crop_size: tuple[int, int]
    pred_dir: str
    pred_score_dir: str
    mcg_and_grabcut_dir: str
    sem_save_dir: str
    ins_save_dir: str
    vis_save_dir: str
    force_overwrite: bool
    save_sem: bool
    save_ins: bool
    visualise_results: bool
    run_score_thresh: bool
    run_fill_from_prior: bool
    prior_dir: str | None
    prior_keep_ratio: float
    run_apply_bbox_prior: bool
    run_check_low_iou: bool
    run_check_image_level_tags: bool
    run_merge_with_mcg_and_grabcut: bool
    run_ins_box_process: bool
    # scale-out
    num_workers: int
    shard_index: int
    num_shards: int

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any], resolve_path=lambda p: str(Path(p).absolute()), **given) -> GTOptions:
        """Build (`wsps.options.build_options`) and validate options from a resolved config;
        `resolve_path` anchors relative roots; `given` values replace the config's (the dataset
        facts, from its description: `wsps.data.metadata.gt_options`)."""
        if cfg.get("split") == "test":
            raise ConfigError(
                "split=test: predictions on the test split cannot be post-processed (no boxes or tags exist for it)"
            )
        roots = {name: resolve_path(cfg[name]) for name in ("data_root", "pred_root") if name in cfg}
        options = build_options(cls, cfg, **roots, **given)
        for name in ("canvas_size", "schk_crop_size"):
            pair = list(getattr(options, name))
            if min(pair) <= 0:
                raise ConfigError(f"{name} must be two positive integers [rows, cols], got {pair}")
        for name in (
            "annotation_template",
            "pred_template",
            "pred_score_template",
            "mcg_and_grabcut_template",
            "gt_label_template",
        ):
            if getattr(options, name).count("%s") != 1:
                raise ConfigError(
                    f"{name} must contain '%s' exactly once (where the image id goes), got {getattr(options, name)!r}"
                )
        if not options.run_ins_box_process:
            options = dataclasses.replace(options, save_ins=False)  # as the reference: no instance step, no map
        options._validate()
        return options

    def _validate(self) -> None:
        stuff, thing = set(self.stuff_classes), set(self.thing_classes)
        if stuff & thing:
            raise ConfigError(f"stuff_classes and thing_classes overlap: {sorted(stuff & thing)}")
        if not 0 <= self.ignore_label <= 255 or self.ignore_label in stuff | thing:
            raise ConfigError(f"ignore_label must be in 0..255 and not a class, got {self.ignore_label}")
        if any(not 0 <= c < len(self.class_names) for c in stuff | thing):
            raise ConfigError(f"every class id needs a name: class_names has {len(self.class_names)} names")
        if self.run_check_image_level_tags:
            try:
                crop_grid(self.canvas_size, self.schk_crop_size)
            except ValueError as err:
                raise ConfigError(f"schk_crop_size: {err}") from None
        if self.run_fill_from_prior and not self.prior_dir:
            raise ConfigError(
                "run_fill_from_prior=true needs prior_dir (a folder of earlier labels, e.g. the previous "
                "round's pseudo-GT)"
            )
        if not 0 <= self.prior_keep_ratio <= 1:
            raise ConfigError(f"prior_keep_ratio must be in [0, 1], got {self.prior_keep_ratio}")
        if self.num_workers < 0:
            raise ConfigError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.num_shards < 1 or not 0 <= self.shard_index < self.num_shards:
            raise ConfigError(
                f"need 0 <= shard_index < num_shards, got shard_index={self.shard_index} num_shards={self.num_shards}"
            )

    # ------------------------------------------------------------------ per-image paths

    @property
    def needs_boxes(self) -> bool:
        return self.run_apply_bbox_prior or self.run_check_low_iou or self.run_ins_box_process

    def pred_path(self, image_id: str) -> Path:
        return Path(self.pred_root, self.pred_dir, self.pred_template % image_id)

    def score_path(self, image_id: str) -> Path:
        return Path(self.pred_root, self.pred_score_dir, self.pred_score_template % image_id)

    def boxes_path(self, image_id: str) -> Path:
        return Path(self.data_root, self.annotation_dir, self.annotation_template % image_id)

    def gt_label_path(self, image_id: str) -> Path:
        city = image_id.split("_", 1)[0]
        return Path(self.data_root, self.gt_label_dir, city, self.gt_label_template % image_id)

    def prior_path(self, image_id: str) -> Path:
        return Path(self.pred_root, self.prior_dir, self.pred_template % image_id)

    def mandg_path(self, image_id: str) -> Path:
        return Path(self.pred_root, self.mcg_and_grabcut_dir, self.mcg_and_grabcut_template % image_id)

    def sem_save_path(self, image_id: str) -> Path:
        return Path(self.pred_root, self.sem_save_dir, self.pred_template % image_id)

    def ins_save_path(self, image_id: str) -> Path:
        return Path(self.pred_root, self.ins_save_dir, self.pred_template % image_id)

    def vis_save_path(self, image_id: str) -> Path:
        return Path(self.pred_root, self.vis_save_dir, self.pred_template % image_id)

    def output_paths(self, image_id: str) -> list[Path]:
        """The files this run writes for one image; all present means the image is done."""
        wanted = [
            (self.save_sem, self.sem_save_path),
            (self.save_ins, self.ins_save_path),
            (self.visualise_results, self.vis_save_path),
        ]
        return [path(image_id) for enabled, path in wanted if enabled]
