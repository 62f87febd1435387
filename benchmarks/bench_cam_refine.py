"""CAM labels refined six ways, from one trained classifier: precision and coverage per stuff class.

    python benchmarks/bench_cam_refine.py CKPT --dataset camvid --data data/camvid [--split train] [--limit N]

CKPT is a crop classifier's checkpoint (a weak run's `classifier/checkpoints/last.ckpt`). For
each refinement of the stitched CAMs, the CAM threshold is chosen as the loop chooses it, from
the crop tags of the split's first `--selection-images` images (no pixel label); then every
image of the split is labelled and scored against its true labels: the share of labelled pixels
that are right (precision) and of the class's pixels labelled right (coverage), per stuff class
and for all stuff, and the things' figures. Refinements:
- `argmax`: the stitched CAMs thresholded, nothing else;
- `superpixels+crf`: Felzenszwalb pooling, then the dense CRF (the default);
- `superpixels+crf_gpu`: the same with the CRF in torch (`cam_crf.backend: gpu`);
- `pamr`: pixel-adaptive mask refinement (Araslanov and Roth, 2020), then the threshold;
- `pamr+crf`: PAMR, then the dense CRF;
- `pamr+superpixels+crf`: all three.
The CRF and superpixel settings are the checkpoint's; PAMR takes dilations 1 to 24 and 10 iterations.
`--threshold T` labels with T for every method instead of choosing each method's threshold.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsps.data.datamodules import CropTagDataModule  # noqa: E402
from wsps.data.metadata import dataset_meta  # noqa: E402
from wsps.models.classifier import CropClassifier  # noqa: E402
from wsps.selection import cam_threshold_from_tags  # noqa: E402

PAMR = {"dilations": [1, 2, 4, 8, 12, 24], "iterations": 10, "max_side": 512}
DEFAULT_SUPERPIXELS = {"scale": 200, "sigma": 0.5, "min_size": 10, "max_side": 512}
DEFAULT_CRF = {
    "sxy": 20,
    "srgb": 8,
    "compat": 10,
    "gaussian_sxy": 3,
    "gaussian_compat": 3,
    "iterations": 5,
    "max_side": 512,
}


def methods(hparams) -> dict[str, dict]:
    superpixels = hparams.get("cam_superpixels") or DEFAULT_SUPERPIXELS
    crf = hparams.get("cam_crf") or DEFAULT_CRF
    return {
        "argmax": {"cam_pamr": None, "cam_superpixels": None, "cam_crf": None},
        "superpixels+crf": {"cam_pamr": None, "cam_superpixels": superpixels, "cam_crf": {**crf, "backend": "cpu"}},
        "superpixels+crf_gpu": {"cam_pamr": None, "cam_superpixels": superpixels, "cam_crf": {**crf, "backend": "gpu"}},
        "pamr": {"cam_pamr": PAMR, "cam_superpixels": None, "cam_crf": None},
        "pamr+crf": {"cam_pamr": PAMR, "cam_superpixels": None, "cam_crf": crf},
        "pamr+superpixels+crf": {"cam_pamr": PAMR, "cam_superpixels": superpixels, "cam_crf": crf},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", type=Path)
    parser.add_argument("--dataset", default="camvid")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "camvid")
    parser.add_argument("--split", default="train")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--selection-images", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--threshold", type=float, help="one CAM threshold for every method instead of choosing each")
    args = parser.parse_args()
    meta = dataset_meta(args.dataset)
    base = CropClassifier.load_from_checkpoint(args.ckpt, map_location="cpu").eval()
    table = methods(base.hparams)
    table = {k: table[k] for k in (args.methods or table)}
    dm = CropTagDataModule(str(args.data), meta, predict_split=args.split, batch_size=2, limit=args.limit)
    models, thresholds = {}, {}
    for name, settings in table.items():
        model = copy.deepcopy(base)
        model.hparams.update(settings)
        start = time.perf_counter()
        if args.threshold is not None:
            thresholds[name] = args.threshold
        else:
            thresholds[name], _ = cam_threshold_from_tags(model, dm.predict_dataloader(), args.selection_images)
        model.hparams.cam_threshold = thresholds[name]
        models[name] = model
        print(f"{name}: threshold {thresholds[name]:.2f} chosen in {time.perf_counter() - start:.0f} s", flush=True)
    classes = meta.num_classes
    counts = {name: np.zeros((classes, 3)) for name in table}  # labelled as c, right, true c
    seconds = dict.fromkeys(table, 0.0)
    with torch.no_grad():
        for batch in dm.predict_dataloader():
            raw = base.raw_cams(batch)
            for name, model in models.items():
                start = time.perf_counter()
                maps = model.refine_cams(raw, batch)
                for full, image, truth in zip(maps, batch["image"], batch["label"]):
                    label = model.cam_label_map(full, image, thresholds[name]).numpy()
                    truth = truth.numpy()
                    valid = truth != meta.ignore_label
                    for c in range(classes):
                        counts[name][c] += (
                            ((label == c) & valid).sum(),
                            ((label == c) & (truth == c)).sum(),
                            (truth == c).sum(),
                        )
                seconds[name] += time.perf_counter() - start
    stuff, things = list(meta.stuff_classes), list(meta.thing_classes)
    n_images = len(dm.split_ids(args.split, args.limit))
    print(f"\n{args.split} split of {args.dataset}, {n_images} images: precision / coverage")
    print(
        f"{'method':22s} {'thr':>4s} {'stuff':>11s} {'things':>11s} "
        + " ".join(f"{meta.class_names[c]:>11.11s}" for c in stuff)
        + "  s/img"
    )
    for name, n in counts.items():

        def pc(rows):
            labelled, right, true = n[rows].sum(axis=0)
            return f"{right / max(labelled, 1):.2f} / {right / max(true, 1):.2f}"

        print(
            f"{name:22s} {thresholds[name]:4.2f} {pc(stuff):>11s} {pc(things):>11s} "
            + " ".join(f"{pc([c]):>11s}" for c in stuff)
            + f"  {seconds[name] / n_images:.2f}"
        )


if __name__ == "__main__":
    main()
