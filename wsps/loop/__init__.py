"""The self-training driver: `python train.py` runs the whole method, resumably.

Steps (`wsps.loop.steps`), each composed from the same configs as the standalone tools plus the
loop's overrides:

    data -> prepare -> cues -> classifier (+ CAM labels) ->
    round 1: generate_gt (first_round preset: CAM + M&G) -> score pseudo-GT -> train segmenter -> predict
    round k: generate_gt (later rounds: predictions + scores) -> score -> train -> predict
    ... until the final training loss falls by less than `tolerance` (relative; null: never), or `max_rounds`.

`supervision=full` trains every round on the true labels (no cues); `semi` mixes the true labels
of `true_gt_fraction` of the images into the pseudo-GT. `stuff_cues=truth` replaces the CAM labels
with the true stuff labels (an upper bound) and skips the classifier. Every step's config is
composed before anything runs; completed steps are kept in the run record (`wsps.loop.record`)
and skipped when the run is started again; results go to the tracker and the results files
(`wsps.loop.report`).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from wsps.io import ConfigError, InputError
from wsps.loop.record import RunRecord, StepFailed, as_moved, first_difference
from wsps.loop.report import Tracker, per_class, write_results
from wsps.loop.steps import SUFFIX, Steps
from wsps.selection import check_selection
from wsps.train import input_error_message

log = logging.getLogger(__name__)

SUPERVISION = ("weak", "full", "semi")
STUFF_CUES = ("cam", "truth")

__all__ = ["Loop", "StepFailed", "run_loop"]


def record_settings(cfg: DictConfig) -> dict:
    """What a resumed run must share with the run it continues: the loop's settings and, unless it
    is fully supervised (no threshold to choose), how its thresholds are chosen."""
    settings = OmegaConf.to_container(cfg.loop, resolve=True)
    settings.pop("reuse_from", None)  # where the first steps came from, not how the method runs
    if cfg.loop.supervision == "full":
        settings.pop("pseudo_gt_steps", None)  # not used without pseudo-GT
        settings.pop("confidence_weights", None)
    else:
        settings["selection"] = cfg.selection
        if cfg.selection != "val_labels":
            settings["selection_images"] = cfg.selection_images
    return settings


class Loop:
    """One run of the method in `run_dir`; `cfg` is the composed `train` config with `stage=loop`."""

    def __init__(self, cfg: DictConfig, run_dir: Path):
        self.loop = cfg.loop
        if self.loop.supervision not in SUPERVISION:
            raise StepFailed(f"supervision={self.loop.supervision}: choose one of {', '.join(SUPERVISION)}")
        if self.loop.stuff_cues not in STUFF_CUES:
            raise StepFailed(f"stuff_cues={self.loop.stuff_cues}: choose one of {', '.join(STUFF_CUES)}")
        if self.loop.stuff_cues != "cam" and self.loop.supervision == "full":
            raise StepFailed(f"stuff_cues={self.loop.stuff_cues} with supervision=full: full supervision uses no cues")
        check_selection(cfg.selection)
        self.run_dir = run_dir
        dataset = (
            HydraConfig.get().runtime.choices.get("dataset", "synthetic") if HydraConfig.initialized() else "synthetic"
        )
        self.record = RunRecord(run_dir, record_settings(cfg))
        self.steps = Steps(cfg, run_dir, dataset, self.record)
        if not self.steps.train_list.exists() and dataset != "synthetic":
            raise StepFailed(
                f"{self.steps.train_list}: no such id list; prepare the dataset first (python -m wsps.prepare)"
            )
        self.steps.plan()
        self.tracker = Tracker(cfg, self.steps.meta, self.steps.data_root)

    def step(self, name: str, fn: Callable[[], dict]) -> dict:
        """Run `fn` unless a previous start completed it; record its metrics."""
        done = self.record.done(name)
        if done is not None:
            log.info("step %s: done before, skipped", name)
            return done
        log.info("step %s", name)
        start = time.perf_counter()
        metrics = {k: float(v) for k, v in (fn() or {}).items() if v is not None}
        metrics["seconds"] = time.perf_counter() - start
        self.record.complete(name, metrics)
        return metrics

    def donor_configs(self, donor: Path) -> tuple[dict, dict]:
        """The recorded metrics of `donor`'s steps before round 1, and per step folder (config
        name, this run's config text), where `donor`'s configs for them are this run's but for the
        run folder (`as_moved`: a donor moved or renamed since it ran names its old folder) and the
        keys that do not change outputs (`wsps.loop.record.HOW_IT_RUNS`: loader and writer workers,
        the logger); otherwise StepFailed, in one line naming the step and the first line that differs."""
        if not (donor / "state.json").exists():
            raise StepFailed(f"loop.reuse_from={donor}: no run record (state.json) there")
        done = json.loads((donor / "state.json").read_text()).get("steps", {})
        configs = {}
        for name, (config_name, overrides, folder) in self.steps.before_rounds():
            if name not in done:
                raise StepFailed(f"loop.reuse_from={donor}: its {name} step has not finished")
            saved = donor / folder.relative_to(self.run_dir) / f"{config_name}.yaml"
            theirs = as_moved(saved.read_text(), donor, self.run_dir)
            configs[folder] = (
                config_name,
                OmegaConf.to_yaml(self.steps.composed(config_name, overrides), resolve=True),
            )
            difference = first_difference(theirs, configs[folder][1])
            if difference:
                line, other = difference
                raise StepFailed(
                    f"loop.reuse_from={donor}: its {name} step ran with another config ({saved}: "
                    f"{line!r}; this run: {other!r})"
                )
        return done, configs

    def take_over(self, donors: list[Path]) -> None:
        """`loop.reuse_from`: the steps before round 1 (`Steps.before_rounds`: prepare, cues, the
        classifier and its CAM labels) copied, with their recorded metrics, from the first of
        `donors` whose configs for them are this run's but for the run folder; refused in one
        line where none is (the last donor's reason)."""
        steps = self.steps.before_rounds()
        if not steps or all(self.record.done(name) is not None for name, _ in steps):
            return
        for k, donor in enumerate(Path(to_absolute_path(str(d))) for d in donors):
            try:
                done, configs = self.donor_configs(donor)
                break
            except StepFailed as refused:
                if k == len(donors) - 1:
                    raise
                log.info("%s", refused)
        start = time.perf_counter()
        for folder, (config_name, text) in configs.items():
            partial_copy = folder.with_name(f".{folder.name}.partial")
            shutil.rmtree(partial_copy, ignore_errors=True)
            shutil.copytree(donor / folder.relative_to(self.run_dir), partial_copy)
            (partial_copy / f"{config_name}.yaml").write_text(text)  # this run's own: a donor in turn
            shutil.rmtree(folder, ignore_errors=True)
            partial_copy.rename(folder)
        seconds = (time.perf_counter() - start) / len(steps)
        for name, _ in steps:
            self.record.complete(name, {**done[name], "seconds": seconds})
        log.info("steps %s: taken over from %s", ", ".join(name for name, _ in steps), donor)

    def run(self) -> dict:
        weak, steps, extra = self.loop.supervision != "full", self.steps, bool(self.loop.train_extra)
        splits = ("train", "train_extra") if extra else ("train",)
        self.step("data", steps.data)
        if weak and self.loop.get("reuse_from"):
            donors = self.loop.reuse_from
            self.take_over([donors] if isinstance(donors, str) else list(donors))
        if weak:
            for split in splits:
                self.step(f"prepare{SUFFIX[split]}", partial(steps.prepare, split))
                self.step(f"cues{SUFFIX[split]}", partial(steps.cues, split))
            if self.loop.stuff_cues == "truth":
                for split in splits:
                    self.step(f"true_stuff_cues{SUFFIX[split]}", partial(steps.true_stuff_cues, split))
            else:
                classifier = self.step("classifier", steps.classifier)
                self.tracker.log(
                    {
                        **{
                            f"classifier/{k.split('/', 1)[-1]}": v
                            for k, v in classifier.items()
                            if k.startswith("val/")
                        },
                        **{k: v for k, v in classifier.items() if k.startswith("selection/")},
                    },
                    0,
                )
                if extra:
                    self.step(
                        "classifier_extra", partial(steps.classifier_extra, classifier.get("selection/cam_threshold"))
                    )
        rounds, previous_loss = [], None
        for k in range(1, int(self.loop.max_rounds) + 1):
            pseudo = self.step(f"round_{k}/pseudo_gt", partial(steps.pseudo_gt, k)) if weak else {}
            if weak and extra:
                if k > 1:
                    self.step(f"round_{k - 1}/predict_extra", partial(steps.segmenter_extra, k - 1))
                pseudo = {
                    **pseudo,
                    **self.step(
                        f"round_{k}/pseudo_gt_extra",
                        partial(steps.pseudo_gt_extra, k, pseudo.get("selection/score_threshold")),
                    ),
                }
            model = self.step(f"round_{k}/segmenter", partial(steps.segmenter, k))
            loss = model.get("train/loss")
            row = {
                "round": k,
                "train_loss": loss,
                "score_threshold": pseudo.get("selection/score_threshold"),
                "model": {m: model.get(f"val/{m}") for m in ("PQ", "PQ_th", "PQ_st", "mIoU")},
                "pseudo_gt": {m: pseudo.get(f"pseudo_gt/{m}") for m in ("mIoU", "PQ", "PQ_th", "PQ_st")}
                if weak
                else None,
                "iou": {
                    "model": per_class(model, "val/IoU/"),
                    "pseudo_gt": per_class(pseudo, "pseudo_gt/IoU/") if weak else None,
                },
            }
            rounds.append(row)
            self.tracker.round(row, self.run_dir / f"round_{k}")
            if (
                self.loop.tolerance is not None
                and previous_loss is not None
                and loss is not None
                and previous_loss - loss < self.loop.tolerance * previous_loss
            ):
                log.info(
                    "round %d: training loss %.4f fell by less than %.0f%% of %.4f: stopping",
                    k,
                    loss,
                    100 * self.loop.tolerance,
                    previous_loss,
                )
                break
            previous_loss = loss
        results = {
            "supervision": self.loop.supervision,
            "stuff_cues": self.loop.stuff_cues,
            "data_root": str(steps.data_root),
            "rounds": rounds,
            "final": rounds[-1]["model"] if rounds else {},
            "seconds": sum(s.get("seconds", 0) for s in self.record.steps.values()),
        }
        write_results(self.run_dir, results)
        self.tracker.finish(results)
        return results


def run_loop(cfg: DictConfig) -> dict:
    """`python train.py` (stage=loop)."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        return Loop(cfg, run_dir).run()
    except StepFailed as err:
        log.error("%s", err)
        raise SystemExit(1) from None
    except (ConfigError, InputError, InstantiationException, RuntimeError) as err:
        message = input_error_message(err)
        if message is None:
            raise
        log.error("%s", message)
        raise SystemExit(1) from None


class LoopTask:
    """The whole method as a stage (`stage=loop`; the config's `task` node names it)."""

    def run(self, cfg: DictConfig) -> float | None:
        """The loop's final PQ, for sweepers that optimise a metric."""
        return run_loop(cfg)["final"].get("PQ")
