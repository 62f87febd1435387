"""The run record, `state.json`: the loop's settings and its completed steps with their metrics.

Versioned: a record written by an older version of wsps is converted when it is read, so that a
run begun before a setting existed resumes with the value it used.
"""

from __future__ import annotations

import json
import re
from itertools import zip_longest
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from wsps.io import atomic_path

VERSION = 5


class StepFailed(RuntimeError):
    """A step of the loop could not complete; the message says which and why."""


def as_moved(text: str, run: Path, to: Path | None = None) -> str:
    """`text` (a saved config of the run in folder `run`) naming `to` (default `run`) wherever it
    names the run's folder: `run` itself, or the folder the run was made in, which
    `.hydra/hydra.yaml` records, if the run was moved or renamed since."""
    record = run / ".hydra" / "hydra.yaml"
    made_in = OmegaConf.load(record).hydra.runtime.output_dir if record.exists() else None
    folders = "|".join(re.escape(str(p)) for p in {run, Path(made_in or run)})
    return re.sub(f"(?:{folders})(?=/|$|['\"\\s])", lambda _: str(to or run), text, flags=re.M)


#: config keys that say how a step runs, not what it makes: another value does not keep a run
#: from taking over the step (`loop.reuse_from`); the outputs are the same whatever they hold
HOW_IT_RUNS = ("data.num_workers", "data.superpixels_in_loader", "writer.num_workers", "writer.in_flight", "logger")


def first_difference(theirs: str, ours: str) -> tuple[str, str] | None:
    """The first pair of lines where two saved step configs (YAML text) differ, but for
    `HOW_IT_RUNS`; None where they make the same outputs."""

    def lines(text: str) -> list[str]:
        config = OmegaConf.create(text)
        for key in HOW_IT_RUNS:
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(config, parent) if parent else config
            if isinstance(node, DictConfig) and leaf in node:
                del node[leaf]
        return OmegaConf.to_yaml(config).splitlines()

    return next(((a, b) for a, b in zip_longest(lines(theirs), lines(ours)) if a != b), None)


def convert(record: dict) -> dict:
    """A record of any earlier version as the current one.

    Version 1 (no `version` key) predates `loop.stuff_cues`; such runs used the CAMs. Version 2
    predates `selection`; such runs, unless fully supervised, chose their thresholds on the
    validation labels. Version 3 predates `loop.pseudo_gt_steps`; such runs, unless fully
    supervised, added nothing there. Version 4 predates `loop.confidence_weights`; such runs,
    unless fully supervised, weighed every labelled pixel 1.
    """
    record = {"steps": {}, **record}
    version = record.get("version", 1)
    if "settings" in record:
        if version < 2:
            record["settings"] = {"stuff_cues": "cam", **record["settings"]}
        if version < 3 and record["settings"].get("supervision") != "full":
            record["settings"] = {"selection": "val_labels", **record["settings"]}
        if version < 4 and record["settings"].get("supervision") != "full":
            record["settings"] = {"pseudo_gt_steps": {}, **record["settings"]}
        if version < 5 and record["settings"].get("supervision") != "full":
            record["settings"] = {"confidence_weights": False, **record["settings"]}
    record["version"] = VERSION
    return record


class RunRecord:
    """`run_dir/state.json`, refused when it holds a run with other loop settings."""

    def __init__(self, run_dir: Path, settings: dict):
        self.path = Path(run_dir) / "state.json"
        record = convert(json.loads(self.path.read_text())) if self.path.exists() else {"version": VERSION, "steps": {}}
        if record.get("settings", settings) != settings:
            raise StepFailed(
                f"{run_dir} holds a run with other loop settings; start a new one (loop.name=...) or delete it"
            )
        self.record = {**record, "version": VERSION, "settings": settings}

    @property
    def steps(self) -> dict[str, dict]:
        return self.record["steps"]

    def done(self, name: str) -> dict | None:
        """The metrics of a completed step, or None."""
        return self.steps.get(name)

    def complete(self, name: str, metrics: dict) -> None:
        """Record a completed step, atomically."""
        self.steps[name] = metrics
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(self.record, indent=1))
