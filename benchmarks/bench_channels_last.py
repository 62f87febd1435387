"""Training-step time of the two networks with channels-last tensors (their default) against
contiguous NCHW ones, at the embedded data's sizes.

    python benchmarks/bench_channels_last.py [--steps 10] [--device cpu|cuda]

The segmenter steps on a batch of 8 whole 128x256 images, the classifier on 4 images' 15 crops of
50x63 enlarged twice (the loop's settings). On a CPU the precision is the one the CPU trainer
picks (`wsps.cpu_precision`: bfloat16 autocast where the CPU has it natively); on a GPU bfloat16.
Prints seconds per step in each memory format and their ratio. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsps import cpu_precision  # noqa: E402
from wsps.data.metadata import dataset_meta  # noqa: E402
from wsps.models.build import build_model  # noqa: E402

WARMUP = 3


def networks(meta, encoder_name: str = "tu-regnetx_002") -> dict:
    """Per network on `encoder_name` (random weights): a constructor and its training batch."""
    net = [f"model.net.encoder_name={encoder_name}", "model.net.encoder_weights=null"]
    names = {"class_names": meta.class_names, "thing_classes": meta.thing_classes}
    return {
        "segmenter": (lambda: build_model("segmenter", net, **names), torch.rand(8, 3, 128, 256)),
        "classifier": (
            lambda: build_model(
                "classifier",
                net,
                class_names=meta.class_names,
                canvas_size=(128, 256),
                crop_size=(50, 63),
                input_scale=2.0,
            ),
            torch.rand(60, 3, 50, 63),
        ),
    }


def step_seconds(make, batch: torch.Tensor, memory_format, device: str, bf16: bool, steps: int) -> float:
    """Mean seconds of one forward, backward and AdamW step, after `WARMUP` steps."""
    torch.manual_seed(0)
    model = make().to(device, memory_format=memory_format)
    model.net.memory_format = memory_format  # the inputs' format in forward
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    batch = batch.to(device)
    for k in range(WARMUP + steps):
        if k == WARMUP:
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            out = model(batch)
            loss = sum(v.float().mean() for v in out.values()) if isinstance(out, dict) else out.float().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    bf16 = args.device == "cuda" or cpu_precision() == "bf16-mixed"
    print(f"device {args.device}, {'bfloat16 autocast' if bf16 else 'float32'}, {args.steps} steps after {WARMUP}")
    for name, (make, batch) in networks(dataset_meta("cityscapes")).items():
        nchw = step_seconds(make, batch, torch.contiguous_format, args.device, bf16, args.steps)
        last = step_seconds(make, batch, torch.channels_last, args.device, bf16, args.steps)
        print(f"{name:10s} NCHW {nchw:.3f} s/step, channels-last {last:.3f} s/step: {nchw / last:.2f}x faster")


if __name__ == "__main__":
    main()
