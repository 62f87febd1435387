"""Summarise a `benchmarks/gpu_check.sh` run: per loop the wall time, the seconds of each step,
the seconds of its network's training (`fit`) with the GPU's mean use during it, of the CAM
threshold's choice, and the rate of its prediction writers; then the issue's figures (the GPU
busy share over the segmenter's training, the slowest CAM-label and prediction rates) and the
last round's scores; then the CRF and writer benchmarks' output. A loop stopped early (a time
limit) is summarised as far as its log goes.

    python benchmarks/gpu_summary.py runs/gpu_check
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d+)\]\[([\w.]+)\]\[INFO\] - (.*)$")
STEP = re.compile(r"^step (\S+)$")
FIT = re.compile(r"^fit: ([\d.]+) s$")
CHOSE = re.compile(r"^(CAM threshold) [\d.]+ \(.*\) chosen in ([\d.]+) s;")
WRITER = re.compile(r"^(\w+Writer): (\d+) images in ([\d.]+) s \(([\d.]+) img/s, (\d+) pool processes\)$")
#: The issue's targets: the GPU's busy share during the segmenter's training, images/s of each writer.
BUSY_TARGET, RATE_TARGET = 70.0, 10.0
WRITERS = {"CamLabelWriter": "CAM labels", "SegmentationWriter": "predictions"}


@dataclass
class Step:
    """One step of the loop as its log tells it: when it ran, when its training ran, its writers' rates."""

    name: str
    start: datetime
    end: datetime | None = None
    fits: list[tuple[datetime, datetime]] = field(default_factory=list)
    choices: list[tuple[str, float]] = field(default_factory=list)  # what was chosen after training, seconds
    writers: list[tuple[str, int, float, float, int]] = field(default_factory=list)  # writer, images, s, img/s, pool


def read_log(log: Path, end: datetime) -> list[Step]:
    """The loop's steps from its log (`cli.log`); the last step ends at `end`."""
    steps: list[Step] = []
    for line in log.read_text(errors="replace").splitlines():
        m = LINE.match(line)
        if not m:
            continue
        when = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S") + timedelta(milliseconds=int(m.group(2)))
        message = m.group(4)
        if step := STEP.match(message):
            if steps:
                steps[-1].end = when
            steps.append(Step(step.group(1), when))
        elif not steps:
            continue
        elif fit := FIT.match(message):
            steps[-1].fits.append((when - timedelta(seconds=float(fit.group(1))), when))
        elif chose := CHOSE.match(message):
            steps[-1].choices.append((chose.group(1), float(chose.group(2))))
        elif writer := WRITER.match(message):
            name, images, seconds, rate, pool = writer.groups()
            steps[-1].writers.append((name, int(images), float(seconds), float(rate), int(pool)))
    if steps:
        steps[-1].end = end
    return steps


def gpu_use(csv: Path) -> list[tuple[datetime, float]]:
    """(time, utilisation %) samples of nvidia-smi's CSV (timestamp, utilization.gpu, memory.used)."""
    samples = []
    for line in csv.read_text().splitlines():
        parts = [p.strip() for p in line.split(",")]
        try:
            samples.append((datetime.strptime(parts[0][:19], "%Y/%m/%d %H:%M:%S"), float(parts[1].rstrip(" %"))))
        except (ValueError, IndexError):
            continue
    return samples


def busy(samples: list[tuple[datetime, float]], start: datetime, stop: datetime) -> list[float]:
    return [u for t, u in samples if start <= t < stop]


def summarise_loop(mode: str, out: Path, samples: list[tuple[datetime, float]]) -> list[str]:
    """The lines for one loop (`weak` or `full`) of the check in `out`."""
    log = out / mode / "cli.log"
    if not log.exists():
        return [f"{mode}: not run"]
    seconds = out / f"{mode}.seconds"
    if seconds.exists():
        code, wall = seconds.read_text().split()
        end = datetime.fromtimestamp(seconds.stat().st_mtime)
        state = "finished" if code == "0" else ("stopped at its time limit" if code == "124" else f"exit code {code}")
        lines = [f"{mode} loop: {int(wall)} s ({int(wall) / 60:.1f} min), {state}"]
    else:
        end = datetime.fromtimestamp(log.stat().st_mtime)
        lines = [f"{mode} loop: still running or killed (no {seconds.name}); its log so far"]
    training, rates = [], {}
    for step in read_log(log, end):
        use = busy(samples, step.start, step.end)
        text = f"  {step.name:<24} {(step.end - step.start).total_seconds():>7.0f} s"
        text += f", GPU {sum(use) / len(use):.0f}% busy" if use else ""
        for start, stop in step.fits:
            fit_use = busy(samples, start, stop)
            text += f"; fit {(stop - start).total_seconds():.0f} s"
            text += f" ({sum(fit_use) / len(fit_use):.0f}% busy)" if fit_use else ""
            if step.name.endswith("/segmenter"):
                training += fit_use
        for chosen, took in step.choices:
            text += f"; choosing {chosen} {took:.0f} s"
        for name, images, took, rate, pool in step.writers:
            text += f"; {WRITERS.get(name, name)} {images} in {took:.0f} s = {rate:.1f} img/s ({pool} processes)"
            rates.setdefault(name, []).append(rate)
        lines.append(text)
    if training:
        share = sum(training) / len(training)
        lines.append(f"  GPU busy during the segmenter's training: {share:.0f}% (target >= {BUSY_TARGET:.0f}%)")
    for name, values in rates.items():
        lines.append(f"  {WRITERS.get(name, name)}: slowest {min(values):.1f} img/s (target >= {RATE_TARGET:.0f})")
    results = out / mode / "results.json"
    if results.exists():
        rounds = json.loads(results.read_text())["rounds"]
        if rounds:
            lines.append("  last round: " + ", ".join(f"{k} {v:.3f}" for k, v in rounds[-1]["model"].items()))
    return lines


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/gpu_check")
    samples = gpu_use(out / "gpu_use.csv") if (out / "gpu_use.csv").exists() else []
    for name in ("gpu.txt", "cores.txt"):
        if (out / name).exists():
            print(f"{name[:-4]}: {(out / name).read_text().strip()}")
    for mode in ("weak", "full"):
        print("\n".join(summarise_loop(mode, out, samples)))
    for name in ("crf.txt", "scale.txt"):
        if (out / name).exists():
            print(f"\n{name}:\n" + "\n".join((out / name).read_text().splitlines()[-12:]))


if __name__ == "__main__":
    main()
