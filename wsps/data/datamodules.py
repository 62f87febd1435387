"""Datasets and LightningDataModules over any Cityscapes-layout root.

- `CropTagDataset` / `CropTagDataModule`: the classifier's fixed crops (the tag check's grid,
  15 on 1024x2048) of every image with their multi-label tags, the train ids present in the
  crop's `labelTrainIds` (ignore excluded). An item is one image: all its crops, stacked.
- `PanopticDataset` / `PanopticDataModule`: images with semantic + instance targets from a
  `LabelSource` (the true GT, a generate_gt pseudo-GT, or both: semi-supervision); training
  items are augmented (scale, crop, flip) and carry Panoptic-DeepLab targets, validation
  items the full image and its labels, prediction items the image alone. Items carry their id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from wsps.crops import crop_grid
from wsps.data.cityscapes import LabelSource, read_image
from wsps.data.metadata import DatasetMeta
from wsps.data.targets import panoptic_targets
from wsps.data.transforms import colour_jitter, cutmix_box, random_scale_crop_flip, superpixels, to_chw
from wsps.io import InputError, read_id_list, read_label_png, read_score_mat


def _rng() -> np.random.Generator:
    """A numpy generator drawn from torch's: different every epoch and worker, yet reproducible
    under `pytorch_lightning.seed_everything(seed, workers=True)`."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,))))


def crop_tags(label: np.ndarray, crops, num_classes: int) -> np.ndarray:
    """Multi-hot tags (len(crops) x num_classes) of the train ids present in each crop."""
    tags = np.zeros((len(crops), num_classes), np.float32)
    for k, crop in enumerate(crops):
        present = np.bincount(label[crop].ravel(), minlength=256)[:num_classes] > 0
        tags[k, present] = 1
    return tags


def crop_bits(crops, shape: Sequence[int]) -> np.ndarray:
    """An int32 map with bit k set where crop k covers the pixel: one label map that carries every
    crop through the segmenter's augmentation (nearest resizing, padding with 0, flips)."""
    if len(crops) > 31:
        raise ValueError(f"{len(crops)} crops: at most 31 fit the int32 crop bit map (choose a larger crop size)")
    bits = np.zeros(tuple(shape), np.int32)
    for k, crop in enumerate(crops):
        bits[crop] |= 1 << k
    return bits


@lru_cache(maxsize=8)
def crop_layout(shape: tuple[int, int], crop_size: tuple[int, int]) -> tuple[list, np.ndarray, np.ndarray]:
    """The tag check's crops on an image of `shape`, their bit map (read-only) and their areas:
    the same for every image of that size, so made once rather than per training item."""
    crops = crop_grid(shape, crop_size)
    bits = crop_bits(crops, shape)
    bits.flags.writeable = False
    return crops, bits, np.array([(rows.stop - rows.start) * (cols.stop - cols.start) for rows, cols in crops])


class CropTagDataset(Dataset):
    """All fixed crops of each image with their tags: `crops` (K, 3, h, w), `tags` (K, C), the
    RGB `image` (for superpixels), its train ids `label` (to score CAM labels against), its `id`;
    with `superpixels` (`wsps.data.transforms.superpixels`' options), also the image's
    superpixels `segments` (H, W, int32), made in the loader's worker instead of the network's
    process."""

    def __init__(
        self,
        root,
        split: str,
        ids: Sequence[str],
        meta: DatasetMeta,
        flip: bool = False,
        superpixels: Mapping | None = None,
    ):
        self.root, self.split, self.ids, self.meta = Path(root), split, list(ids), meta
        self.crops = crop_grid(meta.canvas_size, meta.schk_crop_size)
        self.canvas_size, self.num_classes, self.flip = meta.canvas_size, meta.num_classes, flip
        self.superpixels = dict(superpixels) if superpixels else None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict:
        image_id = self.ids[index]
        image = read_image(self.meta.image_path(self.root, self.split, image_id))
        label_path = self.meta.gt_path(self.root, self.split, image_id, "labelTrainIds")
        label = self.meta.check_labels(read_label_png(label_path), label_path)
        if image.shape[:2] != self.canvas_size or label.shape != self.canvas_size:
            raise ValueError(
                f"{image_id}: image {image.shape[:2]} / labels {label.shape} differ from canvas_size {self.canvas_size}"
            )
        crops = np.stack([to_chw(image[crop]) for crop in self.crops])
        if self.flip:  # a horizontal flip leaves a crop's tags unchanged
            flipped = _rng().random(len(crops)) < 0.5
            crops[flipped] = crops[flipped][..., ::-1]
        item = {
            "crops": torch.from_numpy(crops),
            "tags": torch.from_numpy(crop_tags(label, self.crops, self.num_classes)),
            "image": torch.from_numpy(image),
            "label": torch.from_numpy(label),
            "id": image_id,
        }
        if self.superpixels:
            item["segments"] = torch.from_numpy(superpixels(image, **self.superpixels))
        return item


