"""`wsps-predict ckpt=PATH images=DIR out=DIR`: a trained segmenter on any folder of images.

Reads every PNG and JPEG under `images` (recursively, any size), resizes each to the model's
working size, runs the network in batches (on a GPU when there is one), and resizes the maps back
to the image's own size. Per image it writes, under `out`:
- `semantic/<id>.png`: train ids (palette PNG);
- `panoptic/<id>.png`: COCO panoptic segment ids in RGB (id = R + 256 G + 256^2 B);
- with `overlay=true`, `overlay/<id>.jpg`: the classes' colours and every segment's outline;
and at the end `panoptic.json` (COCO panoptic: `images`, `annotations` with `segments_info`,
`categories` with `isthing`). `<id>` is the file's stem without Cityscapes' `_leftImg8bit`, or its
relative path where two stems meet. Images stream through a loader: memory stays bounded. A bad
image gets one line naming it, the others are written, and the exit code is 1. `ckpt` is a
Lightning checkpoint (`.ckpt`) or a network from `wsps-export` (`.onnx`, `.pt`). Options:
conf/predict.yaml.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.utils import to_absolute_path
from omegaconf import DictConfig
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from wsps import CONFIG_DIR, cpu_precision
from wsps.eval.panoptic import id_to_rgb
from wsps.inference import PredictorSpec, coco_segments, load_backend, overlay, panoptic_prediction
from wsps.io import ConfigError, InputError, atomic_path, write_label_png, write_png
from wsps.runner import Summary, run_job

log = logging.getLogger("wsps.predict")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def find_images(folder: Path) -> list[Path]:
    """Every PNG and JPEG under `folder`, recursively, in sorted order."""
    if not folder.is_dir():
        raise InputError(folder, "image folder not found (images=...)")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def image_ids(paths: list[Path], folder: Path) -> list[str]:
    """Each image's id: its stem without a trailing `_leftImg8bit` (Cityscapes' image ids), or,
    where two images share it, its path under `folder` without the suffix, `/` as `__`."""
    stems = [p.stem.removesuffix("_leftImg8bit") for p in paths]
    counts = {s: stems.count(s) for s in set(stems)}
    return [
        s if counts[s] == 1 else str(p.relative_to(folder).with_suffix("")).replace("/", "__")
        for s, p in zip(stems, paths)
    ]


class ImageFolder(Dataset):
    """Images resized to the working size, as (3, rows, cols) floats in [0, 1], with the RGB
    image at its own size; an unreadable file gives its error instead of failing the batch."""

    def __init__(self, paths: list[Path], ids: list[str], working_size: tuple[int, int], keep_rgb: bool):
        self.paths, self.ids, self.working_size, self.keep_rgb = paths, ids, working_size, keep_rgb

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        item = {"id": self.ids[index], "path": str(path)}
        try:
            with Image.open(path) as image:
                rgb = np.asarray(image.convert("RGB"))
        except Exception as err:  # PIL raises many kinds for truncated or foreign files
            return {**item, "error": f"{path}: cannot read the image: {str(err).splitlines()[0]}"}
        rows, cols = self.working_size
        resized = (
            np.asarray(Image.fromarray(rgb).resize((cols, rows), Image.BILINEAR))
            if rgb.shape[:2] != (rows, cols)
            else rgb
        )
        item["image"] = torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1))).float() / 255
        item["size"] = rgb.shape[:2]
        if self.keep_rgb:
            item["rgb"] = rgb
        return item


def collate(items: list[dict]) -> dict:
    """Readable images stacked, failures passed on by message."""
    good = [i for i in items if "error" not in i]
    return {
        "errors": [i["error"] for i in items if "error" in i],
        "items": good,
        "images": torch.stack([i["image"] for i in good]) if good else None,
    }


@dataclass
class Results:
    """The COCO panoptic JSON's entries so far, and the run's counts."""

    spec: PredictorSpec
    images: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)

    def coco(self) -> dict:
        return {"images": self.images, "annotations": self.annotations, "categories": self.spec.categories()}


def write_image(out: Path, item: dict, heads: tuple[torch.Tensor, ...], spec: PredictorSpec, results: Results) -> None:
    """One image's files, and its entries in the COCO JSON."""
    image_id, size = item["id"], tuple(item["size"])
    sem, pan_sem, pan_inst = panoptic_prediction(*heads, spec, size)
    segment_ids, segments = coco_segments(pan_sem, pan_inst, spec.thing_classes, spec.ignore_label)
    write_label_png(out / "semantic" / f"{image_id}.png", sem)
    write_png(out / "panoptic" / f"{image_id}.png", id_to_rgb(segment_ids))
    if "rgb" in item:
        path = out / "overlay" / f"{image_id}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Image.fromarray(overlay(item["rgb"], pan_sem, segment_ids)).save(tmp, format="JPEG", quality=90)
    results.images.append({"id": image_id, "file_name": item["path"], "height": size[0], "width": size[1]})
    results.annotations.append({"image_id": image_id, "file_name": f"{image_id}.png", "segments_info": segments})


