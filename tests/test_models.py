"""The models' pure parts on hand-made tensors: losses, post-processing, CAMs (against grad-cam)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hydra.errors import InstantiationException
from torch import nn

from wsps.data.metadata import dataset_meta
from wsps.eval.semantic import SemanticIoU, f_beta
from wsps.models.build import build_model
from wsps.models.cam import (
    allowed_classes,
    cam_label_counts,
    cam_labels,
    class_activation_maps,
    precision_coverage,
    stitch_cams,
)
from wsps.models.crf import crf_labels, dense_crf, dense_crf_torch
from wsps.models.losses import (
    center_loss,
    class_balance_weights,
    crop_presence,
    crop_tag_loss,
    offset_loss,
    semantic_loss,
)
from wsps.models.nets import head_in_float32
from wsps.models.postprocess import find_instance_centers, group_pixels, panoptic_from_outputs

I = 255
THINGS = tuple(range(11, 19))

CITYSCAPES = dataset_meta("cityscapes")


# ---------------------------------------------------------------- losses


def test_semantic_loss_ignores_255_and_weighs_pixels():
    logits = torch.randn(1, 3, 2, 3)
    target = torch.tensor([[[0, 1, 2], [I, 1, I]]])
    expected = F.cross_entropy(logits[0].permute(1, 2, 0)[target[0] != I], target[0][target[0] != I])
    assert torch.isclose(semantic_loss(logits, target), expected)
    weight = torch.ones(1, 2, 3)
    weight[0, 0, 0] = 3
    per_pixel = F.cross_entropy(logits, target, ignore_index=I, reduction="none")[target != I]
    weighted = per_pixel * torch.tensor([3.0, 1, 1, 1])
    assert torch.isclose(semantic_loss(logits, target, weight), weighted.mean())


def test_class_balance_weights_soften_median_frequency_balancing():
    share = torch.tensor([0.5, 0.3, 0.15, 0.04995, 0.0, 0.00005])
    weights = class_balance_weights(share)
    median = 0.15  # of the five present classes
    raw = torch.tensor([(median / 0.5) ** 0.5, (median / 0.3) ** 0.5, 1.0, (median / 0.04995) ** 0.5, 1.0, 10.0])
    torch.testing.assert_close(weights, raw / (raw * share).sum())  # the rarest capped at 10x the median
    assert (weights * share).sum() == pytest.approx(1)  # the average labelled pixel weighs 1
    assert weights[0] < weights[1] < weights[2] < weights[3] < weights[5]
    torch.testing.assert_close(class_balance_weights(torch.zeros(3)), torch.ones(3))


def test_semantic_loss_hard_pixel_mining_keeps_the_hardest():
    logits = torch.zeros(1, 2, 1, 4)
    logits[0, 0] = torch.tensor([[5.0, 1.0, -1.0, -5.0]])  # class 0 confidence falls left to right
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    per_pixel = F.cross_entropy(logits, target, reduction="none").flatten()
    assert torch.isclose(semantic_loss(logits, target, top_k_percent=0.5), per_pixel.topk(2).values.mean())
    assert semantic_loss(logits, torch.full_like(target, I)).item() == 0  # nothing valid: zero, not NaN


def test_center_and_offset_losses_are_weighted_means():
    pred, target = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    weight = torch.tensor([[[[1.0, 1.0], [0.0, 1.0]]]])
    assert torch.isclose(center_loss(pred, target, weight), torch.tensor((1 + 0.25 + 0) / 3))
    offsets, true = torch.zeros(1, 2, 1, 2), torch.tensor([[[[2.0, -4.0]], [[1.0, 1.0]]]])
    assert torch.isclose(offset_loss(offsets, true, torch.tensor([[[[1.0, 0.0]]]])), torch.tensor((2 + 1) / 1))
    zero = offset_loss(offsets.requires_grad_(), true, torch.zeros(1, 1, 1, 2))
    assert zero.item() == 0 and zero.requires_grad


def _segmenter(**values):
    """The configured segmenter on Cityscapes' classes, on a small random encoder."""
    net = ["model.net.encoder_name=tu-regnetx_002", "model.net.encoder_weights=null"]
    return build_model(
        "segmenter", net, class_names=CITYSCAPES.class_names, thing_classes=CITYSCAPES.thing_classes, **values
    )


