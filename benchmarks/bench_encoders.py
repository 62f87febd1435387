"""Training-step time of both networks on each candidate encoder, at the embedded data's sizes.

    python benchmarks/bench_encoders.py [--encoders tu-regnetx_002 tu-tf_efficientnet_lite0 ...] [--steps 10]

The batches are the loop's (`bench_channels_last.networks`: the segmenter on 8 whole 128x256
images, the classifier on 4 images' 15 crops of 50x63 enlarged twice), channels-last, in the
precision the CPU trainer picks. Prints seconds per step and the ratio to the first encoder, and
each network's parameter count. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_channels_last import WARMUP, networks, step_seconds  # noqa: E402

from wsps import cpu_precision  # noqa: E402
from wsps.data.metadata import dataset_meta  # noqa: E402

ENCODERS = ["tu-regnetx_002", "tu-tf_efficientnet_lite0", "tu-tf_efficientnet_lite1", "tu-tf_efficientnet_lite2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=ENCODERS)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    bf16 = cpu_precision() == "bf16-mixed"
    print(f"cpu, {'bfloat16 autocast' if bf16 else 'float32'}, {args.steps} steps after {WARMUP}, channels-last")
    meta = dataset_meta("cityscapes")
    first = {}
    for encoder in args.encoders:
        for name, (make, batch) in networks(meta, encoder).items():
            seconds = step_seconds(make, batch, torch.channels_last, "cpu", bf16, args.steps)
            first.setdefault(name, seconds)
            params = sum(p.numel() for p in make().parameters()) / 1e6
            print(
                f"{encoder:26s} {name:10s} {params:5.1f} M parameters  {seconds:.3f} s/step  "
                f"{seconds / first[name]:.2f}x the first"
            )


if __name__ == "__main__":
    main()
