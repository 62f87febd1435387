"""Benchmark the whole method on CamVid's real photographs: weak, full and semi supervision.

    python benchmarks/bench_camvid.py [--modes weak full semi weak_val_labels] [--data data/camvid] [--seed N]

Converts ../shared/data/camvid into `--data` first if its lists are absent, then runs
`python train.py experiment=camvid` for each mode into runs/bench_camvid/ (runs resume: a second
call only prints). Prints per round the model's PQ, PQ_th, PQ_st and mIoU over the 11 classes on
the validation split at its native 360x480 (connected-component instances), the pseudo-GT's mIoU
and PQ against the true training labels, the per-class IoU of the last round, the first round's
cues on the training images (thing cues: M&G precision and coverage of the thing pixels; stuff
cues: CAM labels' precision and coverage of the stuff pixels, in all and per class), the minutes
of each mode, and the targets (issue 29: ImageNet-initialised networks).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_loop import print_per_class, print_rounds, run_modes  # noqa: E402

from wsps.data.metadata import dataset_meta  # noqa: E402
from wsps.io import read_id_list, read_label_png  # noqa: E402

SOURCE = REPO.parent / "shared" / "data" / "camvid"
MODES = {
    "weak": ["experiment=camvid"],
    "full": ["experiment=camvid", "loop.supervision=full"],
    "semi": ["experiment=camvid", "loop.supervision=semi", "loop.true_gt_fraction=0.3"],
    "weak_val_labels": ["experiment=camvid", "selection=val_labels"],
}
TARGETS = {"full mIoU": 0.60, "weak/full mIoU": 0.85, "weak/full PQ": 0.80, "semi/full mIoU": 0.93, "minutes": 45}


def convert_once(data: Path) -> None:
    """Converts ../shared/data/camvid into `data` (wsps-camvid) unless its lists are there."""
    if not (data / "lists" / "train_id.txt").exists():
        if not SOURCE.exists():
            raise SystemExit(f"{data}: no CamVid lists, and no CamVid at {SOURCE} to convert")
        command = [sys.executable, "-m", "wsps.data.camvid", f"src={SOURCE}", f"data_root={data}"]
        subprocess.run(command, cwd=REPO, check=True)


def cue_scores(run_dir: Path, data: Path) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """Precision and coverage of the first round's cues on the training images: the M&G map on
    the true thing pixels, the CAM labels on the true stuff pixels; and per stuff class, the CAM
    labels' precision and coverage of that class."""
    meta = dataset_meta("camvid")
    counts = np.zeros(6)
    per_class = np.zeros((meta.num_classes, 3))  # labelled, correct, true
    for image_id in read_id_list(meta.list_path(data, "train")):
        truth = read_label_png(meta.gt_path(data, "train", image_id, "labelTrainIds"))
        valid = truth != meta.ignore_label
        for k, (folder, classes) in enumerate(
            (("mcg_and_grabcut/train", meta.thing_classes), ("cam/train", meta.stuff_classes))
        ):
            cue = read_label_png(run_dir / "cues" / folder / f"{image_id}_leftImg8bit.png")
            labelled = np.isin(cue, classes) & valid
            counts[3 * k : 3 * k + 3] += (
                labelled.sum(),
                (labelled & (cue == truth)).sum(),
                (np.isin(truth, classes) & valid).sum(),
            )
            if folder.startswith("cam"):
                for c in classes:
                    per_class[c] += ((cue == c) & valid).sum(), ((cue == c) & (truth == c)).sum(), (truth == c).sum()
    totals = {
        "things precision": counts[1] / max(counts[0], 1),
        "things coverage": counts[1] / max(counts[2], 1),
        "stuff precision": counts[4] / max(counts[3], 1),
        "stuff coverage": counts[4] / max(counts[5], 1),
    }
    classes = {
        meta.class_names[c]: (per_class[c, 1] / max(per_class[c, 0], 1), per_class[c, 1] / max(per_class[c, 2], 1))
        for c in meta.stuff_classes
    }
    return totals, classes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["weak", "full", "semi"], choices=list(MODES))
    parser.add_argument("--data", type=Path, default=REPO / "data" / "camvid")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    convert_once(args.data)
    results = run_modes({mode: MODES[mode] for mode in args.modes}, str(args.data), args.seed, "bench_camvid")
    checks = []
    print_rounds(results)
    print_per_class(results)
    for mode in results:
        if mode != "full":
            run_dir = REPO / "runs" / "bench_camvid" / (f"{mode}_seed{args.seed}" if args.seed else mode)
            scores, classes = cue_scores(run_dir, args.data)
            print(f"\n{mode}: first-round cues on train: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
            print(
                "  CAM labels per stuff class (precision / coverage): "
                + ", ".join(f"{name} {p:.2f} / {c:.2f}" for name, (p, c) in classes.items())
            )
            if mode == "weak":
                ok = bool(scores["stuff precision"] >= 0.80 and scores["stuff coverage"] >= 0.75)
                checks.append(("CAM stuff precision >= 0.80 at coverage >= 0.75", ok))
    if "full" in results:
        full = results["full"]["final"]
        checks.append(("full mIoU", full["mIoU"]))
        for mode, key in (("weak", "mIoU"), ("weak", "PQ"), ("semi", "mIoU")):
            if mode in results:
                checks.append((f"{mode}/full {key}", results[mode]["final"][key] / full[key]))
    print()
    for name, value in checks:
        if isinstance(value, bool):
            print(f"target: {name}: {'PASS' if value else 'FAIL'}")
        else:
            print(f"target: {name} >= {TARGETS[name]}: {value:.3f} {'PASS' if value >= TARGETS[name] else 'FAIL'}")
    for mode, r in results.items():
        minutes = r["seconds"] / 60
        print(f"target: {mode} within {TARGETS['minutes']} min: {minutes:.1f} {'PASS' if minutes <= 45 else 'FAIL'}")
        if r["rounds"] and r["rounds"][0]["pseudo_gt"]:
            first, last = r["rounds"][0]["pseudo_gt"]["mIoU"], r["rounds"][-1]["pseudo_gt"]["mIoU"]
            print(
                f"target: {mode} pseudo-GT mIoU rises: {first:.3f} -> {last:.3f} {'PASS' if last > first else 'FAIL'}"
            )


if __name__ == "__main__":
    main()