def test_segmenter_input_scale_enlarges_the_image_and_shrinks_the_heads_back():
    torch.manual_seed(0)
    model = _segmenter(input_scale=2.0, offset_scale=8.0).eval()
    seen = {}
    model.net.encoder.register_forward_hook(lambda net, args, out: seen.update(input=args[0]))
    model.net.segmentation_head.register_forward_hook(lambda net, args, out: seen.update(output=out))
    image = torch.randn(1, 3, 40, 70)
    out = model(image)
    assert seen["input"].shape == (1, 3, 96, 160)  # 80x140 padded to multiples of 32
    enlarged = model.net.normalise(F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False))
    assert torch.equal(seen["input"][..., :80, :140], enlarged)  # enlarged, then normalised
    expected = F.interpolate(seen["output"][..., :80, :140], size=(40, 70), mode="bilinear", align_corners=False)
    heads = torch.cat([out["sem"], out["center"], out["offset"] / 8.0], dim=1)
    assert heads.shape == (1, 22, 40, 70) and torch.allclose(heads, expected, atol=1e-6)


def test_segmenter_last_layer_runs_in_float32_under_bfloat16_autocast():
    """The heads' last layer in float32: its outputs are float32 and near the float32 network's,
    nearer than a network wholly in bfloat16 gets; without autocast it is the network's output."""
    torch.manual_seed(0)
    net = _segmenter().eval().net
    image = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        reference = net(image)
        assert torch.equal(head_in_float32(net, net.normalise(image)), reference)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = net(image)
            bf16 = net.segmentation_head(net.decoder(net.encoder(net.normalise(image))))
    assert mixed.dtype == torch.float32 and bf16.dtype == torch.bfloat16
    mixed_error, bf16_error = ((out.float() - reference).abs().mean() for out in (mixed, bf16))
    assert mixed_error < 0.8 * bf16_error
    # bfloat16 keeps 8 bits: neighbouring heatmap values collapse into ties that float32 keeps apart
    centre = CITYSCAPES.num_classes
    assert mixed[:, centre].unique().numel() > 2 * bf16[:, centre].unique().numel()


# ---------------------------------------------------------------- post-processing


def test_crop_presence_is_the_mean_of_each_crops_top_cells():
    probs = torch.zeros(1, 2, 8, 8)
    probs[0, 0, 1, 1] = 0.9  # one pixel of class 0 in the left crop: max-pooled, its 4x4 cell scores 0.9
    probs[0, 1, :, 4:] = torch.arange(4.0).repeat(8, 1) / 10  # class 1 in the right crop, 0.3 at best
    bits = torch.zeros(1, 8, 8, dtype=torch.int32)
    bits[0, :, :4] |= 1
    bits[0, :, 4:] |= 2
    scores, cells = crop_presence(probs, bits, top_fraction=0.5, stride=4)
    assert cells.tolist() == [[2, 2]]  # two 4x4 cells per crop
    assert torch.allclose(scores, torch.tensor([[[0.9, 0.0], [0.0, 0.3]]]))  # the top half of two cells: the best one
    scores, _ = crop_presence(probs, bits, top_fraction=1.0, stride=4)
    assert torch.allclose(
        scores, torch.tensor([[[0.45, 0.0], [0.0, 0.3]]])
    )  # both cells: (0.9 + 0) / 2 and (0.3 + 0.3) / 2


