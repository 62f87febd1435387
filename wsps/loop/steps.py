"""The loop's steps, each composed from the same config as its standalone tool plus the loop's
override lists: the data, `prepare`, `cues`, the classifier (or the true stuff cues), and per
round the pseudo-GT and the segmenter. Each returns its metrics."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from hydra import compose
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from wsps.cues.job import CueOptions
from wsps.cues.job import run as run_cues
from wsps.data.metadata import gt_options, meta_for
from wsps.data.synthetic import DRAWN_WITH, drawing_differences, generate_from_config
from wsps.eval.folders import score_label_folder
from wsps.gt.job import run as run_gt
from wsps.io import read_id_list, read_label_png, write_label_png
from wsps.loop.record import RunRecord, StepFailed
from wsps.prepare import PrepareOptions, prepare
from wsps.selection import check_selection, score_threshold_from_annotations
from wsps.train import resolved, train

#: Where a round's pseudo-GT of a split goes, under the round's folder; a step's name suffix for the split.
PSEUDO_GT = {"train": "pseudo_gt", "train_extra": "pseudo_gt_extra"}
SUFFIX = {"train": "", "train_extra": "_extra"}
#: How a step's config is made: the config's name, its overrides, and the folder it is saved in.
Recipe = tuple[str, list[str], Path]


def last_checkpoint(stage_dir: Path) -> Path:
    """The checkpoint a network's training leaves in its output folder (`callbacks.model_checkpoint`:
    `checkpoints/` with `save_last`)."""
    return stage_dir / "checkpoints" / "last.ckpt"


log = logging.getLogger(__name__)


class Steps:
    """The steps of one run in `run_dir`; `cfg` is the composed `train` config with `stage=loop`,
    `dataset` the name of its dataset config."""

    def __init__(self, cfg: DictConfig, run_dir: Path, dataset: str, record: RunRecord):
        self.cfg, self.loop, self.run_dir, self.dataset, self.record = cfg, cfg.loop, run_dir, dataset, record
        self.data_root = Path(to_absolute_path(cfg.data_root))
        self.meta = meta_for(cfg)
        self.train_list = self.meta.list_path(self.data_root, "train")
        self.extra_list = self.meta.list_path(self.data_root, "train_extra")

    def plan(self) -> None:
        """Compose every step's config for every planned round before anything runs, so that a
        typo in `loop.steps` or `loop.rounds` fails in seconds, naming the step, round and key."""
        checks = [
            ("prepare", None, "prepare", ["split=train", *self.overrides("prepare")]),
            ("cues", None, "cues", ["split=train", *self.overrides("cues")]),
        ]
        if self.loop.stuff_cues == "cam":
            checks.append(
                ("classifier", None, "train", ["stage=classifier", *self.selection(), *self.overrides("classifier")])
            )
        for k in range(1, int(self.loop.max_rounds) + 1):
            checks.append(("gt", k, "generate_gt", ["split=train", *self.overrides("gt", k)]))
            if self.loop.train_extra:
                checks.append(("gt_extra", k, "generate_gt", self.gt_overrides(k, "train_extra")))
            checks.append(
                (
                    "segmenter",
                    k,
                    "train",
                    ["stage=segmenter", *self.segmenter_defaults(), *self.overrides("segmenter", k)],
                )
            )
        if self.loop.supervision == "full":
            checks = [c for c in checks if c[0] == "segmenter"]
        for step, k, config_name, overrides in checks:
            where = f"loop step {step}" + (f", round {k}" if k else "")
            try:
                run = [f"paths.output_dir={self.run_dir}", "logger=csv"] if config_name == "train" else []
                cfg = self.composed(config_name, [*run, *overrides])
                values = resolved(cfg)
                if config_name == "generate_gt":
                    gt_options(values, resolve_path=to_absolute_path)
                else:
                    meta_for(cfg)
            except Exception as err:  # Hydra's and OmegaConf's errors name the key; nothing has run yet
                raise StepFailed(f"{where}: {str(err).splitlines()[0]}") from None

    def selection(self) -> list[str]:
        """The loop's `selection` settings, passed on to the networks' steps."""
        images = self.cfg.selection_images
        return [f"selection={self.cfg.selection}", f"selection_images={'null' if images is None else images}"]

    def composed(self, config_name: str, overrides: list[str]) -> DictConfig:
        """A tool's config as its CLI would compose it."""
        dataset = (
            [] if config_name == "synthetic" else [f"dataset={self.dataset}"]
        )  # the generator has no dataset group
        return compose(config_name=config_name, overrides=[*dataset, f"data_root={self.data_root}", *overrides])

    def compose(self, config_name: str, overrides: list[str], folder: Path) -> DictConfig:
        """A tool's config as its CLI would compose it, saved beside the step's outputs
        (`folder/<config_name>.yaml`)."""
        cfg = self.composed(config_name, overrides)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{config_name}.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        return cfg

    def before_rounds(self) -> list[tuple[str, Recipe]]:
        """The steps before round 1 that another run can hand over (`loop.reuse_from`), each with
        the recipe of its config: the weak loop's prepare, cues and classifier of the train split."""
        if self.loop.supervision == "full" or self.loop.stuff_cues != "cam":
            return []
        return [
            ("prepare", self.prepare_recipe()),
            ("cues", self.cues_recipe()),
            ("classifier", self.classifier_recipe()),
        ]

    def overrides(self, step: str, round_k: int | None = None) -> list[str]:
        """The loop's overrides for a step: those for every run, then (weak and semi loops) those
        for every run that learns from pseudo-GT (`loop.pseudo_gt_steps`), then those of the rounds
        up to `round_k`, then the variant's (`loop.variant`)."""
        extra = list(self.loop.steps.get(step) or [])
        if self.loop.supervision != "full":
            extra += list((self.loop.get("pseudo_gt_steps") or {}).get(step) or [])
        for start in sorted(
            (self.loop.rounds or {}), key=int
        ):  # keys are strings: "6" can be overridden as loop.rounds.6
            if round_k is not None and int(start) <= round_k:
                extra += list(self.loop.rounds[start].get(step) or [])
        return extra + list((self.loop.get("variant") or {}).get(step) or [])

    # ------------------------------------------------------------------ steps

    def data(self) -> dict:
        """The embedded data where it is missing: train and val, and train_extra when the loop uses it
        (only the embedded data is generated: Loop refuses a missing list otherwise)."""
        splits = [] if self.train_list.exists() else ["train", "val"]
        if self.loop.train_extra and self.dataset == "synthetic" and not self.extra_list.exists():
            splits.append("train_extra")
        if self.dataset != "synthetic" and not splits:
            return {"generated": 0}
        cfg = self.compose(
            "synthetic", self.overrides("synthetic"), self.run_dir / "data"
        )  # its own seed: shared by every run
        if splits != ["train", "val"]:
            self.check_drawing(cfg)
        if not splits:
            return {"generated": 0}
        written = generate_from_config(self.data_root, cfg, tuple(splits))
        return {"generated": sum(len(v) for v in written.values())}

    def check_drawing(self, cfg: DictConfig) -> None:
        """Warn where the embedded data on disk was drawn otherwise than the generator's config now
        says (an older default, another object scale): the run uses what is on disk."""
        differ = drawing_differences(self.data_root, cfg)
        if differ is None:
            log.warning(
                "%s holds no %s: drawn by an older wsps, perhaps at another object_scale; "
                "delete the folder to draw it with the current settings",
                self.data_root,
                DRAWN_WITH,
            )
        elif differ:
            log.warning(
                "%s was drawn with %s; the run uses it as it is (delete it to draw it again)",
                self.data_root,
                ", ".join(differ),
            )

    def prepare_recipe(self, split: str = "train") -> Recipe:
        return "prepare", [f"split={split}", *self.overrides("prepare")], self.run_dir / f"prepare{SUFFIX[split]}"

    def prepare(self, split: str = "train") -> dict:
        cfg = self.compose(*self.prepare_recipe(split))
        summary = prepare(PrepareOptions.from_config(cfg), int(cfg.num_workers))
        if summary.failed:
            raise StepFailed(f"prepare {split}: {summary}: {summary.failures[0]}")
        return {"images": sum(summary.counts.values())}

    def cues_recipe(self, split: str = "train") -> Recipe:
        return (
            "cues",
            [f"split={split}", f"pred_root={self.run_dir / 'cues'}", *self.overrides("cues")],
            self.run_dir / f"cues{SUFFIX[split]}",
        )

    def cues(self, split: str = "train") -> dict:
        cfg = self.compose(*self.cues_recipe(split))
        summary = run_cues(CueOptions.from_config(cfg))
        if summary.failed:
            raise StepFailed(f"cues {split}: {summary}: {summary.failures[0]}")
        return {"images": sum(summary.counts.values())}

    def consensus_dir(self, split: str) -> Path:
        """Where the cues step leaves the thing cues' consensus of `split` (the cues config's
        `mcg_and_grabcut_dir` under the run's `cues/`)."""
        cfg = self.composed("cues", [f"split={split}", *self.overrides("cues")])
        return self.run_dir / "cues" / cfg.mcg_and_grabcut_dir

    def stage_recipe(
        self, stage: str, folder: Path, overrides: list[str], round_k: int | None = None, defaults: tuple[str, ...] = ()
    ) -> Recipe:
        """A network stage's config; `defaults` come before the loop's step overrides, which may change them."""
        return (
            "train",
            [
                f"stage={stage}",
                f"seed={self.cfg.seed}",
                *self.selection(),
                f"paths.output_dir={folder}",
                "logger=csv",
                *defaults,
                *self.overrides(stage, round_k),
                *overrides,
            ],
            folder,
        )

    def train_stage(
        self, stage: str, folder: Path, overrides: list[str], round_k: int | None = None, defaults: tuple[str, ...] = ()
    ) -> dict:
        """Train a stage (`stage_recipe`)."""
        return train(self.compose(*self.stage_recipe(stage, folder, overrides, round_k, defaults)))

    def classifier_recipe(self) -> Recipe:
        return self.stage_recipe("classifier", self.run_dir / "classifier", [f"pred_root={self.run_dir / 'cues'}"])

    def classifier(self) -> dict:
        return train(self.compose(*self.classifier_recipe()))

    def predict_extra(
        self, stage: str, checkpoint: Path, folder: Path, pred_root: Path, *overrides: str, round_k: int | None = None
    ) -> dict:
        """A trained network's predictions of the train_extra images, from its checkpoint."""
        return self.train_stage(
            stage,
            folder,
            ["fit=false", f"ckpt_path={checkpoint}", "predict_split=train_extra", f"pred_root={pred_root}", *overrides],
            round_k,
        )

    def classifier_extra(self, cam_threshold: float | None) -> dict:
        """The trained classifier's CAM labels of the train_extra images, at the threshold chosen on
        train (None: the configured number)."""
        checkpoint = last_checkpoint(self.run_dir / "classifier")
        chosen = [] if cam_threshold is None else [f"model.cam_threshold={cam_threshold}"]
        return self.predict_extra(
            "classifier", checkpoint, self.run_dir / "classifier_extra", self.run_dir / "cues", *chosen
        )

    def true_stuff_cues(self, split: str = "train") -> dict:
        """The true labels of the stuff classes where the CAM labels would be (things unlabelled)."""
        stuff = np.full(256, self.meta.ignore_label, np.uint8)
        stuff[list(self.meta.stuff_classes)] = list(self.meta.stuff_classes)
        folder = self.run_dir / "cues" / "cam" / split
        ids = read_id_list(self.meta.list_path(self.data_root, split))
        for image_id in ids:
            label = read_label_png(self.meta.gt_path(self.data_root, split, image_id, "labelTrainIds"))
            write_label_png(self.meta.label_file(folder, image_id), stuff[label])
        return {"images": len(ids)}

    def gt_overrides(self, k: int, split: str) -> list[str]:
        """generate_gt's overrides for round `k` on `split`: train_extra adds its preset to the round's
        (`preset=[first_round,train_extra]`), the release's settings for coarse labels."""
        source = self.run_dir / "cues" if k == 1 else self.run_dir / f"round_{k - 1}" / "pred"
        out = self.run_dir / f"round_{k}" / PSEUDO_GT[split]
        overrides = [
            f"split={split}",
            f"pred_root={source}",
            f"mcg_and_grabcut_dir={self.consensus_dir(split)}",
        ]
        if k > 1 and self.loop.keep_previous_labels:
            overrides += [
                "run_fill_from_prior=true",
                f"prior_dir={self.run_dir / f'round_{k - 1}' / PSEUDO_GT[split] / 'sem'}",
            ]
        round_overrides = self.overrides("gt", k)
        if split == "train_extra":
            presets = [o.split("=", 1)[1] for o in round_overrides if o.startswith("preset=")]
            round_overrides = [o for o in round_overrides if not o.startswith("preset=")]
            round_overrides.append(
                f"preset=[{presets[-1]},train_extra]" if presets and presets[-1] != "null" else "preset=train_extra"
            )
        return [*overrides, *round_overrides, f"sem_save_dir={out / 'sem'}", f"ins_save_dir={out / 'ins'}"]

    def run_gt(self, k: int, split: str, overrides: list[str]) -> None:
        folder = self.run_dir / f"round_{k}"
        cfg = self.compose("generate_gt", overrides, folder / PSEUDO_GT[split] if SUFFIX[split] else folder)
        opts = gt_options(cfg, resolve_path=to_absolute_path)
        summary = run_gt(opts)
        if summary.failed:
            raise StepFailed(f"generate_gt round {k} {split}: {summary}: {summary.failures[0]}")

    def pseudo_gt(self, k: int) -> dict:
        folder = self.run_dir / f"round_{k}"
        overrides = self.gt_overrides(k, "train")
        chosen = self.score_threshold(k, overrides)
        if chosen.get("score_threshold") is not None:
            overrides.append(f"score_thresh={chosen['score_threshold']}")
        self.run_gt(k, "train", overrides)
        ids = read_id_list(self.train_list)
        scores = score_label_folder(
            self.meta,
            self.data_root,
            "train",
            ids,
            folder / "pseudo_gt" / "sem",
            folder / "pseudo_gt" / "ins",
            folder / "pseudo_gt_eval",
        )
        return {
            **{f"selection/{k2}": v for k2, v in chosen.items()},
            **{f"pseudo_gt/{k2}": v for k2, v in scores.items()},
        }

    def pseudo_gt_extra(self, k: int, score_threshold: float | None) -> dict:
        """Round `k`'s semantic pseudo-GT of the train_extra images (no instances), cleaned with the
        score threshold chosen for train, and its labelled share."""
        overrides = self.gt_overrides(k, "train_extra")
        if score_threshold is not None:
            overrides.append(f"score_thresh={score_threshold}")
        self.run_gt(k, "train_extra", overrides)
        folder = self.run_dir / f"round_{k}" / PSEUDO_GT["train_extra"] / "sem"
        ids = read_id_list(self.extra_list)
        labelled = [
            np.mean(read_label_png(self.meta.label_file(folder, image_id)) != self.meta.ignore_label)
            for image_id in ids
        ]
        return {"pseudo_gt_extra/labelled": float(np.mean(labelled)), "pseudo_gt_extra/images": len(ids)}

    def segmenter_extra(self, k: int) -> dict:
        """Round `k`'s segmenter on the train_extra images, into the round's prediction folder (the
        next round's pseudo-GT reads them there)."""
        folder = self.run_dir / f"round_{k}"
        checkpoint = last_checkpoint(folder / "segmenter")
        return self.predict_extra("segmenter", checkpoint, folder / "predict_extra", folder / "pred", round_k=k)

    def score_threshold(self, k: int, overrides: list[str]) -> dict:
        """generate_gt's score threshold for round `k` (from round 2 on) as `loop.score_thresh` and
        `selection` say: a number, the previous segmenter's `val/score_threshold` (val_labels), or
        the sweep on the previous round's training predictions against their tags and boxes."""
        if k == 1 or self.loop.score_thresh is None:
            return {}
        if self.loop.score_thresh != "auto":
            return {"score_threshold": float(self.loop.score_thresh)}
        if check_selection(self.cfg.selection) == "val_labels":
            return {"score_threshold": self.record.steps[f"round_{k - 1}/segmenter"].get("val/score_threshold")}
        cfg = self.composed("generate_gt", overrides)
        opts = gt_options(cfg, resolve_path=to_absolute_path)
        if not opts.run_score_thresh:
            return {}
        ids = read_id_list(self.train_list)[: self.cfg.selection_images]
        return score_threshold_from_annotations(opts, ids)

    def segmenter_defaults(self) -> tuple[str, ...]:
        """Overrides that come before the loop's own for the segmenter: full supervision has no use
        for the crop-tag loss (the true labels say all the tags do), nor for predictions of the
        training images (no next round's pseudo-GT is made from them)."""
        return (
            ("model.tag_weight=0", "data.tag_crop_size=null", "predict=false")
            if self.loop.supervision == "full"
            else ()
        )

    def confidence_weights(self, k: int) -> list[str]:
        """`loop.confidence_weights`: from round 2 on, the segmenter weighs each training pixel's
        semantic loss by the previous model's score there, the score maps generate_gt read."""
        if not self.loop.confidence_weights or k == 1:
            return []
        gt = self.composed("generate_gt", self.gt_overrides(k, "train"))
        return [
            f"data.label_scores={Path(gt.pred_root) / gt.pred_score_dir}",
            f"data.label_score_template={gt.pred_score_template}",
        ]

    def segmenter(self, k: int) -> dict:
        folder = self.run_dir / f"round_{k}"
        overrides, defaults = [f"pred_root={folder / 'pred'}"], self.segmenter_defaults()
        if self.loop.supervision == "full":
            overrides.append("labels=gt")
        else:
            overrides += [f"labels={folder / 'pseudo_gt'}", "sem_save_dir=sem", "ins_save_dir=ins"]
            if self.loop.supervision == "semi":
                overrides.append(f"true_gt_fraction={self.loop.true_gt_fraction}")
            overrides += self.confidence_weights(k)
        if self.loop.train_extra:
            overrides.append("extra_split=train_extra")
            if self.loop.supervision != "full":
                overrides.append(f"extra_labels={folder / PSEUDO_GT['train_extra']}")
        previous = last_checkpoint(self.run_dir / f"round_{k - 1}" / "segmenter")
        if self.loop.warm_start and k > 1 and previous.exists():
            overrides.append(f"init_ckpt={previous}")
        resume = last_checkpoint(folder / "segmenter")
        if resume.exists():  # an interrupted round: continue its training
            overrides.append(f"ckpt_path={resume}")
        return self.train_stage("segmenter", folder / "segmenter", overrides, k, defaults)
