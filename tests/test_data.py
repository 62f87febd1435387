"""Targets, transforms, label sources and the data modules, on hand-made examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsps.crops import crop_grid
from wsps.data.cityscapes import LabelSource, instances_from_gt, instances_from_pseudo, read_targets
from wsps.data.datamodules import CropTagDataModule, PanopticDataModule, PanopticDataset, crop_bits, crop_tags
from wsps.data.metadata import dataset_meta
from wsps.data.synthetic import generate
from wsps.data.targets import gaussian_kernel, panoptic_targets
from wsps.data.transforms import colour_jitter, cutmix_box, random_scale_crop_flip, to_chw, working_size
from wsps.io import read_id_list, read_label_png, write_label_png

I = 255
THINGS = tuple(range(11, 19))

SYNTHETIC = dataset_meta("synthetic")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    generate(root, num_train=6, num_val=3, height=128, width=256, seed=1)
    return root


def test_crop_tags_exclude_ignore():
    label = np.array([[0, 0, 13, I], [0, 2, 13, 13]], np.uint8)
    tags = crop_tags(label, [(slice(0, 2), slice(0, 2)), (slice(0, 2), slice(2, 4))], 19)
    assert np.flatnonzero(tags[0]).tolist() == [0, 2] and np.flatnonzero(tags[1]).tolist() == [13]
    assert tags.shape == (2, 19)


def test_targets_centres_offsets_and_exclusions():
    sem = np.full((20, 30), 0, np.uint8)
    inst = np.zeros((20, 30), np.int32)
    sem[2:5, 2:5], inst[2:5, 2:5] = 13, 13000  # a 3x3 car, centre (3, 3)
    sem[10:14, 20:28], inst[10:14, 20:28] = 11, 11001  # a 4x8 person, centre (11.5, 23.5)
    sem[15:18, 2:6] = 11  # a crowd: thing pixels without an instance
    sem[0, :] = I
    inst[0, 25] = 11002  # an instance id on an ignored pixel is no instance
    t = panoptic_targets(sem, inst, THINGS, sigma=2, small_instance_area=10, small_instance_weight=3)
    assert t["center"].shape == (1, 20, 30) and t["offset"].shape == (2, 20, 30)
    assert t["center"][0, 3, 3] == pytest.approx(1.0)
    assert t["center"][0, 12, 24] == pytest.approx(1.0)  # the peak sits at the rounded centre of mass
    assert t["center"][0, 11, 23] == pytest.approx(np.exp(-2 / (2 * 2**2)))
    assert t["center"][0, 16, 3] < 1e-3  # no centre for the crowd
    np.testing.assert_allclose(t["offset"][:, 2, 2], [1, 1])
    np.testing.assert_allclose(t["offset"][:, 10, 20], [1.5, 3.5])
    assert not t["offset"][:, 15:18, 2:6].any() and not t["offset"][:, 0].any()
    np.testing.assert_array_equal(t["offset_weight"][0], (inst > 0) & (sem != I))
    np.testing.assert_array_equal(t["center_weight"][0], sem != I)
    assert (
        t["sem_weight"][3, 3] == 3 and t["sem_weight"][11, 23] == 1 and t["sem_weight"][16, 3] == 1
    )  # small instance only
    assert t["sem"].dtype == np.int64 and t["sem"][0, 0] == I


def test_gaussian_kernel_peak_and_size():
    k = gaussian_kernel(8)
    assert k.shape == (51, 51) and k[25, 25] == 1 and k[25, 25 + 8] == pytest.approx(np.exp(-0.5))


def test_label_sources(tmp_path):
    instance_train_ids = np.array([[7, 13000, 13001, 11, I]], np.uint16)
    np.testing.assert_array_equal(instances_from_gt(instance_train_ids), [[0, 13000, 13001, 0, 0]])
    sem = np.array([[0, 13, 13, 13, 11, I]], np.uint8)
    ins = np.array([[1, 2, 3, I, 0, I]], np.uint8)  # stuff id 1, two cars, a contested pixel, no box, ignore
    np.testing.assert_array_equal(instances_from_pseudo(sem, ins, THINGS), [[0, 2, 3, 0, 0, 0]])


def test_read_targets_pseudo_and_semi(tiny, tmp_path):
    ids = (tiny / "lists/train_id.txt").read_text().split()
    for image_id in ids[:2]:
        write_label_png(tmp_path / "sem" / f"{image_id}_leftImg8bit.png", np.full((128, 256), 13, np.uint8))
        write_label_png(tmp_path / "ins" / f"{image_id}_leftImg8bit.png", np.full((128, 256), 4, np.uint8))
    template = SYNTHETIC.pred_template
    source = LabelSource(str(tmp_path / "sem"), str(tmp_path / "ins"), template, true_gt_ids=frozenset(ids[1:2]))
    sem, inst = read_targets(tiny, "train", ids[0], source, THINGS)
    assert (sem == 13).all() and (inst == 4).all()
    sem, inst = read_targets(tiny, "train", ids[1], source, THINGS)  # semi-supervised: true GT
    assert len(np.unique(sem)) > 3 and inst.max() >= 11000


def test_scale_crop_flip_keeps_maps_aligned():
    rng = np.random.default_rng(0)
    image = np.zeros((40, 60, 3), np.uint8)
    sem = np.zeros((40, 60), np.uint8)
    inst = np.zeros((40, 60), np.int32)
    image[10:20, 10:30] = 200
    sem[10:20, 10:30] = 13
    inst[10:20, 10:30] = 13005
    for _ in range(20):
        im, (s, i) = random_scale_crop_flip(rng, image, [sem, inst], [I, 0], (48, 64), (0.5, 1.5))
        assert im.shape == (48, 64, 3) and s.shape == (48, 64) and i.dtype == np.int32
        np.testing.assert_array_equal(s == 13, i == 13005)  # nearest: labels never blend
        assert set(np.unique(s).tolist()) <= {0, 13, I}
        assert (im[s == I] == 0).all()  # padding is black in the image and ignore in sem
        padded = s == I
        assert not i[padded].any()  # padding: ignore in sem, no instance


def test_crop_tag_datamodule(tiny):
    dm = CropTagDataModule(str(tiny), SYNTHETIC, batch_size=2)
    batch = next(iter(dm.train_dataloader()))
    assert batch["crops"].shape == (2, 15, 3, 50, 63) and batch["tags"].shape == (2, 15, 19)
    assert batch["tags"].sum(-1).min() >= 1 and len(batch["id"]) == 2
    val = next(iter(dm.val_dataloader()))
    crops = crop_grid((128, 256), (50, 63))
    from wsps.data.cityscapes import gt_path
    from wsps.io import read_label_png

    label = read_label_png(gt_path(tiny, "val", val["id"][0], "labelTrainIds"))
    np.testing.assert_array_equal(val["tags"][0].numpy(), crop_tags(label, crops, 19))


def test_crop_tag_loaders_make_the_cams_superpixels_when_asked(tiny):
    """superpixels_in_loader: items made for CAMs (prediction, validation `for_cams`) carry the
    image's superpixels, as the CAM step would make them; training items, Lightning's validation
    items (loss and AP, no CAMs) and the default carry none."""
    from wsps.data.transforms import superpixels

    options = {"scale": 200, "sigma": 0.5, "min_size": 10, "max_side": 128}
    dm = CropTagDataModule(str(tiny), SYNTHETIC, batch_size=2, superpixels=options, superpixels_in_loader=True)
    batch = next(iter(dm.predict_dataloader()))
    assert batch["segments"].shape == (2, 128, 256) and batch["segments"].dtype == torch.int32
    for image, segments in zip(batch["image"].numpy(), batch["segments"].numpy()):
        np.testing.assert_array_equal(segments, superpixels(image, **options))
        assert 4 < len(np.unique(segments)) < 128 * 256 // 10
    assert "segments" in next(iter(dm.val_dataloader(for_cams=True)))
    assert "segments" not in next(iter(dm.val_dataloader()))
    assert "segments" not in next(iter(dm.train_dataloader()))
    off = CropTagDataModule(str(tiny), SYNTHETIC, batch_size=2, superpixels=options)
    assert "segments" not in next(iter(off.predict_dataloader()))


def test_panoptic_datamodule(tiny):
    dm = PanopticDataModule(str(tiny), SYNTHETIC, crop_size=(96, 160), batch_size=3, sigma=4)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (3, 3, 96, 160) and batch["image"].dtype == torch.float32
    assert batch["image"].min() >= 0 and 0.5 < batch["image"].max() <= 1  # [0, 1]: the network normalises
    assert batch["sem"].shape == (3, 96, 160) and batch["center"].shape == (3, 1, 96, 160)
    assert batch["offset"].shape == (3, 2, 96, 160) and batch["offset_weight"].shape == (3, 1, 96, 160)
    assert batch["center"].max() <= 1 and batch["sem"].max() <= 255
    val = next(iter(dm.val_dataloader()))
    assert (
        val["image"].shape == (1, 3, 128, 256) and val["inst"].shape == (1, 128, 256) and isinstance(val["id"][0], str)
    )
    pred = next(iter(dm.predict_dataloader()))
    assert set(pred) == {"id", "image", "rgb"}
    assert pred["rgb"].dtype == torch.uint8 and pred["rgb"].shape == (1, 128, 256, 3)
    np.testing.assert_allclose(pred["image"][0].numpy(), to_chw(pred["rgb"][0].numpy()))  # the same image, in [0, 1]


def test_class_frequencies_count_the_labels_the_segmenter_trains_on(tiny, tmp_path):
    dm = PanopticDataModule(str(tiny), SYNTHETIC)
    ids = read_id_list(tiny / "lists/train_id.txt")
    counts = np.zeros(19)
    for image_id in ids:
        label = read_label_png(SYNTHETIC.gt_path(tiny, "train", image_id, "labelTrainIds"))
        counts += np.bincount(label[label < 19], minlength=19)[:19]
    np.testing.assert_allclose(dm.class_frequencies(), counts / counts.sum())
    for image_id in ids:  # a pseudo-GT of road and void only
        label = np.full((128, 256), I, np.uint8)
        label[64:] = 0
        write_label_png(tmp_path / "sem" / f"{image_id}_leftImg8bit.png", label)
        write_label_png(tmp_path / "ins" / f"{image_id}_leftImg8bit.png", np.zeros_like(label))
    labels = LabelSource(str(tmp_path / "sem"), str(tmp_path / "ins"), SYNTHETIC.pred_template)
    pseudo = PanopticDataModule(str(tiny), SYNTHETIC, labels=labels)
    np.testing.assert_array_equal(pseudo.class_frequencies(), np.eye(19)[0])


def test_crop_bits_mark_each_crop_once():
    crops = [(slice(0, 2), slice(0, 3)), (slice(1, 3), slice(2, 4))]
    np.testing.assert_array_equal(crop_bits(crops, (3, 5)), [[1, 1, 1, 0, 0], [1, 1, 3, 2, 0], [0, 0, 2, 2, 0]])
    with pytest.raises(ValueError, match="at most 31"):
        crop_bits([(slice(0, 1), slice(0, 1))] * 32, (1, 1))


def _crop_masks(bits: torch.Tensor, n: int) -> list[np.ndarray]:
    return [((bits.numpy() >> k) & 1).astype(bool) for k in range(n)]


def test_training_items_carry_the_crops_tags_through_the_augmentation(tiny):
    from wsps.data.cityscapes import gt_path
    from wsps.io import read_label_png

    crops = crop_grid((128, 256), (50, 63))
    image_id = PanopticDataModule(str(tiny), SYNTHETIC).split_ids("train")[0]
    truth = read_label_png(gt_path(tiny, "train", image_id, "labelTrainIds"))
    whole = PanopticDataset(
        tiny, "train", [image_id], SYNTHETIC, crop_size=(128, 256), scale_range=(1, 1), tag_crop_size=(50, 63)
    )[0]
    np.testing.assert_array_equal(whole["crop_tags"].numpy(), crop_tags(truth, crops, 19))
    np.testing.assert_allclose(whole["crop_visible"].numpy(), 1)  # at scale 1 the window is the image
    masks = _crop_masks(whole["crop_bits"], len(crops))
    flipped = not masks[0][0, 0]  # crop 0 is the top-left one, unless the item was flipped
    for mask, (rows, cols) in zip(masks, crops):
        expected = np.zeros((128, 256), bool)
        expected[rows, cols] = True
        np.testing.assert_array_equal(mask, expected[:, ::-1] if flipped else expected)
        label = whole["sem"].numpy()[mask]  # the true labels are the training labels here: the tags match them
        assert set(np.unique(label[label != I])) <= set(
            np.flatnonzero(whole["crop_tags"][crops.index((rows, cols))].numpy())
        )
    torch.manual_seed(0)
    zoomed = [
        PanopticDataset(
            tiny, "train", [image_id], SYNTHETIC, crop_size=(64, 128), scale_range=(1, 1), tag_crop_size=(50, 63)
        )[0]
        for _ in range(4)
    ]
    for (
        item
    ) in zoomed:  # a 64x128 window: a crop's share inside is its pixels there over its 50x63 (resized: +-1 row/column)
        shown = np.array([m.sum() for m in _crop_masks(item["crop_bits"], len(crops))])
        np.testing.assert_allclose(item["crop_visible"].numpy(), shown / (50 * 63), atol=1e-6)
        assert item["crop_visible"].min() < 0.5  # a quarter of the image cannot hold every crop
    plain = PanopticDataset(tiny, "train", [image_id], SYNTHETIC, crop_size=(128, 256))[0]
    assert not {"crop_tags", "crop_bits", "crop_visible"} & set(plain)


def test_true_labels_of_another_size_are_refused_naming_the_file(tiny, tmp_path):
    import shutil

    from wsps.data.cityscapes import gt_path
    from wsps.io import InputError

    root = tmp_path / "data"
    shutil.copytree(tiny, root)
    image_id = (root / "lists/train_id.txt").read_text().split()[0]
    write_label_png(tmp_path / "sem" / f"{image_id}_leftImg8bit.png", np.full((128, 256), 0, np.uint8))
    write_label_png(tmp_path / "ins" / f"{image_id}_leftImg8bit.png", np.zeros((128, 256), np.uint8))
    truth = gt_path(root, "train", image_id, "labelTrainIds")
    write_label_png(truth, np.zeros((64, 128), np.uint8))
    source = LabelSource(str(tmp_path / "sem"), str(tmp_path / "ins"), SYNTHETIC.pred_template)
    with pytest.raises(InputError, match="64x128 but the training labels are 128x256") as error:
        PanopticDataset(
            root, "train", [image_id], SYNTHETIC, labels=source, crop_size=(128, 256), tag_crop_size=(50, 63)
        )[0]
    assert truth.name in str(error.value)


def test_label_scores_weigh_each_pixels_semantic_loss_through_the_augmentation(tiny, tmp_path):
    import scipy.io

    from wsps.data.cityscapes import gt_path
    from wsps.io import InputError

    image_id = PanopticDataModule(str(tiny), SYNTHETIC).split_ids("train")[0]
    truth = read_label_png(gt_path(tiny, "train", image_id, "labelTrainIds"))
    write_label_png(tmp_path / "sem" / f"{image_id}_leftImg8bit.png", truth)  # a pseudo-GT: the true labels
    write_label_png(tmp_path / "ins" / f"{image_id}_leftImg8bit.png", np.zeros_like(truth))
    pseudo = LabelSource(str(tmp_path / "sem"), str(tmp_path / "ins"), SYNTHETIC.pred_template)
    scores = np.tile(np.linspace(0, 1, 256, dtype=np.float32), (128, 1))  # rising from left to right
    scipy.io.savemat(tmp_path / f"{image_id}_leftImg8bit.mat", {"feat": scores})
    items = []
    for labels, label_scores in ((pseudo, None), (pseudo, tmp_path), (LabelSource(), tmp_path)):
        torch.manual_seed(3)  # the same augmentation for all
        dataset = PanopticDataset(
            tiny,
            "train",
            [image_id],
            SYNTHETIC,
            labels=labels,
            crop_size=(128, 256),
            scale_range=(1, 1),
            label_scores=label_scores,
        )
        items.append(dataset[0])
    plain, weighed, true_labels = items
    assert torch.equal(true_labels["sem_weight"], plain["sem_weight"])  # an image with its true labels: not weighed
    assert torch.equal(plain["sem"], weighed["sem"]) and torch.equal(plain["image"], weighed["image"])
    weights = np.round(scores * 255) / 255
    expected = [plain["sem_weight"].numpy() * w for w in (weights, weights[:, ::-1])]  # as is, or flipped
    assert any(np.allclose(weighed["sem_weight"].numpy(), e, atol=1e-6) for e in expected)
    assert weighed["sem_weight"].sum() < 0.6 * plain["sem_weight"].sum()  # the mean score is 0.5
    scipy.io.savemat(tmp_path / f"{image_id}_leftImg8bit.mat", {"feat": scores[:64]})
    dataset = PanopticDataset(tiny, "train", [image_id], SYNTHETIC, labels=pseudo, label_scores=tmp_path)
    with pytest.raises(InputError, match="scores are 64x256 but the labels are 128x256") as error:
        dataset[0]
    assert f"{image_id}_leftImg8bit.mat" in str(error.value)


def test_panoptic_dataset_refuses_unknown_mode(tiny):
    with pytest.raises(ValueError, match="mode must be"):
        PanopticDataset(tiny, "train", [], SYNTHETIC, mode="test")


def test_working_size_shrinks_the_longer_side_to_max_side():
    assert working_size(1024, 2048, 512) == (256, 512)
    assert working_size(2048, 1024, 512) == (512, 256)
    assert working_size(128, 256, 512) is None and working_size(1024, 2048, None) is None
    assert working_size(3, 3000, 100) == (1, 100)  # never a side of 0


def test_train_extra_images_join_training_for_the_semantic_loss_only(tmp_path):
    generate(tmp_path, num_train=3, num_val=1, height=128, width=256, seed=2, num_train_extra=2)
    extra_ids = read_id_list(tmp_path / "lists/train_extra_id.txt")
    for image_id in extra_ids:  # a semantic pseudo-GT without instance maps (generate_gt's save_ins=false)
        write_label_png(tmp_path / "pgt/sem" / f"{image_id}_leftImg8bit.png", np.full((128, 256), 13, np.uint8))
    dm = PanopticDataModule(
        str(tmp_path),
        SYNTHETIC,
        crop_size=(96, 160),
        batch_size=5,
        tag_crop_size=(50, 63),
        extra_split="train_extra",
        extra_labels=LabelSource(str(tmp_path / "pgt/sem"), template=SYNTHETIC.pred_template),
    )
    dataset = dm.train_dataloader().dataset
    assert len(dataset) == 5
    extra = [dataset[k] for k in (3, 4)]
    for item in extra:
        assert item["id"] in extra_ids
        labelled = item["sem"] != 255
        assert labelled.any() and (item["sem"][labelled] == 13).all()  # the pseudo-GT, not the coarse truth
        assert not item["center_weight"].any() and not item["offset_weight"].any()  # no instance loss
        assert not item["crop_bits"].any() and not item["crop_tags"].any() and not item["crop_visible"].any()
    fine = dataset[0]
    assert fine["center_weight"].any() and fine["crop_visible"].any()
    batch = next(iter(dm.train_dataloader()))  # fine and coarse items collate into one batch
    assert batch["image"].shape == (5, 3, 96, 160) and batch["crop_tags"].shape == (5, 15, 19)
    # its own, coarse labels: Cityscapes' gtCoarse folder
    own = PanopticDataModule(
        str(tmp_path), SYNTHETIC, crop_size=(128, 256), scale_range=(1, 1), extra_split="train_extra"
    )
    item = own.train_dataloader().dataset[3]
    coarse = read_label_png(SYNTHETIC.gt_path(tmp_path, "train_extra", extra_ids[0], "labelTrainIds"))
    assert "gtCoarse" in str(SYNTHETIC.gt_path(tmp_path, "train_extra", extra_ids[0], "labelTrainIds"))
    assert set(np.unique(item["sem"].numpy())) == set(np.unique(coarse)) and (coarse == 255).any()


def test_colour_jitter_changes_colours_within_its_strength_and_keeps_grey_grey():
    rng = np.random.default_rng(0)
    image = rng.integers(40, 200, (16, 24, 3)).astype(np.uint8)
    assert np.array_equal(colour_jitter(np.random.default_rng(1), image, 0.0), image)
    jittered = [colour_jitter(np.random.default_rng(seed), image, 0.4) for seed in range(8)]
    assert all(j.dtype == np.uint8 and j.shape == image.shape for j in jittered)
    assert sum(not np.array_equal(j, image) for j in jittered) == 8
    ratios = [j.astype(float).mean() / image.mean() for j in jittered]
    assert 0.5 < min(ratios) and max(ratios) < 1.6 and max(ratios) - min(ratios) > 0.05
    grey = np.full((4, 4, 3), 100, np.uint8)
    out = colour_jitter(np.random.default_rng(2), grey, 0.4)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()  # saturation cannot tint grey


def test_cutmix_boxes_lie_inside_and_cover_less_than_half_on_average():
    rng = np.random.default_rng(0)
    shares = []
    for _ in range(400):
        rows, cols = cutmix_box(rng, (64, 128))
        assert 0 <= rows.start <= rows.stop <= 64 and 0 <= cols.start <= cols.stop <= 128
        shares.append((rows.stop - rows.start) * (cols.stop - cols.start) / (64 * 128))
    assert 0.2 < np.mean(shares) < 0.5  # (1 - lam) is 0.5 on average, less after clipping to the image
    assert max(shares) > 0.8 and min(shares) < 0.05


def test_cut_in_pastes_another_images_pixels_labels_and_instances(tiny):
    from wsps.data.cityscapes import gt_path

    ids = PanopticDataModule(str(tiny), SYNTHETIC).split_ids("train")[:2]
    dataset = PanopticDataset(tiny, "train", ids, SYNTHETIC, crop_size=(128, 256), scale_range=(1, 1), cutmix=1.0)
    image = np.zeros((128, 256, 3), np.uint8)
    sem, inst = np.full((128, 256), 3, np.uint8), np.zeros((128, 256), np.int32)
    inst[:20, :20] = 5
    bits, scores = np.full((128, 256), 7, np.int32), np.full((128, 256), 9, np.uint8)
    maps = [sem, inst, bits, scores]
    truth = read_label_png(gt_path(tiny, "train", ids[1], "labelTrainIds"))
    numbered = []
    for seed in range(6):
        out, (sem2, inst2, bits2, scores2) = dataset.cut_in(
            np.random.default_rng(seed), 0, image, maps, bits=True, scores=True
        )
        pasted = out.any(axis=2)  # the other image has no black pixels
        rows, cols = np.flatnonzero(pasted.any(axis=1)), np.flatnonzero(pasted.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        assert pasted[box].all() and pasted.sum() == pasted[box].size > 0  # one rectangle
        assert any(np.array_equal(sem2[box], t[box]) for t in (truth, truth[:, ::-1]))  # its true labels
        assert np.all(sem2[~pasted] == 3) and np.all(inst2[~pasted & (inst == 5)] == 5)
        assert not np.isin(inst2[box], [1, 2, 3, 4, 5]).any()  # its instances numbered after the crop's own
        numbered.append(inst2[box].max() > 5)
        assert np.all(bits2[box] == 0) and np.all(bits2[~pasted] == 7)  # the tag check's crops lose the rectangle
        assert np.all(scores2[box] == 255) and np.all(scores2[~pasted] == 9)  # true labels: full weight
    assert any(numbered)
    assert not image.any() and np.all(sem == 3) and np.all(bits == 7)  # the inputs are untouched


def test_cutmix_items_train_on_the_mixed_labels(tiny):
    ids = PanopticDataModule(str(tiny), SYNTHETIC).split_ids("train")[:2]
    items = []
    for cutmix in (0.0, 1.0):
        torch.manual_seed(5)
        kwargs = {"crop_size": (128, 256), "scale_range": (1, 1), "tag_crop_size": (50, 63), "cutmix": cutmix}
        items.append(PanopticDataset(tiny, "train", ids, SYNTHETIC, **kwargs)[0])
    plain, mixed = items
    changed = (plain["image"] != mixed["image"]).any(0)
    assert 0 < changed.float().mean() < 1 and (plain["sem"] != mixed["sem"])[~changed].sum() == 0
    assert mixed["crop_visible"].sum() < plain["crop_visible"].sum()  # the rectangle belongs to no crop
    inside = mixed["offset_weight"][0] > 0
    assert inside.sum() > 100
    rows, cols = torch.meshgrid(torch.arange(128.0), torch.arange(256.0), indexing="ij")
    target = torch.stack([rows + mixed["offset"][0], cols + mixed["offset"][1]])[:, inside].round().long()
    assert (mixed["center"][0][target[0], target[1]] > 0.9).all()  # every instance pixel points at a centre peak