def test_crop_tag_loss_is_the_tags_cross_entropy_and_skips_tags_of_cut_crops():
    logits = torch.zeros(1, 4, 8, 8)  # uniform: every presence score is 1/4
    bits = torch.ones(1, 8, 8, dtype=torch.int32)
    tags = torch.tensor([[[1.0, 0, 0, 0]]])
    one_tag = -(math.log(0.25) + 3 * math.log(0.75)) / 4
    assert math.isclose(crop_tag_loss(logits, bits, tags, torch.ones(1, 1)).item(), one_tag, rel_tol=1e-5)
    absent_only = -(3 * math.log(0.75)) / 4  # a crop mostly outside the window: its positive tag may lie outside
    assert math.isclose(crop_tag_loss(logits, bits, tags, torch.full((1, 1), 0.5)).item(), absent_only, rel_tol=1e-5)
    logits[0, 0] = 10.0  # the tagged class everywhere: low loss; an untagged one everywhere: high
    assert crop_tag_loss(logits, bits, tags, torch.ones(1, 1)).item() < 0.01
    assert (
        crop_tag_loss(logits, bits, torch.tensor([[[0.0, 1, 0, 0]]]), torch.ones(1, 1)).item() > 4
    )  # -(log(1 - p0) + log(p1)) / 4, p1 = 1 / (e^10 + 3)
    assert crop_tag_loss(logits, torch.zeros_like(bits), tags, torch.ones(1, 1)).item() == 0  # no crop shows
    counted = torch.tensor([True, True, False, False])  # classes 0 (tagged) and 1 (absent) only, scores 1/4
    uniform = torch.zeros(1, 4, 8, 8)
    loss = crop_tag_loss(uniform, bits, tags, torch.ones(1, 1), classes=counted).item()
    assert math.isclose(loss, -(math.log(0.25) + math.log(0.75)) / 2, rel_tol=1e-5)


def test_segmenter_adds_the_weighted_tag_loss_and_needs_the_tags():
    torch.manual_seed(0)
    model = _segmenter(tag_weight=2.0)
    batch = {
        "image": torch.randn(2, 3, 32, 64),
        "sem": torch.zeros(2, 32, 64, dtype=torch.long),
        "sem_weight": torch.ones(2, 32, 64),
        "center": torch.zeros(2, 1, 32, 64),
        "center_weight": torch.ones(2, 1, 32, 64),
        "offset": torch.zeros(2, 2, 32, 64),
        "offset_weight": torch.ones(2, 1, 32, 64),
    }
    out = model(batch["image"])
    with pytest.raises(ValueError, match="tag_crop_size"):
        model.losses(out, batch)
    batch.update(
        crop_bits=torch.ones(2, 32, 64, dtype=torch.int32),
        crop_tags=torch.zeros(2, 1, 19),
        crop_visible=torch.ones(2, 1),
    )
    parts = model.losses(out, batch)
    h = model.hparams
    plain = (
        h.semantic_weight * parts["semantic"] + h.center_weight * parts["center"] + h.offset_weight * parts["offset"]
    )
    assert parts["tags"] > 0 and torch.isclose(parts["total"], plain + 2.0 * parts["tags"])
    stuff_only = _segmenter(tag_weight=2.0, tag_classes="stuff")
    assert stuff_only.tagged_classes.tolist() == [c not in CITYSCAPES.thing_classes for c in range(19)]
    stuff_tags = stuff_only.losses(out, batch)["tags"]
    tags = (batch["crop_bits"], batch["crop_tags"], batch["crop_visible"], h.tag_top_fraction)
    assert torch.isclose(stuff_tags, crop_tag_loss(out["sem"], *tags, classes=stuff_only.tagged_classes))
    assert not torch.isclose(stuff_tags, parts["tags"])
    with pytest.raises(InstantiationException, match="tag_classes=.boxes.: expected"):
        _segmenter(tag_classes="boxes")


def test_centers_threshold_nms_and_order():
    heat = torch.zeros(1, 10, 10)
    heat[0, 2, 2], heat[0, 2, 3] = 0.9, 0.8  # the weaker neighbour is suppressed
    heat[0, 7, 7] = 0.6
    heat[0, 5, 0] = 0.05  # below the threshold
    centers = find_instance_centers(heat, threshold=0.1, nms_kernel=3)
    assert centers.tolist() == [[2, 2], [7, 7]]
    assert find_instance_centers(heat, 0.1, 3, top_k=1).tolist() == [[2, 2]]


