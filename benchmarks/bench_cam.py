"""Benchmark the crop classifier and its CAM labels on the embedded validation split.

    python benchmarks/bench_cam.py [--data data/synthetic] [--selection tags_and_boxes|val_labels] [OVERRIDE ...]

Trains the classifier with the defaults of `train.py stage=classifier` and the Hydra overrides
given (the loop's own: `trainer.max_epochs=... model.input_scale=...`), generating the embedded
data first if absent, chooses the CAM threshold as `--selection` says (by default from the
training crops' tags, without pixel labels), and prints the validation mAP and the precision and
coverage on the validation split of the CAM labels at that threshold, for stuff and things. For
scale, the authors' CAM map for aachen_000000_000019 (../shared/data/wsps_sample) is scored
the same way against that image's true labels (issue #5 quotes stuff 0.92 at 0.29, things 0.78
at 0.38).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402

from wsps.data.synthetic import generate_from_config  # noqa: E402
from wsps.io import read_label_png  # noqa: E402
from wsps.labels import STUFF_CLASSES, label_ids_to_train_ids  # noqa: E402
from wsps.models.cam import cam_label_counts, precision_coverage  # noqa: E402
from wsps.train import train  # noqa: E402

SHARED = Path(os.environ.get("WSPS_SHARED", REPO.parent / "shared")) / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    parser.add_argument("--selection", default="tags_and_boxes", choices=["tags_and_boxes", "val_labels"])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of stage=classifier")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wsps_cam_") as tmp:
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            if not (args.data / "lists" / "train_id.txt").exists():
                generate_from_config(args.data, compose(config_name="synthetic"))
            cfg = compose(
                config_name="train",
                return_hydra_config=True,
                overrides=[
                    "stage=classifier",
                    f"data_root={args.data.resolve()}",
                    f"pred_root={tmp}/results",
                    f"paths.output_dir={tmp}/run",
                    "logger=csv",
                    "predict=false",
                    f"selection={args.selection}",
                    "hydra.job.num=0",
                    *args.overrides,
                ],
            )
        HydraConfig().set_config(cfg)
        start = time.perf_counter()
        metrics = train(cfg)
        seconds = time.perf_counter() - start
    print(
        f"crop classifier, stage=classifier {' '.join(args.overrides)} ({cfg.trainer.max_epochs} epochs, "
        f"{cfg.model.net.encoder_name}, {cfg.model.net.encoder_weights} weights), "
        f"{seconds:.0f} s on {torch.get_num_threads()} threads"
    )
    print(
        f"validation mAP {metrics['val/mAP']:.3f}; CAM threshold chosen with selection={args.selection}: "
        f"{metrics['selection/cam_threshold']:.2f}"
    )
    print(f"{'CAM labels':40s} {'stuff prec.':>11s} {'stuff cov.':>10s} {'things prec.':>12s} {'things cov.':>11s}")
    print(
        f"{'ours, embedded validation split':40s} {metrics['val/cam_precision_stuff']:11.3f} "
        f"{metrics['val/cam_coverage_stuff']:10.3f} "
        f"{metrics['val/cam_precision_things']:12.3f} {metrics['val/cam_coverage_things']:11.3f}"
    )
    authors = SHARED / "wsps_sample/results/cam/train/aachen_000000_000019_leftImg8bit.png"
    truth = SHARED / "cityscapes_real/gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png"
    if authors.exists() and truth.exists():
        counts = cam_label_counts(
            torch.from_numpy(read_label_png(authors)),
            torch.from_numpy(label_ids_to_train_ids(read_label_png(truth))),
            STUFF_CLASSES,
        )
        s = precision_coverage(counts)
        print(
            f"{'authors, real aachen_000000_000019':40s} {s['precision_stuff']:11.3f} {s['coverage_stuff']:10.3f} "
            f"{s['precision_things']:12.3f} {s['coverage_things']:11.3f}"
        )


if __name__ == "__main__":
    main()
