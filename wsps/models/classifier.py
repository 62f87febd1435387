"""The crop classifier: an encoder and a multi-label head trained on the 15 crops' image tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric
from torchmetrics.classification import MultilabelAveragePrecision

from wsps.crops import crop_grid
from wsps.data.transforms import working_size
from wsps.models.build import NetworkModule
from wsps.models.cam import allowed_classes, class_activation_maps, pamr, stitch_cams
from wsps.models.finish import cam_label_image, cam_label_map, made_on_device, pool_and_mask
from wsps.models.nets import MEMORY_FORMAT, build_net
from wsps.models.optim import factories


def refine_pamr(full: torch.Tensor, image: torch.Tensor, max_side: int | None = None, **options) -> torch.Tensor:
    """`wsps.models.cam.pamr` of stitched CAMs (C, H, W) on their RGB image (H, W, 3, uint8),
    computed on copies shrunk so that the longer side is at most `max_side`, and enlarged back."""
    height, width = full.shape[-2:]
    rgb = image.to(full.device).permute(2, 0, 1).float() / 255
    size = working_size(height, width, max_side)
    if size:
        rgb = F.interpolate(rgb[None], size=size, mode="bilinear", align_corners=False)[0]
        small = F.interpolate(full[None], size=size, mode="bilinear", align_corners=False)[0]
        return F.interpolate(
            pamr(rgb, small, **options)[None], size=(height, width), mode="bilinear", align_corners=False
        )[0]
    return pamr(rgb, full, **options)


class PositiveCounts(Metric):
    """Positives per class, summed over batches and processes."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.add_state("count", torch.zeros(num_classes), dist_reduce_fx="sum")

    def update(self, target: torch.Tensor) -> None:
        self.count += target.sum(dim=0)

    def compute(self) -> torch.Tensor:
        return self.count


CAM_CHUNK = 5