def test_grouping_follows_offsets():
    offset = torch.zeros(2, 4, 4)
    offset[1, :, :2] = 10.0  # the left half points far right
    groups = group_pixels(torch.tensor([[1, 0], [1, 13]]), offset, torch.ones(4, 4, dtype=torch.bool))
    assert (groups[:, :2] == 2).all() and (groups[:, 2:] == 1).all()
    mask = torch.zeros(4, 4, dtype=torch.bool)
    assert (group_pixels(torch.tensor([[1, 0]]), offset, mask) == 0).all()


def test_panoptic_from_outputs():
    sem = torch.full((8, 10), 0)
    sem[1:4, 1:4] = 13
    sem[1:4, 6:9] = 13
    sem[2, 7] = 11  # one person pixel inside the right car: outvoted
    sem[6, 8] = 2  # a 1-pixel building: below stuff_area
    center = torch.zeros(1, 8, 10)
    center[0, 2, 2], center[0, 2, 7] = 1.0, 1.0
    offset = torch.zeros(2, 8, 10)
    rows, cols = torch.meshgrid(torch.arange(8.0), torch.arange(10.0), indexing="ij")
    for cy, cx, c0, c1 in ((2, 2, 0, 5), (2, 7, 5, 10)):
        offset[0, :, c0:c1], offset[1, :, c0:c1] = cy - rows[:, c0:c1], cx - cols[:, c0:c1]
    out_sem, out_inst = panoptic_from_outputs(
        sem, center, offset, THINGS, center_threshold=0.5, nms_kernel=3, stuff_area=4
    )
    assert out_sem[2, 7] == 13 and (out_sem[1:4, 6:9] == 13).all()  # majority vote
    left, right = out_inst[2, 2].item(), out_inst[2, 7].item()
    assert left > 0 and right > 0 and left != right
    assert (out_inst[1:4, 1:4] == left).all() and (out_inst[1:4, 6:9] == right).all()
    assert (out_inst[sem == 0] == 0).all() and (out_sem[sem == 0] == 0).all()
    assert out_sem[6, 8] == I  # small stuff region to void
    no_centers, no_inst = panoptic_from_outputs(sem, torch.zeros(1, 8, 10), offset, THINGS)
    assert (no_centers[sem == 13] == I).all() and (no_inst == 0).all()  # things without a centre are void
    split_sem = sem.clone()
    split_sem[1:4, 4] = 13  # a 3-pixel fragment between the cars, grouped to neither's centre alone
    center[0, 2, 4] = 1.0
    offset[:, 1:4, 4] = 0
    kept_sem, kept_inst = panoptic_from_outputs(split_sem, center, offset, THINGS, 0.5, 1, stuff_area=4, thing_area=4)
    assert (kept_inst[1:4, 4] == 0).all() and (kept_sem[1:4, 4] == I).all()  # below thing_area: void
    assert (kept_inst[1:4, 1:4] == kept_inst[2, 2]).all() and (kept_sem[1:4, 6:9] == 13).all()  # 9 pixels: kept


# ---------------------------------------------------------------- CAMs


