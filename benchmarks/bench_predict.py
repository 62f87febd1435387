"""Throughput and peak memory of `wsps-predict` on a folder of images.

    python benchmarks/bench_predict.py CKPT IMAGES [--batch-size 8] [--num-workers 2] [--overlay] [--repeat 2]

Runs `wsps.predict.predict_folder` on every image under IMAGES (by default on CamVid's 101
validation images with the last round's segmenter of runs/bench_camvid/full) into a
temporary folder, `--repeat` times, and prints images per second of each run (the first one
includes the loader's start) and the peak resident memory of this process and of its loader
workers. The issue-33 target: at least 5 images/s on CamVid's val on 2 cores (the CRF is not used).
Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsps.inference import load_backend  # noqa: E402
from wsps.predict import device_and_precision, predict_folder  # noqa: E402

CAMVID_RUN = REPO / "runs/bench_camvid/full"
CAMVID_VAL = REPO / "data/camvid/leftImg8bit/val"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", nargs="?", type=Path, default=None)
    parser.add_argument("images", nargs="?", type=Path, default=CAMVID_VAL)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--overlay", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if args.ckpt is None:  # the CamVid full run's last round
        rounds = sorted(CAMVID_RUN.glob("round_*/segmenter/checkpoints/last.ckpt"), key=lambda p: int(p.parts[-4][6:]))
        if not rounds:
            raise SystemExit(
                f"no checkpoint under {CAMVID_RUN}: run benchmarks/bench_camvid.py --modes full, or give CKPT"
            )
        args.ckpt = rounds[-1]
    device, bf16 = device_and_precision("auto", "auto")
    backend = load_backend(args.ckpt, device, bf16)
    print(
        f"{args.ckpt} on {device}, {'bfloat16' if bf16 else 'float32'}; batch {args.batch_size}, "
        f"{args.num_workers} loader workers, overlay {args.overlay}"
    )
    for k in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="wsps_predict_") as out:
            start = time.perf_counter()
            results = predict_folder(backend, args.images, Path(out), args.batch_size, args.num_workers, args.overlay)
            seconds = time.perf_counter() - start
        done = results.summary.counts["done"]
        print(f"run {k + 1}: {done} images in {seconds:.1f} s: {done / seconds:.2f} images/s")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak resident memory: {own:.0f} MB (this process), {workers:.0f} MB (the largest loader worker)")
    print(f"target: >= 5 images/s: {'PASS' if done / seconds >= 5 else 'FAIL'}")


if __name__ == "__main__":
    main()