class PanopticDataset(Dataset):
    """Images with targets. `mode`: `train` (augmented, Panoptic-DeepLab targets), `val` (full
    image, `sem` and `inst`), `predict` (full image). With `tag_crop_size`, training items also
    carry the image tags of the tag check's fixed crops (`crop_tags`, K x C, from the true labels, as
    the classifier's), where those crops lie after augmentation (`crop_bits`, see `crop_bits`) and
    the share of each crop inside the augmented image (`crop_visible`), for `crop_tag_loss`.
    With `semantic_only` (coarse `train_extra` images) training items teach the semantic head
    alone: their centre and offset weights are 0, and their crop tags are empty and show nowhere.
    `colour_jitter` > 0 jitters the training crops' colours (`wsps.data.transforms.colour_jitter`).
    `cutmix` > 0 is the share of training items into which a CutMix rectangle of another of the
    dataset's images, augmented alike, is pasted (`cut_in`); the targets are made from the mixed labels.
    With `label_scores` (a folder of score maps, `label_score_template` % id: MAT files of the
    winning softmax score, as the segmenter's predictions write them) each training pixel's
    semantic loss weight (`sem_weight`) is multiplied by its score there, in 1/255 steps: the
    previous model's confidence instead of a hard ignore. Images that carry their true labels
    (`labels.uses_true_gt`) are not weighed."""

    def __init__(
        self,
        root,
        split: str,
        ids: Sequence[str],
        meta: DatasetMeta,
        mode: str = "train",
        labels: LabelSource | None = None,
        crop_size: Sequence[int] = (128, 256),
        scale_range: Sequence[float] = (0.5, 2.0),
        sigma: float = 8.0,
        small_instance_area: int = 0,
        small_instance_weight: float = 1.0,
        tag_crop_size: Sequence[int] | None = None,
        semantic_only: bool = False,
        colour_jitter: float = 0.0,
        label_scores: str | Path | None = None,
        label_score_template: str = "%s_leftImg8bit.mat",
        cutmix: float = 0.0,
    ):
        if mode not in ("train", "val", "predict"):
            raise ValueError(f"mode must be train, val or predict, got {mode!r}")
        self.root, self.split, self.ids, self.mode, self.meta = Path(root), split, list(ids), mode, meta
        self.labels = labels or LabelSource()
        self.crop_size, self.scale_range = tuple(crop_size), tuple(scale_range)
        self.sigma, self.small_instance_area, self.small_instance_weight = (
            sigma,
            small_instance_area,
            small_instance_weight,
        )
        self.thing_classes, self.ignore_label = meta.thing_classes, meta.ignore_label
        self.tag_crop_size, self.num_classes = tag_crop_size and tuple(tag_crop_size), meta.num_classes
        self.semantic_only, self.colour_jitter, self.cutmix = semantic_only, colour_jitter, cutmix
        self.label_scores = Path(label_scores) if label_scores else None
        self.label_score_template = label_score_template

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict:
        image_id = self.ids[index]
        item = {"id": image_id}
        if self.mode == "predict":  # the RGB image too, for a CRF on the prediction
            image = read_image(self.meta.image_path(self.root, self.split, image_id))
            return {**item, "image": torch.from_numpy(to_chw(image)), "rgb": torch.from_numpy(image)}
        image, sem, inst = self.labelled_image(image_id)
        if self.mode == "val":
            return {
                **item,
                "image": torch.from_numpy(to_chw(image)),
                "sem": torch.from_numpy(sem.astype(np.int64)),
                "inst": torch.from_numpy(inst),
            }
        rng = _rng()
        scale = rng.uniform(*self.scale_range)
        maps, pads = [sem, inst], [self.ignore_label, 0]
        if self.tag_crop_size and self.semantic_only:
            crops, _, _ = crop_layout(sem.shape, self.tag_crop_size)
            item["crop_tags"] = torch.zeros(len(crops), self.num_classes)
            maps.append(np.zeros(sem.shape, np.int32))
            pads.append(0)
        elif self.tag_crop_size:
            crops, bits, area = crop_layout(sem.shape, self.tag_crop_size)
            truth_path = self.meta.gt_path(self.root, self.split, image_id, "labelTrainIds")
            truth = sem if self.labels.uses_true_gt(image_id) else read_label_png(truth_path)  # read once
            if truth.shape != sem.shape:
                raise InputError(
                    truth_path,
                    f"labels are {truth.shape[0]}x{truth.shape[1]} but the training labels are "
                    f"{sem.shape[0]}x{sem.shape[1]}",
                )
            item["crop_tags"] = torch.from_numpy(crop_tags(truth, crops, self.num_classes))
            maps.append(bits)
            pads.append(0)
        weighed = self.label_scores is not None and not self.labels.uses_true_gt(image_id)
        if weighed:
            maps.append(self.score_weights(image_id, sem.shape))
            pads.append(0)
        image, maps = random_scale_crop_flip(rng, image, maps, pads, self.crop_size, (scale, scale))
        if self.cutmix and len(self) > 1 and rng.random() < self.cutmix:
            image, maps = self.cut_in(rng, index, image, maps, bits=bool(self.tag_crop_size), scores=weighed)
        if self.colour_jitter:
            image = colour_jitter(rng, image, self.colour_jitter)
        sem, inst = maps[:2]
        if self.tag_crop_size and self.semantic_only:
            item["crop_bits"] = torch.from_numpy(maps[2])
            item["crop_visible"] = torch.zeros(len(crops))
        elif self.tag_crop_size:
            shown = np.array([np.count_nonzero((maps[2] >> k) & 1) for k in range(len(crops))])
            item["crop_bits"] = torch.from_numpy(maps[2])
            item["crop_visible"] = torch.from_numpy(np.minimum(shown / (area * scale**2), 1).astype(np.float32))
        targets = panoptic_targets(
            sem,
            inst,
            self.thing_classes,
            self.sigma,
            self.ignore_label,
            self.small_instance_area,
            self.small_instance_weight,
        )
        if self.semantic_only:
            targets["center_weight"][:] = 0
            targets["offset_weight"][:] = 0
        if weighed:
            targets["sem_weight"] *= maps[-1].astype(np.float32) / 255
        return {
            **item,
            "image": torch.from_numpy(to_chw(image)),
            **{k: torch.from_numpy(v) for k, v in targets.items()},
        }

    def labelled_image(self, image_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(RGB image, `sem`, `inst`) of one image of the split, the labels checked against its size."""
        image = read_image(self.meta.image_path(self.root, self.split, image_id))
        sem, inst = self.meta.read_targets(self.root, self.split, image_id, self.labels)
        if sem.shape != image.shape[:2]:
            raise ValueError(f"{image_id}: labels are {sem.shape} but the image is {image.shape[:2]}")
        return image, sem, inst

    def cut_in(
        self, rng: np.random.Generator, index: int, image: np.ndarray, maps: list[np.ndarray], bits: bool, scores: bool
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Pastes a CutMix rectangle (`cutmix_box`) of another of the dataset's images, scaled,
        cropped and flipped as a training item, into the training crop `image` and its `maps`
        ([sem, inst, crop bits if `bits`, score weights if `scores`]): its pixels, its labels,
        its instances (numbered after the crop's own) and its score weights (255 where it carries
        its true labels; a crop without score weights leaves the rectangle unweighed); the tag
        check's crops lose the rectangle (bits 0)."""
        other = self.ids[(index + int(rng.integers(1, len(self)))) % len(self)]
        pasted, sem, inst = self.labelled_image(other)
        layers, pads = [sem, inst], [self.ignore_label, 0]
        if scores:
            true_gt = self.labels.uses_true_gt(other)
            layers.append(np.full(sem.shape, 255, np.uint8) if true_gt else self.score_weights(other, sem.shape))
            pads.append(0)
        pasted, layers = random_scale_crop_flip(rng, pasted, layers, pads, self.crop_size, self.scale_range)
        box = cutmix_box(rng, image.shape[:2])
        image, maps = image.copy(), [m.copy() for m in maps]
        image[box] = pasted[box]
        maps[0][box] = layers[0][box]
        maps[1][box] = np.where(layers[1][box] > 0, layers[1][box] + maps[1].max(), 0)
        if bits:
            maps[2][box] = 0
        if scores:
            maps[-1][box] = layers[2][box]
        return image, maps

    def score_weights(self, image_id: str, shape: tuple[int, int]) -> np.ndarray:
        """The image's score map as uint8 weights (score x 255, rounded), checked against `shape`."""
        path = self.label_scores / (self.label_score_template % image_id)
        scores = read_score_mat(path)
        if scores.shape != tuple(shape):
            raise InputError(
                path, f"scores are {scores.shape[0]}x{scores.shape[1]} but the labels are {shape[0]}x{shape[1]}"
            )
        return np.round(np.clip(scores, 0, 1) * 255).astype(np.uint8)


class _IdsMixin:
    """The image ids of a split, from its id list (the dataset's `list_template`), and its loader."""

    data_root: Path
    meta: DatasetMeta
    num_workers: int

    def split_ids(self, split: str, limit: int | None = None) -> list[str]:
        ids = read_id_list(self.meta.list_path(self.data_root, split))
        return ids[:limit] if limit else ids

    def _loader(self, dataset, batch_size: int, shuffle: bool, drop_last: bool = False) -> DataLoader:
        """Workers that live across epochs; batches page-locked where a GPU will take them."""
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            drop_last=drop_last,
        )