class TinyClassifier(nn.Module):
    """Features at input resolution, a 1x1 head, average pooling: the crop classifier's shape."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.head(self.features(x)).mean(dim=(2, 3))


def test_cams_equal_grad_cam_library():
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = TinyClassifier().eval()
    x = torch.randn(2, 3, 12, 16)
    ours = class_activation_maps(model.features(x), model.head.weight.flatten(1)).detach()
    with GradCAM(model=model, target_layers=[model.features]) as cam:
        for c in range(4):
            theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(c)] * 2)
            mine = ours[:, c].numpy()
            mine = (mine - mine.min(axis=(1, 2), keepdims=True)) / np.maximum(
                np.ptp(mine, axis=(1, 2), keepdims=True), 1e-7
            )
            np.testing.assert_allclose(mine, theirs, atol=1e-4)


def test_stitch_keeps_tags_normalises_and_takes_the_maximum():
    crops = [(slice(0, 4), slice(0, 4)), (slice(0, 4), slice(2, 6))]
    cams = torch.zeros(2, 3, 4, 4)
    cams[0, 0] = 2.0  # class 0 in the left crop, everywhere
    cams[0, 1, 0, 0] = 5.0  # class 1: strong, but not a tag of the left crop
    cams[1, 1, :, 2:] = 4.0  # class 1 in the right crop's right half
    cams[1, 0, :, :2] = 1.0  # class 0 also in the right crop, weaker in absolute terms
    tags = torch.tensor([[1.0, 0, 0], [1.0, 1, 0]])
    full = stitch_cams(cams, tags, crops, (4, 6))
    assert full.shape == (3, 4, 6)
    assert torch.allclose(full[0, :, :4], torch.ones(4, 4))  # normalised per crop and class: both reach 1
    assert full[1, 0, 0] == 0  # untagged in the left crop, nothing in the right crop there
    assert torch.allclose(full[1, :, 4:], torch.ones(4, 2))
    labels = cam_labels(full, threshold=0.5)
    assert labels[0, 0] == 0 and labels[0, 5] == 1 and labels.dtype == torch.uint8
    assert (cam_labels(full * 0.4, threshold=0.5) == I).all()


def test_allowed_classes_needs_the_tag_in_every_covering_crop():
    crops = [(slice(0, 4), slice(0, 4)), (slice(0, 4), slice(2, 6))]  # columns 6-7 lie in no crop
    tags = torch.tensor([[1.0, 0, 1], [1.0, 1, 0]])
    allowed = allowed_classes(tags, crops, (4, 8))
    assert allowed.shape == (3, 4, 8) and allowed.dtype == torch.bool
    np.testing.assert_array_equal(
        allowed[:, 0].numpy(),
        [
            [1, 1, 1, 1, 1, 1, 0, 0],  # tagged in both crops
            [0, 0, 0, 0, 1, 1, 0, 0],  # only where the right crop alone covers
            [1, 1, 0, 0, 0, 0, 0, 0],  # only where the left crop alone covers
        ],
    )


def _two_colour_image():
    image = np.zeros((8, 12, 3), np.uint8)
    image[:, :5] = (200, 40, 40)
    image[:, 5:] = (40, 40, 200)
    return image


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_crf_moves_a_cam_border_onto_the_colour_edge(backend):
    image = _two_colour_image()  # red in columns 0-4, blue in 5-11
    cams = np.zeros((3, 8, 12), np.float32)
    cams[0, :, :5] = 0.9
    cams[0, :, 5:8] = 0.7  # class 0's blob spills three columns into the blue part,
    cams[2, :, 5:] = 0.6  # where class 2 is weaker than it but covers the whole blue part
    assert (cam_labels(torch.from_numpy(cams), 0.2).numpy()[:, 5:8] == 0).all()  # the plain argmax follows the CAM
    labels = crf_labels(
        cams, image, threshold=0.2, sxy=20, srgb=10, compat=10, gaussian_sxy=1, gaussian_compat=1, backend=backend
    )
    assert labels.dtype == np.uint8 and labels.shape == (8, 12)
    np.testing.assert_array_equal(labels[:, :5], 0)
    np.testing.assert_array_equal(labels[:, 5:], 2)


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_crf_leaves_weak_cams_unlabelled_and_runs_on_a_shrunk_copy(backend):
    image = _two_colour_image()
    cams = np.zeros((3, 8, 12), np.float32)
    cams[1, :, :5] = 0.9
    cams[1, :, 5:] = 0.05  # far below the threshold: unlabelled
    for max_side in (None, 6):
        labels = crf_labels(cams, image, threshold=0.5, max_side=max_side, backend=backend)
        assert labels.shape == (8, 12)
        np.testing.assert_array_equal(labels[:, :4], 1)
        np.testing.assert_array_equal(labels[:, 6:], I)
    np.testing.assert_array_equal(crf_labels(np.zeros((3, 8, 12), np.float32), image, 0.5), I)  # no CAM at all
    with pytest.raises(ValueError, match=r"image is \(8, 10, 3\) but the CAMs are 8x12"):
        crf_labels(cams, image[:, :10], 0.5)


def test_crf_labels_of_a_tensor_stay_on_its_device_and_match_the_numpy_path():
    """With `backend: gpu`, CAMs given as a tensor are labelled in torch where they are (no copy
    to numpy), with the same labels as the numpy CAMs through `dense_crf`'s gpu backend."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    image[:, 24:] //= 3  # a dark right half: an edge for the bilateral kernel
    cams = np.clip(rng.normal(0.3, 0.25, (4, 32, 48)), 0, 1).astype(np.float32)
    cams[3] = 0  # a class with no CAM is never a label
    for max_side in (None, 20):
        options = dict(threshold=0.3, max_side=max_side, backend="gpu")
        ours = crf_labels(torch.from_numpy(cams), torch.from_numpy(image), **options)
        assert isinstance(ours, torch.Tensor) and ours.dtype == torch.uint8 and ours.shape == (32, 48)
        np.testing.assert_array_equal(ours.numpy(), crf_labels(cams, image, **options))
        assert set(np.unique(ours.numpy())) <= {0, 1, 2, I}
    empty = crf_labels(torch.zeros(3, 8, 12), torch.from_numpy(_two_colour_image()), 0.5, backend="gpu")
    assert torch.equal(empty, torch.full((8, 12), I, dtype=torch.uint8))
    with pytest.raises(ValueError, match="take the torch CRF"):
        crf_labels(torch.from_numpy(cams), torch.from_numpy(image), 0.3, backend="cpu")


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_dense_crf_marginals_follow_the_colour_edge_at_full_and_reduced_size(backend):
    image = _two_colour_image()  # red in columns 0-4, blue in 5-11
    probability = np.full((2, 8, 12), 0.5, np.float32)
    probability[0, :, :4], probability[1, :, :4] = 0.9, 0.1  # sure of class 0 on most of the red part,
    probability[0, :, 8:], probability[1, :, 8:] = 0.2, 0.8  # of class 1 on most of the blue part
    for max_side in (None, 6):
        marginals = dense_crf(
            probability,
            image,
            sxy=20,
            srgb=10,
            compat=10,
            gaussian_sxy=1,
            gaussian_compat=1,
            max_side=max_side,
            backend=backend,
        )
        assert marginals.shape == (2, 8, 12) and marginals.dtype == np.float32
        np.testing.assert_allclose(marginals.sum(axis=0), 1.0, atol=1e-5)
        np.testing.assert_array_equal(marginals.argmax(axis=0)[:, :4], 0)
        np.testing.assert_array_equal(marginals.argmax(axis=0)[:, 6:], 1)
    marginals = dense_crf(
        probability, image, sxy=20, srgb=10, compat=10, gaussian_sxy=1, gaussian_compat=1, backend=backend
    )
    np.testing.assert_array_equal(marginals.argmax(axis=0)[:, 4], 0)  # undecided pixels take their colour's class
    np.testing.assert_array_equal(marginals.argmax(axis=0)[:, 5:8], 1)


