"""The panoptic segmenter: Panoptic-DeepLab heads on a segmentation-models-pytorch network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from wsps.eval.evaluator import PANOPTIC_KEYS, PanopticEvaluator
from wsps.models.build import NetworkModule
from wsps.models.crf import dense_crf_torch
from wsps.models.finish import segmentation_image
from wsps.models.losses import center_loss, class_balance_weights, crop_tag_loss, offset_loss, semantic_loss
from wsps.models.nets import build_net
from wsps.models.optim import factories
from wsps.models.postprocess import panoptic_from_outputs


def heads(
    net: nn.Module, image: torch.Tensor, num_classes: int, offset_scale: float, input_scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three heads of the segmenter network `net` (`wsps.models.nets`) on a batch
    (N, 3, H, W) of images in [0, 1]: semantic logits (N, C, H, W), the centre heatmap
    (N, 1, H, W) and the (row, col) offsets (N, 2, H, W) in pixels. The network sees the batch
    enlarged `input_scale` times; its outputs are shrunk back, so that losses, metrics and offsets
    stay in the image's pixels."""
    height, width = image.shape[-2:]
    if input_scale != 1:
        image = F.interpolate(image, scale_factor=input_scale, mode="bilinear", align_corners=False)
    out = net(image)
    if input_scale != 1:
        out = F.interpolate(out, size=(height, width), mode="bilinear", align_corners=False)
    return out[:, :num_classes], out[:, num_classes : num_classes + 1], out[:, num_classes + 1 :] * offset_scale


