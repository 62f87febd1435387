"""`wsps-export ckpt=PATH format=onnx|torchscript out=FILE`: a trained segmenter for other tools.

The exported network takes images (N, 3, rows, cols) in [0, 1] at the checkpoint's working size
(the batch size is free) and returns the semantic logits, the centre heatmap and the offsets in
pixels: normalisation included, post-processing left out. The file carries the `PredictorSpec`
(classes, things, working size, post-processing) as JSON: ONNX metadata or a TorchScript extra
file under `wsps.json`, so that `wsps-predict ckpt=FILE` runs from it alone. After writing, the
export runs both networks on one random batch and logs their largest difference. Options:
conf/export.yaml.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import torch
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from wsps import CONFIG_DIR
from wsps.inference import SPEC_KEY, CheckpointBackend, load_backend
from wsps.io import ConfigError, InputError, atomic_path
from wsps.models.segmenter import ExportableSegmenter
from wsps.runner import Summary, run_job

log = logging.getLogger("wsps.export")

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


def export(ckpt: Path, fmt: str, out: Path, opset: int = 18) -> float:
    """Write the checkpoint's network to `out` as `fmt`; returns the largest absolute difference
    between its outputs and the checkpoint's on a random batch of two images (float32, CPU)."""
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt}: choose {' or '.join(FORMATS)}")
    if out.suffix != FORMATS[fmt]:
        raise ConfigError(f"out={out}: a {fmt} file must end in {FORMATS[fmt]}")
    source = CheckpointBackend(ckpt, "cpu", bf16=False)
    network = ExportableSegmenter(source.model).eval()
    rows, cols = source.spec.working_size
    example = torch.rand(2, 3, rows, cols, generator=torch.Generator().manual_seed(0))
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        if fmt == "onnx":
            import onnx

            batch = torch.export.Dim("batch", min=1, max=1024)
            torch.onnx.export(
                network,
                (example,),
                str(tmp),
                input_names=["image"],
                output_names=["semantic", "center", "offset"],
                dynamic_shapes={"image": {0: batch}},
                opset_version=opset,
                dynamo=True,
                external_data=False,
            )
            model = onnx.load(str(tmp))
            onnx.helper.set_model_props(model, {SPEC_KEY: source.spec.to_json()})
            onnx.save(model, str(tmp))
        else:
            with torch.no_grad():
                traced = torch.jit.trace(network, example)
            torch.jit.save(traced, str(tmp), _extra_files={SPEC_KEY: source.spec.to_json()})
    exported = load_backend(out, "cpu")
    check = torch.rand(3, 3, rows, cols, generator=torch.Generator().manual_seed(1))
    return max(float((a - b).abs().max()) for a, b in zip(source(check), exported(check)))


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    def job() -> Summary:
        for key in ("ckpt", "out"):
            if cfg.get(key) in (None, "", "???"):
                raise ConfigError(f"{key}=... is required: wsps-export ckpt=MODEL.ckpt format=onnx out=FILE.onnx")
        out = Path(to_absolute_path(cfg.out))
        difference = export(Path(to_absolute_path(cfg.ckpt)), str(cfg.format), out, int(cfg.opset))
        log.info("%s written; largest difference from the checkpoint on a random batch: %.2e", out, difference)
        summary = Summary()
        summary.counts["done"] += 1
        return summary

    run_job("export", job, (ConfigError, InputError))


if __name__ == "__main__":
    main()