def test_torch_crf_agrees_with_pydensecrf():
    """On an image of coloured rectangles whose unaries are its labels seen at stride 8 with noise,
    the torch CRF's labels agree with pydensecrf's on at least 97% of the pixels, and both
    correct more of the unaries' errors than they make."""
    rng = np.random.default_rng(0)
    label = np.zeros((96, 128), np.int64)
    for k in range(1, 12):
        top, left = rng.integers(0, 80), rng.integers(0, 110)
        label[top : top + rng.integers(8, 40), left : left + rng.integers(8, 60)] = k % 5
    image = (np.array([[200, 60, 60], [60, 200, 60], [60, 60, 200], [200, 200, 60], [90, 90, 90]])[label]).astype(
        np.uint8
    )
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(label), 5).permute(2, 0, 1).float()[None]
    small = torch.nn.functional.interpolate(one_hot, scale_factor=1 / 8, mode="area")
    logits = 3 * small + torch.randn(small.shape, generator=torch.Generator().manual_seed(0))
    probs = torch.nn.functional.interpolate(logits, size=label.shape, mode="bilinear")[0].softmax(0).numpy()
    options = dict(sxy=20, srgb=8, compat=10, gaussian_sxy=3, gaussian_compat=3)
    reference = dense_crf(probs, image, **options).argmax(0)
    ours = dense_crf_torch(torch.from_numpy(probs), torch.from_numpy(image), **options)
    assert ours.shape == (5, 96, 128) and torch.allclose(ours.sum(0), torch.ones(96, 128), atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as in predict_step: still float32 inside
        assert torch.equal(dense_crf_torch(torch.from_numpy(probs), torch.from_numpy(image), **options), ours)
    ours = ours.argmax(0).numpy()
    assert (ours == reference).mean() >= 0.97
    before = (probs.argmax(0) == label).mean()
    assert (reference == label).mean() > before and (ours == label).mean() > before
    with pytest.raises(ValueError, match="backend='opencl'"):
        dense_crf(probs, image, backend="opencl")


def test_cam_scores():
    label = torch.tensor([[0, 0, 13, I], [8, 13, 13, 0]])
    truth = torch.tensor([[0, 1, 13, 13], [8, 11, I, 0]])
    scores = precision_coverage(cam_label_counts(label, truth, tuple(range(11))))
    # stuff: 4 labelled, 3 right, 4 true; things: 2 judgeable labels (one on an ignored pixel), 1 right, 3 true
    assert scores["precision_stuff"] == pytest.approx(3 / 4) and scores["coverage_stuff"] == pytest.approx(3 / 4)
    assert scores["precision_things"] == pytest.approx(1 / 2) and scores["coverage_things"] == pytest.approx(1 / 3)
    assert scores["precision_all"] == pytest.approx(4 / 6) and scores["coverage_all"] == pytest.approx(4 / 7)
    assert f_beta(1.0, 0.5) == pytest.approx(1.25 * 0.5 / (0.25 + 0.5)) and f_beta(0, 0) == 0


def test_per_class_iou_names_the_classes_present_and_counts_unlabelled_as_a_miss():
    truth = np.array([[0, 0, 0, 1], [1, 1, 2, I]], np.uint8)
    pred = np.array(
        [[0, 0, I, 1], [1, 0, 2, 5]], np.uint8
    )  # road: 2 of 3 right, one unlabelled; sidewalk: 2 of 3; the last pixel is void
    iou = SemanticIoU(CITYSCAPES.num_classes)
    iou.update(pred, truth)
    per_class = iou.per_class(CITYSCAPES.class_names)
    assert per_class == pytest.approx(
        {"road": 2 / 4, "sidewalk": 2 / 3, "building": 1.0}
    )  # classes in neither map are left out
    assert iou.miou() == pytest.approx(np.mean(list(per_class.values())))


def test_pamr_moves_a_misplaced_boundary_onto_the_image_edge():
    from wsps.models.cam import pamr

    image = torch.zeros(3, 32, 48)
    image[:, :, 24:] = 1.0  # a dark left half, a bright right half: the edge is at column 24
    image += 0.01 * torch.randn(3, 32, 48, generator=torch.Generator().manual_seed(0))
    maps = torch.zeros(2, 32, 48)
    maps[0, :, :30] = 1  # the maps' boundary at column 30, 6 columns into the bright half
    maps[1, :, 30:] = 1
    label = pamr(image, maps, dilations=(1, 2, 4, 8), iterations=20).argmax(0)
    assert (label[:, :24] == 0).all()  # the dark half keeps its class: nothing leaks over the edge
    assert (label[:, 24:] == 1).float().mean() > 0.95  # the bright half takes its majority class
    unchanged = pamr(torch.zeros(3, 32, 48), maps, dilations=(1,), iterations=1).argmax(0)
    assert (unchanged == maps.argmax(0)).float().mean() > 0.9  # one step on a flat image only blurs