class CropClassifier(NetworkModule, pl.LightningModule):
    """A network's features (`net`: the config node of a classifier network, see
    `wsps.models.nets`; by default an encoder from segmentation-models-pytorch) + 1x1-conv head +
    average pooling, binary cross-entropy on each crop's tags. The network's stride and
    `input_scale` (crops are enlarged before the network) set the CAMs' resolution.
    `cam_pamr` (`dilations`, `iterations`, `max_side`: see `wsps.models.cam.pamr`) refines the
    stitched CAMs along the image's edges; `cam_superpixels` (Felzenszwalb's `scale`, `sigma`,
    `min_size`, and the `max_side` of the image they are computed on) pools them
    within superpixels before the argmax; `cam_crf` (the keyword arguments of
    `wsps.models.crf.crf_labels`, or null for a plain argmax) refines the labels with a dense CRF;
    `cam_threshold` is a number or `auto` (chosen after training as `selection` says, see
    `wsps.selection`). The defaults of every argument are in conf/model/classifier.yaml."""

    stage = "classifier"
    #: a checkpoint written before `model.net`: its network's class and the options it held
    legacy_net = ("wsps.models.nets.SmpEncoderNet", ("encoder_name", "encoder_weights", "output_stride"))

    def __init__(
        self,
        net: Mapping,
        class_names: Sequence[str],
        canvas_size: Sequence[int],
        crop_size: Sequence[int],
        encoder_lr_factor: float,
        input_scale: float,
        cam_threshold: float | str,
        cam_superpixels: dict | None,
        cam_pamr: dict | None,
        cam_crf: dict | None,
        optimizer: Mapping | None = None,
        scheduler: Mapping | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        self.net = build_net(net)
        num_classes = len(class_names)
        self.head = nn.Conv2d(self.net.out_channels, num_classes, kernel_size=1).to(memory_format=MEMORY_FORMAT)
        self.crops = crop_grid(canvas_size, crop_size)
        self.optimizer_factory, self.scheduler_factory = factories(optimizer, scheduler)
        self.val_ap = MultilabelAveragePrecision(num_labels=num_classes, average="none")
        self.val_positives = PositiveCounts(num_classes)

    def features(self, crops: torch.Tensor) -> torch.Tensor:
        """The network's features of a batch of crops (N, 3, h, w) in [0, 1], enlarged `input_scale` times."""
        if self.hparams.input_scale != 1:
            crops = F.interpolate(crops, scale_factor=self.hparams.input_scale, mode="bilinear", align_corners=False)
        return self.net(crops)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) of a batch of crops (N, 3, h, w) in [0, 1]."""
        return self.head(self.features(crops)).mean(dim=(2, 3))

    def _flatten(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        crops, tags = batch["crops"], batch["tags"]
        return crops.flatten(0, 1), tags.flatten(0, 1)

    def training_step(self, batch, batch_idx):
        crops, tags = self._flatten(batch)
        loss = F.binary_cross_entropy_with_logits(self(crops), tags)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(crops))
        return loss

    def validation_step(self, batch, batch_idx):
        crops, tags = self._flatten(batch)
        logits = self(crops)
        self.log("val/loss", F.binary_cross_entropy_with_logits(logits, tags), batch_size=len(crops), sync_dist=True)
        self.val_ap.update(torch.sigmoid(logits), tags.long())
        self.val_positives.update(tags)

    def on_validation_epoch_end(self):
        ap = self.val_ap.compute()
        valid = self.val_positives.compute() > 0  # AP is undefined for a class without positives
        for name, value, ok in zip(self.hparams.class_names, ap.tolist(), valid.tolist()):
            if ok:
                self.log(f"val/AP/{name}", value, sync_dist=True)
        self.log("val/mAP", ap[valid].mean() if valid.any() else torch.tensor(0.0), prog_bar=True, sync_dist=True)
        self.val_ap.reset()
        self.val_positives.reset()

    @torch.no_grad()
    def cams(self, crops: torch.Tensor) -> torch.Tensor:
        """Grad-CAMs (N, C, h, w) of every class for a batch of crops, `CAM_CHUNK` crops at a time:
        all 15 crops of a 1024x2048 image at once would hold every layer's activations for all of them."""
        weight = self.head.weight.flatten(1)
        return torch.cat([class_activation_maps(self.features(chunk), weight) for chunk in crops.split(CAM_CHUNK)])

    def stitched_cams(self, batch, masked: bool = True) -> list[torch.Tensor]:
        """Per image, the normalised CAMs of its crops' tags on the full canvas (C, H, W),
        refined by PAMR and pooled within superpixels when configured, and (`masked`) zero
        wherever a covering crop lacks the tag."""
        return self.refine_cams(self.raw_cams(batch), batch, masked)

    def raw_cams(self, batch) -> list[torch.Tensor]:
        """Per image, its crops' CAMs of their tags stitched on the full canvas (C, H, W)."""
        crops, tags = batch["crops"], batch["tags"]
        n_images, n_crops = crops.shape[:2]
        cams = self.cams(crops.flatten(0, 1)).unflatten(0, (n_images, n_crops))
        return [stitch_cams(cams[i], tags[i], self.crops, self.hparams.canvas_size) for i in range(n_images)]

    def pamr_cams(self, maps: list[torch.Tensor], batch) -> list[torch.Tensor]:
        """`raw_cams` refined by PAMR when configured (`cam_pamr`), else as they are."""
        if not self.hparams.cam_pamr:
            return maps
        return [refine_pamr(full, image, **self.hparams.cam_pamr) for full, image in zip(maps, batch["image"])]

    def refine_cams(self, maps: list[torch.Tensor], batch, masked: bool = True) -> list[torch.Tensor]:
        """`raw_cams` refined as configured: PAMR, superpixel pooling (in the batch's `segments`
        when the loader made them, `data.superpixels_in_loader`), then (`masked`) the tag mask."""
        maps = self.pamr_cams(maps, batch)
        segments = batch.get("segments", [None] * len(maps))
        return [
            pool_and_mask(
                full,
                image.cpu().numpy(),
                self.allowed(tags) if masked else None,
                self.hparams.cam_superpixels,
                segs,
            )
            for full, image, tags, segs in zip(maps, batch["image"], batch["tags"], segments)
        ]

    def allowed(self, tags: torch.Tensor) -> torch.Tensor:
        """(C, H, W) booleans of one image's crop tags (K, C): `wsps.models.cam.allowed_classes`."""
        return allowed_classes(tags, self.crops, self.hparams.canvas_size)

    def cam_label_map(self, full: torch.Tensor, image: torch.Tensor, threshold: float) -> torch.Tensor:
        """Label map (H, W) of one image's stitched CAMs: the dense CRF's, or the thresholded argmax."""
        return torch.from_numpy(cam_label_map(full, image.cpu().numpy(), threshold, self.hparams.cam_crf))

    def predict_step(self, batch, batch_idx):
        """Per image, what `finish_image` turns into its CAM label map, as numpy: the stitched CAMs
        after PAMR (`maps`, C x H x W), the image, the tag mask (`allowed`) and, when the loader
        made them, the superpixels (`segments`); with
        `cam_crf.backend: gpu`, the label map itself (`cam_label`), made here on the network's device."""
        if self.crf_on_device():
            threshold = self.threshold()
            return [
                {"id": image_id, "cam_label": self.cam_label_map(full, image, threshold).numpy()}
                for image_id, full, image in zip(batch["id"], self.stitched_cams(batch), batch["image"])
            ]
        maps = self.pamr_cams(self.raw_cams(batch), batch)
        segments = batch.get("segments", [None] * len(maps))
        return [
            {
                "id": image_id,
                "maps": full.float().cpu().numpy(),
                "image": image.cpu().numpy(),
                "allowed": self.allowed(tags).cpu().numpy(),
                **({} if segs is None else {"segments": segs.cpu().numpy()}),
            }
            for image_id, full, image, tags, segs in zip(batch["id"], maps, batch["image"], batch["tags"], segments)
        ]

    def crf_on_device(self) -> bool:
        """Whether the CAM labels' CRF runs in torch on the network's device (`cam_crf.backend: gpu`)."""
        return bool(self.hparams.cam_crf) and self.hparams.cam_crf.get("backend") == "gpu"

    def threshold(self) -> float:
        threshold = self.hparams.cam_threshold
        if not isinstance(threshold, (int, float)):
            raise ValueError(f"cam_threshold={threshold!r}: choose it first (wsps.selection) or give a number")
        return float(threshold)

    def finish_image(self):
        """The per-image CPU work after `predict_step` (superpixels, tag mask, CRF), as a picklable
        function of one item's arrays: `wsps.models.finish.cam_label_image` with this model's
        options (`finish.made_on_device` when `predict_step` made the labels)."""
        if self.crf_on_device():
            return made_on_device
        return partial(
            cam_label_image,
            threshold=self.threshold(),
            superpixels=dict(self.hparams.cam_superpixels) if self.hparams.cam_superpixels else None,
            crf=dict(self.hparams.cam_crf) if self.hparams.cam_crf else None,
        )
