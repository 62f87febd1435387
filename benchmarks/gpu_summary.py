"""Summarise a `benchmarks/gpu_check.sh` run: per loop the wall time, the seconds of each step, the
GPU's mean use during the segmenter's training steps and the last round's figures; then the CRF
and writer benchmarks' output.

    python benchmarks/gpu_summary.py runs/gpu_check
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path

STEP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+\]\[wsps\.loop\]\[INFO\] - step (\S+)")


def steps(log: Path, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """(step, start, end) of every step the loop started, from its log; the last ends at `end`."""
    starts = [
        (m.group(2), datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) for m in map(STEP.match, log.open()) if m
    ]
    return [(name, start, starts[k + 1][1] if k + 1 < len(starts) else end) for k, (name, start) in enumerate(starts)]


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


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/gpu_check")
    samples = gpu_use(out / "gpu_use.csv") if (out / "gpu_use.csv").exists() else []
    for mode in ("weak", "full"):
        seconds = out / f"{mode}.seconds"
        log = out / mode / "cli.log"
        if not seconds.exists() or not log.exists():
            print(f"{mode}: not run")
            continue
        code, wall = seconds.read_text().split()
        end = datetime.fromtimestamp(seconds.stat().st_mtime)
        print(f"{mode} loop: {int(wall)} s ({int(wall) / 60:.1f} min), exit code {code}")
        busy = []
        for name, start, stop in steps(log, end):
            use = [u for t, u in samples if start <= t < stop]
            mean = f", GPU {sum(use) / len(use):.0f}% busy" if use else ""
            print(f"  {name:<24} {(stop - start).total_seconds():>7.0f} s{mean}")
            if name.endswith("/segmenter"):
                busy += use
        if busy:
            print(f"  GPU busy during the segmenter steps: {sum(busy) / len(busy):.0f}% of the time (target >= 70%)")
        results = out / mode / "results.json"
        if results.exists():
            last = json.loads(results.read_text())["rounds"][-1]["model"]
            print("  last round: " + ", ".join(f"{k} {v:.3f}" for k, v in last.items()))
    for name in ("crf.txt", "scale.txt"):
        if (out / name).exists():
            print(f"\n{name}:\n" + "\n".join((out / name).read_text().splitlines()[-12:]))


if __name__ == "__main__":
    main()
