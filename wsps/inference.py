"""A trained segmenter on any images: what prediction needs, three ways to run the network, and
COCO panoptic results.

A `PredictorSpec` is everything prediction needs besides the network's weights: the dataset's
classes and things, the working size, and the post-processing settings. A Lightning checkpoint
carries it in its hyperparameters; an exported network (`wsps.export`) carries it as JSON, in
the ONNX file's metadata or the TorchScript file's extra files. A backend maps a batch of images
in [0, 1] at the working size to the three heads (semantic logits, centre heatmap, offsets):
the checkpoint's LightningModule, a TorchScript module, or an ONNX Runtime session.

Per image, `panoptic_prediction` takes the heads at the working size through the segmenter's
post-processing and resizes the maps back to the image's own size (nearest neighbour), and
`coco_segments` turns the panoptic map into COCO panoptic's segment ids and `segments_info`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from wsps.eval.panoptic import to_segments
from wsps.io import ConfigError, InputError
from wsps.labels import PALETTE
from wsps.models.postprocess import panoptic_from_outputs

#: Where an exported network keeps its `PredictorSpec` (ONNX metadata key, TorchScript extra file).
SPEC_KEY = "wsps.json"
SUFFIXES = (".ckpt", ".onnx", ".pt", ".ts")


@dataclass(frozen=True)
class PredictorSpec:
    """What prediction needs besides the network.

    Args:
        dataset_name: the dataset the network was trained on.
        class_names: one name per train id.
        thing_classes: train ids of the countable classes.
        ignore_label: the void label of semantic maps (255).
        working_size: (rows, cols) the network sees; other images are resized to it and back.
        center_threshold, nms_kernel, top_k, stuff_area, thing_area: the post-processing
            (`wsps.models.postprocess.panoptic_from_outputs`), areas in pixels at the working size.
    """

    dataset_name: str
    class_names: tuple[str, ...]
    thing_classes: tuple[int, ...]
    ignore_label: int
    working_size: tuple[int, int]
    center_threshold: float
    nms_kernel: int
    top_k: int | None
    stuff_area: int
    thing_area: int

    @classmethod
    def from_hparams(cls, h, working_size=None) -> PredictorSpec:
        """The spec a segmenter's hyperparameters hold; `working_size` for checkpoints without one."""
        size = working_size or h.get("working_size")
        if not size:
            raise ConfigError("the checkpoint has no working_size (trained before it was kept): pass size=[rows,cols]")
        return cls(
            dataset_name=str(h.get("dataset_name") or "unknown"),
            class_names=tuple(str(n) for n in h["class_names"]),
            thing_classes=tuple(int(c) for c in h["thing_classes"]),
            ignore_label=int(h.get("ignore_label", 255)),
            working_size=(int(size[0]), int(size[1])),
            center_threshold=float(h["center_threshold"]),
            nms_kernel=int(h["nms_kernel"]),
            top_k=None if h.get("top_k") is None else int(h["top_k"]),
            stuff_area=int(h["stuff_area"]),
            thing_area=int(h.get("thing_area", 0)),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PredictorSpec:
        values = json.loads(text)
        for key in ("class_names", "thing_classes", "working_size"):
            values[key] = tuple(values[key])
        return cls(**values)

    def categories(self) -> list[dict]:
        """COCO panoptic categories: the train id as `id`, the class name, `isthing`, its colour."""
        return [
            {
                "id": c,
                "name": name,
                "supercategory": "thing" if c in self.thing_classes else "stuff",
                "isthing": int(c in self.thing_classes),
                "color": [int(v) for v in PALETTE[c]],
            }
            for c, name in enumerate(self.class_names)
        ]


# ---------------------------------------------------------------------------- backends


class CheckpointBackend:
    """The segmenter of a Lightning checkpoint, on `device`, in bfloat16 autocast when `bf16`."""

    def __init__(self, path: Path, device: str, bf16: bool, working_size=None):
        from wsps.models.segmenter import PanopticSegmenter

        try:
            self.model = PanopticSegmenter.load_from_checkpoint(path, map_location=device).eval()
        except (RuntimeError, KeyError, TypeError, ValueError, EOFError) as err:
            raise InputError(path, f"not a segmenter checkpoint: {str(err).splitlines()[0]}") from None
        self.spec = PredictorSpec.from_hparams(self.model.hparams, working_size)
        self.device, self.bf16 = device, bf16

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(images.to(self.device))
        return tuple(out[k].float() for k in ("sem", "center", "offset"))


class TorchScriptBackend:
    """A network exported with `wsps-export format=torchscript`."""

    def __init__(self, path: Path, device: str):
        files = {SPEC_KEY: ""}
        try:
            self.module = torch.jit.load(str(path), map_location=device, _extra_files=files).eval()
        except RuntimeError as err:
            raise InputError(path, f"not a TorchScript file: {str(err).splitlines()[0]}") from None
        if not files[SPEC_KEY]:
            raise InputError(path, f"a TorchScript file without wsps' {SPEC_KEY}: not written by wsps-export")
        self.spec, self.device = PredictorSpec.from_json(files[SPEC_KEY]), device

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(t.float() for t in self.module(images.to(self.device)))


class OnnxBackend:
    """A network exported with `wsps-export format=onnx`, run by ONNX Runtime (on the CPU, or
    CUDA where onnxruntime-gpu is installed and `device` is cuda)."""

    def __init__(self, path: Path, device: str):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("an .onnx model needs onnxruntime (pip install -e '.[export]')") from None
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types for unreadable files
            raise InputError(path, f"not an ONNX model: {str(err).splitlines()[0]}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if SPEC_KEY not in meta:
            raise InputError(path, f"an ONNX model without wsps' {SPEC_KEY} metadata: not written by wsps-export")
        self.spec = PredictorSpec.from_json(meta[SPEC_KEY])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.session.run(None, {self.input_name: images.numpy().astype(np.float32)})
        return tuple(torch.from_numpy(o) for o in outputs)


def load_backend(path: str | Path, device: str = "cpu", bf16: bool = False, working_size=None):
    """The backend for a `.ckpt`, `.onnx` or TorchScript (`.pt`, `.ts`) file, by its suffix."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise InputError(path, f"a model must be a {', '.join(SUFFIXES)} file")
    if not path.is_file():
        raise InputError(path, "model file not found")
    if path.suffix == ".ckpt":
        return CheckpointBackend(path, device, bf16, working_size)
    if path.suffix == ".onnx":
        return OnnxBackend(path, device)
    return TorchScriptBackend(path, device)


# ---------------------------------------------------------------------------- per image


def panoptic_prediction(
    sem_logits: torch.Tensor, center: torch.Tensor, offset: torch.Tensor, spec: PredictorSpec, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's maps at its own `size` (rows, cols) from its heads at the working size:
    the semantic argmax (uint8 train ids), and the panoptic map as class (uint8, `ignore_label`
    for void) and instance id (int32, > 0 on things). The post-processing runs at the working
    size, as in training; the maps are resized with nearest neighbour.

    Args:
        sem_logits: (C, h, w) semantic logits.
        center: (1, h, w) centre heatmap.
        offset: (2, h, w) offsets in pixels.
    """
    sem = sem_logits.argmax(0)
    pan_sem, pan_inst = panoptic_from_outputs(
        sem,
        center,
        offset,
        spec.thing_classes,
        spec.center_threshold,
        spec.nms_kernel,
        spec.top_k,
        spec.stuff_area,
        spec.ignore_label,
        spec.thing_area,
    )
    maps = [sem.cpu().numpy().astype(np.uint8), pan_sem.cpu().numpy().astype(np.uint8)]
    maps.append(pan_inst.cpu().numpy().astype(np.int32))
    if tuple(maps[0].shape) != tuple(size):
        maps = [cv2.resize(m, (size[1], size[0]), interpolation=cv2.INTER_NEAREST) for m in maps]
    return maps[0], maps[1], maps[2]


def coco_segments(
    pan_sem: np.ndarray, pan_inst: np.ndarray, thing_classes, ignore_label: int = 255
) -> tuple[np.ndarray, list[dict]]:
    """COCO panoptic's segment-id map (0 = void) and `segments_info` of a panoptic map: one
    segment per stuff class and per thing instance, with `category_id` (the train id), `area`,
    `bbox` ([x, y, width, height]) and `iscrowd` 0."""
    ids, segments = to_segments(pan_sem, pan_inst, thing_classes, ignore_label)
    for segment in segments:
        rows, cols = np.nonzero(ids == segment["id"])
        x, y = int(cols.min()), int(rows.min())
        segment["bbox"] = [x, y, int(cols.max()) - x + 1, int(rows.max()) - y + 1]
    return ids, segments


def overlay(image: np.ndarray, pan_sem: np.ndarray, segment_ids: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The RGB image blended with its classes' colours (void left as it is), every segment's
    outline drawn in white: (H, W, 3) uint8."""
    colours = PALETTE[np.minimum(pan_sem, len(PALETTE) - 1)].astype(np.float32)
    void = (segment_ids == 0)[..., None]
    out = np.where(void, image, (1 - alpha) * image.astype(np.float32) + alpha * colours).astype(np.uint8)
    padded = np.pad(segment_ids, 1, mode="edge")
    edge = (
        (padded[1:-1, 1:-1] != padded[:-2, 1:-1])
        | (padded[1:-1, 1:-1] != padded[2:, 1:-1])
        | (padded[1:-1, 1:-1] != padded[1:-1, :-2])
        | (padded[1:-1, 1:-1] != padded[1:-1, 2:])
    )
    out[edge] = 255
    return out
