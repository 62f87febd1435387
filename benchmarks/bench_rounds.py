"""Where a loop run's PQ moves from round to round, from what the run saved (no network is run).

    python benchmarks/bench_rounds.py RUN [RUN ...] [--dataset synthetic] [--data data/synthetic]

RUN is a finished loop run folder (runs/bench_ablation_long/all, ...). Per round it prints, on
the validation split (the predictions each round's segmenter saved in `segmenter/val_panoptic`):
PQ_th, SQ_th, RQ_th and the thing segments matched (TP), predicted but unmatched (FP) and missed
(FN); per thing class PQ and TP / true instances, so that a change can be traced to the classes
with few instances, which move PQ_th (a mean over classes) by whole instances. Then, for a weak
run, PQ on the training split of the panoptic predictions each round made for its next
pseudo-GT (`pred/panoptic`), scored against the true labels (read to score only), and the share
of the true thing pixels that round's pseudo-GT (`pseudo_gt/sem`) and raw predictions
(`pred/pred_sem_raw`) give their true class, another thing class, a stuff class, or no label.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsps.data.metadata import dataset_meta  # noqa: E402
from wsps.eval.panoptic import evaluate_panoptic, panoptic_gt  # noqa: E402
from wsps.io import read_label_png  # noqa: E402


def things_on_val(folder: Path, meta) -> dict:
    """PQ, SQ, RQ of things and per thing class PQ, TP, FP and FN, of a segmenter's saved
    validation predictions (`val_panoptic/{gt,pred}`)."""
    gt_json = next((folder / "gt").glob("*.json"))
    ids = sorted(p.name[: -len("_panoptic.json")] for p in (folder / "pred").glob("*_panoptic.json"))
    scores = evaluate_panoptic(gt_json, gt_json.with_suffix(""), folder / "pred", ids)
    names = [meta.class_names[c] for c in meta.thing_classes]
    per_class = {
        n: {"PQ": scores["per_class"][n], **scores["counts"][n]}
        for n in names
        if n in scores["counts"] and scores["counts"][n]["TP"] + scores["counts"][n]["FN"] > 0
    }
    return {
        **{k: scores[k] for k in ("PQ_th", "SQ_th", "RQ_th")},
        **{k: sum(v[k] for v in per_class.values()) for k in ("TP", "FP", "FN")},
        "per_class": per_class,
    }


def thing_pixels(meta, data: Path, ids: list[str], folder: Path) -> np.ndarray:
    """Of the true thing pixels of `ids` (train split), the shares that the label maps in `folder`
    give the true class, another thing class, a stuff class, and no label."""
    counts = np.zeros(4)
    things = np.asarray(meta.thing_classes)
    for image_id in ids:
        true = read_label_png(meta.gt_path(data, "train", image_id, "labelTrainIds"))
        label = read_label_png(meta.label_file(folder, image_id))
        at = np.isin(true, things)
        t, p = true[at], label[at]
        thing = np.isin(p, things)
        counts += [
            np.sum(p == t),
            np.sum(thing & (p != t)),
            np.sum(~thing & (p != meta.ignore_label)),
            np.sum(p == meta.ignore_label),
        ]
    return counts / max(counts.sum(), 1)


def report(run: Path, meta, data: Path) -> None:
    rounds = sorted(int(p.name.split("_")[1]) for p in run.glob("round_*") if (p / "segmenter/val_panoptic").is_dir())
    print(f"\n{run}")
    for k in rounds:
        v = things_on_val(run / f"round_{k}/segmenter/val_panoptic", meta)
        print(
            f"round {k} val: PQ_th {v['PQ_th']:.3f} SQ_th {v['SQ_th']:.3f} RQ_th {v['RQ_th']:.3f}"
            f" | things TP {v['TP']} FP {v['FP']} FN {v['FN']}"
        )
        classes = v["per_class"].items()
        print("   " + ", ".join(f"{n} {c['PQ']:.2f} ({c['TP']}/{c['TP'] + c['FN']})" for n, c in classes))
    predicted = [k for k in rounds if (run / f"round_{k}/pred/panoptic").is_dir()]
    if predicted:
        folder = run / f"round_{predicted[0]}/pred/panoptic"
        ids = sorted(p.name[: -len("_panoptic.json")] for p in folder.glob("*_panoptic.json"))
        with tempfile.TemporaryDirectory() as cache:
            gt_json, gt_folder = panoptic_gt(meta, data, "train", ids, Path(cache))
            for k in predicted:
                r = evaluate_panoptic(gt_json, gt_folder, run / f"round_{k}/pred/panoptic", ids)
                print(
                    f"round {k} train ({r['images']} images): PQ {r['PQ']:.3f} PQ_th {r['PQ_th']:.3f}"
                    f" PQ_st {r['PQ_st']:.3f}"
                )
                for name, folder in (("pseudo-GT", "pseudo_gt/sem"), ("prediction", "pred/pred_sem_raw")):
                    shares = thing_pixels(meta, data, ids, run / f"round_{k}" / folder)
                    print(
                        f"   true thing pixels in its {name}: right {shares[0]:.3f}, other thing {shares[1]:.3f},"
                        f" stuff {shares[2]:.3f}, unlabelled {shares[3]:.3f}"
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    args = parser.parse_args()
    meta = dataset_meta(args.dataset)
    for run in args.runs:
        report(run, meta, args.data)


if __name__ == "__main__":
    main()