class CropTagDataModule(_IdsMixin, pl.LightningDataModule):
    """The classifier's data: 15 crops per image and their tags. With `superpixels_in_loader`,
    the items made for CAMs (prediction, and validation `for_cams`) also carry the image's
    `superpixels` (the CAMs' options,
    `model.cam_superpixels`): made in the loader's `num_workers` processes, beside the network,
    where otherwise the CAM steps make them one image at a time in the training process (the
    threshold selection, and the CAM labels with `cam_crf.backend: gpu`) or in the writer's pool."""

    def __init__(
        self,
        data_root: str,
        meta: DatasetMeta,
        train_split: str = "train",
        val_split: str = "val",
        predict_split: str = "train",
        batch_size: int = 4,
        num_workers: int = 0,
        limit: int | None = None,
        superpixels: Mapping | None = None,
        superpixels_in_loader: bool = False,
    ):
        super().__init__()
        self.data_root, self.meta = Path(data_root), meta
        self.train_split, self.val_split, self.predict_split = train_split, val_split, predict_split
        self.batch_size, self.num_workers, self.limit = batch_size, num_workers, limit
        self.superpixels = superpixels if superpixels_in_loader else None

    def _dataset(self, split: str, flip: bool = False, for_cams: bool = False) -> CropTagDataset:
        """`for_cams`: its items will be pooled into CAM labels, so they carry the superpixels
        when the loader makes them."""
        superpixels = self.superpixels if for_cams else None
        return CropTagDataset(self.data_root, split, self.split_ids(split, self.limit), self.meta, flip, superpixels)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.train_split, flip=True), self.batch_size, shuffle=True)

    def val_dataloader(self, for_cams: bool = False) -> DataLoader:
        """The validation split's crops: for the classifier's loss and AP during training (no CAMs,
        so no superpixels), or `for_cams` for the CAM threshold's choice and score."""
        return self._loader(self._dataset(self.val_split, for_cams=for_cams), self.batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        """Crops of the prediction split (the training split, whose tags are known), for the CAMs."""
        return self._loader(self._dataset(self.predict_split, for_cams=True), self.batch_size, shuffle=False)


class PanopticDataModule(_IdsMixin, pl.LightningDataModule):
    """The segmenter's data: augmented training crops with targets (and, with `tag_crop_size`, the
    fixed crops' image tags), full validation images. With `extra_split` (`train_extra`), its
    images, labelled by `extra_labels`, join the training set for the semantic loss alone. With
    `label_scores` the training split's pixels weigh by those scores (`PanopticDataset`; the
    extra split's are not weighed)."""

    def __init__(
        self,
        data_root: str,
        meta: DatasetMeta,
        labels: LabelSource | None = None,
        train_split: str = "train",
        val_split: str = "val",
        predict_split: str = "train",
        crop_size: Sequence[int] = (128, 256),
        scale_range: Sequence[float] = (0.5, 2.0),
        sigma: float = 8.0,
        small_instance_area: int = 0,
        small_instance_weight: float = 1.0,
        batch_size: int = 4,
        val_batch_size: int = 1,
        num_workers: int = 0,
        limit: int | None = None,
        tag_crop_size: Sequence[int] | None = None,
        extra_split: str | None = None,
        extra_labels: LabelSource | None = None,
        colour_jitter: float = 0.0,
        label_scores: str | None = None,
        label_score_template: str = "%s_leftImg8bit.mat",
        cutmix: float = 0.0,
    ):
        super().__init__()
        self.label_scores, self.label_score_template = label_scores, label_score_template
        self.data_root, self.meta, self.labels = Path(data_root), meta, labels or LabelSource()
        self.extra_split, self.extra_labels = extra_split, extra_labels or LabelSource()
        self.tag_crop_size = tag_crop_size
        self.train_split, self.val_split, self.predict_split = train_split, val_split, predict_split
        self.crop_size, self.scale_range, self.sigma = tuple(crop_size), tuple(scale_range), sigma
        self.small_instance_area, self.small_instance_weight = small_instance_area, small_instance_weight
        self.batch_size, self.val_batch_size, self.num_workers = batch_size, val_batch_size, num_workers
        self.limit, self.colour_jitter, self.cutmix = limit, colour_jitter, cutmix

    def _dataset(
        self, split: str, mode: str, labels: LabelSource | None = None, semantic_only: bool = False
    ) -> PanopticDataset:
        return PanopticDataset(
            self.data_root,
            split,
            self.split_ids(split, self.limit),
            self.meta,
            mode,
            labels or LabelSource(),
            self.crop_size,
            self.scale_range,
            self.sigma,
            self.small_instance_area,
            self.small_instance_weight,
            tag_crop_size=self.tag_crop_size if mode == "train" else None,
            semantic_only=semantic_only,
            colour_jitter=self.colour_jitter,
            cutmix=self.cutmix,
            label_scores=self.label_scores if mode == "train" and split == self.train_split else None,
            label_score_template=self.label_score_template,
        )

    def class_frequencies(self) -> np.ndarray:
        """Each class's share of the labelled pixels of the training split, from the labels the
        segmenter trains on (`labels`): (C,) float64, summing to 1 (zeros without labels)."""
        counts = np.zeros(self.meta.num_classes, np.float64)
        for image_id in self.split_ids(self.train_split, self.limit):
            sem, _ = self.meta.read_targets(self.data_root, self.train_split, image_id, self.labels)
            counts += np.bincount(sem[sem < len(counts)].ravel(), minlength=len(counts))
        return counts / max(counts.sum(), 1)

    def train_dataloader(self) -> DataLoader:
        dataset = self._dataset(self.train_split, "train", self.labels)
        if self.extra_split:
            extra = self._dataset(self.extra_split, "train", self.extra_labels, semantic_only=True)
            dataset = ConcatDataset([dataset, extra])
        return self._loader(dataset, self.batch_size, shuffle=True, drop_last=len(dataset) > self.batch_size)

    def val_dataloader(self) -> DataLoader:
        """Validation always scores against the true GT."""
        return self._loader(self._dataset(self.val_split, "val"), self.val_batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.predict_split, "predict"), self.val_batch_size, shuffle=False)