class PanopticSegmenter(NetworkModule, pl.LightningModule):
    """A network (`net`: the config node of a segmenter network, see `wsps.models.nets`; by
    default DeepLabV3+ from segmentation-models-pytorch) with one output channel per class of
    `class_names` and 3 more: semantic logits, the instance-centre heatmap and the (row, col)
    offsets to the centre, a shared-decoder Panoptic-DeepLab. The defaults of every argument are
    in conf/model/segmenter.yaml. Validation also reports the softmax
    score threshold whose kept pixels have the best F0.5 of precision and coverage
    (`val/score_threshold`), for the next round's generate_gt. Offsets are predicted in units of
    `offset_scale` pixels, so that a freshly initialised head reaches offsets of tens of pixels
    within the few hundred steps of a CPU run. Losses as Panoptic-DeepLab (weights
    in config); validation reports mIoU (torchmetrics) and PQ (cityscapesscripts) against the
    true GT; prediction yields the raw labels, their softmax scores and the panoptic map. With
    `crf` (the keyword arguments of `wsps.models.crf.dense_crf`) the predicted labels and scores
    come from a dense CRF on the softmax and the image, which follows image edges better and gives
    the next round a better pseudo-GT. Validation metrics and the panoptic maps stay the network's.
    With `tag_weight` > 0 the training loss adds `crop_tag_loss` on the fixed crops' image tags
    (the batch must carry them: the datamodule's `tag_crop_size`), `tag_top_fraction` of each
    crop's pixels making its presence score, over every class or (`tag_classes="stuff"`) the
    stuff classes only, the things having their boxes. With `class_balance` the semantic loss weighs each
    class by `class_balance_weights` of its share in the training labels (the datamodule's
    `class_frequencies`: the pseudo-GT in a weak round, never the true labels). `input_scale` > 1
    shows the network its images enlarged, for small things, at input_scale**2 times the cost.
    `working_size` (rows, cols: the dataset's canvas) and `dataset_name` travel in the checkpoint,
    with the classes and the post-processing, for prediction on other images (`wsps.inference`)."""

    stage = "segmenter"
    #: a checkpoint written before `model.net`: its network's class and the options it held
    legacy_net = ("wsps.models.nets.SmpSegmentationNet", ("arch", "encoder_name", "encoder_weights"))

    def __init__(
        self,
        net: Mapping,
        class_names: Sequence[str],
        thing_classes: Sequence[int],
        ignore_label: int,
        encoder_lr_factor: float,
        semantic_weight: float,
        center_weight: float,
        offset_weight: float,
        offset_scale: float,
        top_k_percent: float,
        center_threshold: float,
        nms_kernel: int,
        top_k: int,
        stuff_area: int,
        thing_area: int,
        crf: dict | None,
        tag_weight: float,
        tag_top_fraction: float,
        class_balance: bool,
        input_scale: float,
        working_size: Sequence[int] | None,
        dataset_name: str | None,
        eval_dir: str | None = None,
        optimizer: Mapping | None = None,
        scheduler: Mapping | None = None,
        tag_classes: str = "all",
    ):
        super().__init__()
        if tag_classes not in ("all", "stuff"):
            raise ValueError(f"tag_classes={tag_classes!r}: expected 'all' or 'stuff'")
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        self.num_classes = len(class_names)
        self.net = build_net(net, classes=self.num_classes + 3)
        self.optimizer_factory, self.scheduler_factory = factories(optimizer, scheduler)
        self.evaluator: PanopticEvaluator | None = None
        # the class-balance weights, set from the training labels in setup (a fixed buffer, so that
        # copies made before, such as a moving average's, hold the same buffers)
        self.register_buffer("class_weights", torch.ones(self.num_classes), persistent=False)
        tagged = torch.ones(self.num_classes, dtype=torch.bool)
        if tag_classes == "stuff":
            tagged[list(thing_classes)] = False
        self.register_buffer("tagged_classes", tagged, persistent=False)

    def setup(self, stage: str) -> None:
        """The validation evaluator, from the datamodule's dataset description (before the model
        moves to its device, so that the evaluator's metric states move with it)."""
        meta = getattr(self.trainer.datamodule, "meta", None) if self.trainer else None
        if meta is not None and self.evaluator is None:
            if meta.class_names != tuple(self.hparams.class_names):
                raise ValueError(
                    f"the model's classes {list(self.hparams.class_names)} are not the data's {list(meta.class_names)}"
                )
            self.evaluator = PanopticEvaluator(meta)
        if stage == "fit" and self.hparams.class_balance:
            frequencies = self.trainer.datamodule.class_frequencies()
            self.class_weights.copy_(class_balance_weights(frequencies))

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Heads of a batch (N, 3, H, W) of images in [0, 1] at the batch's resolution: see `heads`."""
        sem, center, offset = heads(
            self.net, image, self.num_classes, self.hparams.offset_scale, self.hparams.input_scale
        )
        return {"sem": sem, "center": center, "offset": offset}

    def losses(self, out: dict, batch: dict) -> dict[str, torch.Tensor]:
        h = self.hparams
        weight = batch["sem_weight"]
        if h.class_balance:
            weight = weight * self.class_weights[batch["sem"].clamp(max=self.num_classes - 1)]
        parts = {
            "semantic": semantic_loss(out["sem"], batch["sem"], weight, h.ignore_label, h.top_k_percent),
            "center": center_loss(out["center"], batch["center"], batch["center_weight"]),
            "offset": offset_loss(out["offset"], batch["offset"], batch["offset_weight"]),
        }
        parts["total"] = (
            h.semantic_weight * parts["semantic"]
            + h.center_weight * parts["center"]
            + h.offset_weight * parts["offset"]
        )
        if h.tag_weight:
            if "crop_tags" not in batch:
                raise ValueError(
                    "tag_weight > 0 needs the crops' image tags in the batch: set the datamodule's tag_crop_size"
                )
            parts["tags"] = crop_tag_loss(
                out["sem"],
                batch["crop_bits"],
                batch["crop_tags"],
                batch["crop_visible"],
                h.tag_top_fraction,
                classes=self.tagged_classes,
            )
            parts["total"] = parts["total"] + h.tag_weight * parts["tags"]
        return parts

    def training_step(self, batch, batch_idx):
        parts = self.losses(self(batch["image"]), batch)
        n = len(batch["image"])
        for name, value in parts.items():
            self.log(
                f"train/loss{'' if name == 'total' else '_' + name}",
                value,
                prog_bar=name == "total",
                batch_size=n,
                on_step=False,
                on_epoch=True,
                sync_dist=True,
            )
        return parts["total"]

    def panoptic_options(self) -> dict:
        """`panoptic_from_outputs`' keyword arguments after the thing classes, from the hyperparameters."""
        h = self.hparams
        return {
            "center_threshold": h.center_threshold,
            "nms_kernel": h.nms_kernel,
            "top_k": h.top_k,
            "stuff_area": h.stuff_area,
            "void_label": h.ignore_label,
            "thing_area": h.thing_area,
        }

    def panoptic(self, out: dict, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return panoptic_from_outputs(
            out["sem"][index].argmax(0),
            out["center"][index],
            out["offset"][index],
            self.hparams.thing_classes,
            **self.panoptic_options(),
        )

    # ------------------------------------------------------------------ validation

    def _eval_dir(self) -> Path:
        return Path(self.hparams.eval_dir or Path(self.trainer.default_root_dir) / "val_panoptic")

    def on_validation_epoch_start(self):
        if self.evaluator is None:
            raise ValueError(
                "validation needs a datamodule with the dataset's description (`meta`), such as PanopticDataModule"
            )
        dm = self.trainer.datamodule
        self.evaluator.reset(dm.data_root, dm.val_split, self._eval_dir())

    def validation_step(self, batch, batch_idx):
        out = self(batch["image"])
        score, pred = out["sem"].float().softmax(dim=1).max(dim=1)
        for i, image_id in enumerate(batch["id"]):
            panoptic = None if self.trainer.sanity_checking else self.panoptic(out, i)
            self.evaluator.process(image_id, pred[i], truth=batch["sem"][i], score=score[i], panoptic=panoptic)

    def on_validation_epoch_end(self):
        self.trainer.strategy.barrier()
        results = self.evaluator.evaluate()
        self.log("val/mIoU", results["mIoU"], prog_bar=True)
        self.log_dict({f"val/{k}": v for k, v in results.items() if k.startswith("IoU/") or k.startswith("score_")})
        for key in PANOPTIC_KEYS:
            if key in results:
                self.log(f"val/{key}", results[key], prog_bar=key == "PQ", sync_dist=False)

    # ------------------------------------------------------------------ prediction

    def crf_on_device(self) -> dict | None:
        """The CRF's options when it runs in `predict_step` on the network's device (`crf.backend:
        gpu`, torch); None when it runs in the writer's pool (`cpu`, pydensecrf) or not at all."""
        crf = dict(self.hparams.crf or {})
        return {k: v for k, v in crf.items() if k != "backend"} if crf.get("backend") == "gpu" else None

    def crf_in_pool(self) -> bool:
        """Whether the CRF runs in the writer's pool (`crf.backend: cpu`, pydensecrf)."""
        return bool(self.hparams.crf) and self.crf_on_device() is None

    def predict_step(self, batch, batch_idx):
        """Per image, what `finish_image` turns into its predictions, as numpy: the semantic argmax,
        the centre heatmap and the offsets; with the CRF in the pool, the softmax and the RGB image,
        else the raw labels and their scores (the CRF's, with `crf.backend: gpu`)."""
        out = self(batch["image"])
        probs = out["sem"].float().softmax(dim=1)
        semantic = out["sem"].argmax(dim=1).to(torch.uint8)
        in_pool, on_device = self.crf_in_pool(), self.crf_on_device()
        if on_device is not None:
            probs = torch.stack([dense_crf_torch(p, rgb, **on_device) for p, rgb in zip(probs, batch["rgb"])])
        if not in_pool:
            score, label = probs.max(dim=1)
        items = []
        for i, image_id in enumerate(batch["id"]):
            item = {
                "id": image_id,
                "semantic": semantic[i].cpu().numpy(),
                "center": out["center"][i].float().cpu().numpy(),
                "offset": out["offset"][i].float().cpu().numpy(),
            }
            if in_pool:
                item |= {"probs": probs[i].cpu().numpy(), "rgb": batch["rgb"][i].cpu().numpy()}
            else:
                item |= {"label": label[i].to(torch.uint8).cpu().numpy(), "score": score[i].cpu().numpy()}
            items.append(item)
        return items

    def finish_image(self):
        """The per-image CPU work after `predict_step` (CRF unless on the device, panoptic
        post-processing), as a picklable function of one item's arrays:
        `wsps.models.finish.segmentation_image`."""
        return partial(
            segmentation_image,
            crf=dict(self.hparams.crf) if self.crf_in_pool() else None,
            thing_classes=tuple(self.hparams.thing_classes),
            panoptic=self.panoptic_options(),
        )


class ExportableSegmenter(nn.Module):
    """A trained segmenter's network as a plain module for tracing and export: images (N, 3, H, W)
    in [0, 1] -> (semantic logits, centre heatmap, offsets in pixels), normalisation included.
    Post-processing stays outside (`wsps.inference`)."""

    def __init__(self, segmenter: PanopticSegmenter):
        super().__init__()
        self.net = segmenter.net
        self.num_classes = segmenter.num_classes
        self.offset_scale, self.input_scale = segmenter.hparams.offset_scale, segmenter.hparams.input_scale

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return heads(self.net, image, self.num_classes, self.offset_scale, self.input_scale)