def predict_folder(
    backend,
    images: Path,
    out: Path,
    batch_size: int = 8,
    num_workers: int = 2,
    with_overlay: bool = False,
) -> Results:
    """Predict every image under `images` into `out` (see the module's docstring)."""
    paths = find_images(images)
    if not paths:
        raise InputError(images, f"no {', '.join(IMAGE_SUFFIXES)} image in the folder")
    spec = backend.spec
    dataset = ImageFolder(paths, image_ids(paths, images), spec.working_size, with_overlay)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=collate)
    results = Results(spec)
    with tqdm(total=len(paths), desc="predict", unit="img", disable=None) as progress:
        for batch in loader:
            for message in batch["errors"]:
                log.error("%s", message)
                results.summary.failures.append(message)
                results.summary.counts["failed"] += 1
            if batch["images"] is not None:
                heads = backend(batch["images"])
                for k, item in enumerate(batch["items"]):
                    try:
                        write_image(out, item, tuple(h[k] for h in heads), spec, results)
                        results.summary.counts["done"] += 1
                    except (OSError, InputError) as err:
                        message = f"{item['path']}: cannot write its predictions: {err}"
                        log.error("%s", message)
                        results.summary.failures.append(message)
                        results.summary.counts["failed"] += 1
            progress.update(len(batch["items"]) + len(batch["errors"]))
    with atomic_path(out / "panoptic.json") as tmp:
        tmp.write_text(json.dumps(results.coco()))
    return results


def device_and_precision(device: str, precision: str) -> tuple[str, bool]:
    """(`cuda` or `cpu`, bfloat16 or not) from the options: `auto` takes the GPU when there is
    one, and bfloat16 on a GPU or where the CPU has it natively."""
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device={device}: choose auto, cpu or cuda")
    if precision not in ("auto", "32", "bf16"):
        raise ConfigError(f"precision={precision}: choose auto, 32 or bf16")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda: no GPU is visible")
    if precision == "auto":
        return device, device == "cuda" or cpu_precision() == "bf16-mixed"
    return device, precision == "bf16"


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    def job() -> Summary:
        for key in ("ckpt", "images", "out"):
            if cfg.get(key) in (None, "", "???"):
                raise ConfigError(f"{key}=... is required: wsps-predict ckpt=MODEL images=DIR out=DIR")
        device, bf16 = device_and_precision(str(cfg.device), str(cfg.precision))
        backend = load_backend(to_absolute_path(cfg.ckpt), device, bf16, cfg.size)
        start = time.perf_counter()
        results = predict_folder(
            backend,
            Path(to_absolute_path(cfg.images)),
            Path(to_absolute_path(cfg.out)),
            int(cfg.batch_size),
            int(cfg.num_workers),
            bool(cfg.overlay),
        )
        seconds = time.perf_counter() - start
        done = results.summary.counts["done"]
        log.info(
            "%d image(s) in %.1f s (%.2f images/s), %s on %s; COCO panoptic JSON %s",
            done,
            seconds,
            done / max(seconds, 1e-9),
            "bfloat16" if bf16 and not str(cfg.ckpt).endswith((".onnx", ".pt", ".ts")) else "float32",
            device,
            Path(to_absolute_path(cfg.out)) / "panoptic.json",
        )
        return results.summary

    run_job("predict", job, (ConfigError, InputError))


if __name__ == "__main__":
    main()
