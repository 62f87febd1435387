"""The pseudo-GT cleaning's options on one round of a finished weak run, without training anything.

    python benchmarks/bench_cleaning.py RUN_DIR [--round 2] [--out DIR]
                                        [--variant NAME=key=value,key=value ...]

Round k's pseudo-GT is made again from round k-1's saved predictions and scores, with the
generate_gt config the run used (RUN_DIR/round_k/generate_gt.yaml) and each variant's overrides
on it, and scored against the true labels of the training images as the loop scores it (mIoU
with unlabelled pixels counted as misses, PQ). The first row, `as run`, must reproduce the run's
own pseudo-GT; the others change one option, so that they differ from it only by that option:
the same predictions, no training noise. Default variants: `keep_ratio 0` (pixels the threshold
drops still keep the previous label, but no stuff class gets its previous pixels back when it
shrinks), `reference` (the release's cleaning: keep_previous_labels=false), and `threshold 0.99`
(the release's score threshold). Writes under --out (default runs/bench_cleaning/<run name>_round<k>/).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsps.data.metadata import DatasetMeta, gt_options  # noqa: E402
from wsps.eval.folders import score_label_folder  # noqa: E402
from wsps.gt.job import run as run_gt  # noqa: E402
from wsps.io import read_id_list, read_label_png  # noqa: E402
from wsps.loop.record import as_moved  # noqa: E402

VARIANTS = {
    "as run": [],
    "keep_ratio 0": ["prior_keep_ratio=0"],
    "reference": ["run_fill_from_prior=false"],
    "threshold 0.99": ["score_thresh=0.99"],
}


def remake(config: DictConfig, overrides: list[str], out: Path) -> Path:
    """Round k's pseudo-GT from `config` (a run's resolved generate_gt.yaml) with `overrides`, into `out`."""
    values = OmegaConf.merge(
        config,
        OmegaConf.from_dotlist([*overrides, f"sem_save_dir={out / 'sem'}", f"ins_save_dir={out / 'ins'}"]),
    )
    values.force_overwrite = True
    summary = run_gt(gt_options(values))
    if summary.failed:
        raise SystemExit(f"{out}: {summary}: {summary.failures[0]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--round", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--variant", nargs="+", default=[], help="NAME=key=value,key=value (replaces the defaults)")
    args = parser.parse_args()
    config = args.run_dir / f"round_{args.round}" / "generate_gt.yaml"
    if not config.exists():
        raise SystemExit(f"{config}: no such file (a weak run's round {args.round} of at least 2)")
    chosen = dict(VARIANTS)
    if args.variant:
        chosen = {"as run": []}
        for item in args.variant:
            name, _, overrides = item.partition("=")
            chosen[name] = [o for o in overrides.split(",") if o]
    saved = OmegaConf.create(as_moved(config.read_text(), args.run_dir.resolve()))  # the run may have been renamed
    values = OmegaConf.to_container(saved, resolve=True)
    meta = DatasetMeta.from_config(values)
    data_root = Path(values["data_root"])
    ids = read_id_list(meta.list_path(data_root, "train"))
    out = args.out or REPO / "runs" / "bench_cleaning" / f"{args.run_dir.name}_round{args.round}"
    rows = {}
    for name, overrides in chosen.items():
        folder = remake(saved, overrides, out / name.replace(" ", "_"))
        scores = score_label_folder(meta, data_root, "train", ids, folder / "sem", folder / "ins", folder / "eval")
        labelled = np.mean(
            [np.mean(read_label_png(meta.label_file(folder / "sem", i)) != meta.ignore_label) for i in ids]
        )
        rows[name] = {"labelled": labelled, **scores}
    names = [n for n in meta.class_names]
    print(f"\n{args.run_dir} round {args.round}: pseudo-GT on train ({len(ids)} images)")
    print(
        f"{'variant':16s} {'labelled':>8s} {'mIoU':>6s} {'PQ':>6s} {'PQ_th':>6s} {'PQ_st':>6s}  "
        + " ".join(f"{n[:6]:>6s}" for n in names)
    )
    for name, r in rows.items():
        print(
            f"{name:16s} {r['labelled']:8.3f} {r['mIoU']:6.3f} {r['PQ']:6.3f} {r['PQ_th']:6.3f} {r['PQ_st']:6.3f}  "
            + " ".join(f"{r.get(f'IoU/{n}', float('nan')):6.3f}" for n in names)
        )


if __name__ == "__main__":
    main()
