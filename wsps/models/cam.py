"""Class activation maps of the crop classifier, turned into a label map (pure torch).

Optionally the stitched maps are averaged within superpixels of the image before the per-pixel
argmax (`superpixel_pool`). The classifier's head is a 1x1 convolution before global average pooling, so the gradient of
class c's score with respect to feature map k is w_ck / (h*w) at every position: Grad-CAM's
channel weights are w_ck / (h*w), and Grad-CAM is ReLU(sum_k w_ck A_k) up to a positive factor
that the per-map normalisation removes. Computing it this way gives every class of every crop
from one forward pass, where the grad-cam library runs one backward pass per (crop, class);
the equivalence is tested against the library.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def class_activation_maps(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """ReLU(sum_k w_ck A_k): (N, K, h, w) features and a (C, K) head -> (N, C, h, w) maps."""
    return F.relu(torch.einsum("nkhw,ck->nchw", features, weight))


def stitch_cams(
    cams: torch.Tensor, tags: torch.Tensor, crops: Sequence[tuple[slice, slice]], canvas_size: Sequence[int]
) -> torch.Tensor:
    """One image's crop CAMs (K, C, h, w) on the full canvas (C, H, W).

    Each crop keeps only its tagged classes, is resized to the crop, normalised class by class
    by its maximum, and pasted; where crops overlap the maximum wins.
    """
    full = cams.new_zeros((cams.shape[1], *canvas_size))
    for k, (rows, cols) in enumerate(crops):
        cam = F.interpolate(
            cams[k : k + 1], size=(rows.stop - rows.start, cols.stop - cols.start), mode="bilinear", align_corners=False
        )[0]
        cam = cam * tags[k].view(-1, 1, 1)
        cam = cam / cam.flatten(1).amax(dim=1).clamp(min=1e-12).view(-1, 1, 1)
        full[:, rows, cols] = torch.maximum(full[:, rows, cols], cam)
    return full


def allowed_classes(
    tags: torch.Tensor, crops: Sequence[tuple[slice, slice]], canvas_size: Sequence[int]
) -> torch.Tensor:
    """(C, H, W) booleans: class c may be at a pixel only if every crop covering it is tagged c.

    The stitched maximum lets a crop's CAM spill over a neighbour that lacks the tag; masking
    with this after the superpixel pooling moves those pixels to an allowed class, which raises
    the stuff cues' precision and coverage (docs/results.md). Pixels no crop
    covers allow nothing and stay unlabelled, as without the mask.
    """
    allowed = torch.ones((tags.shape[1], *canvas_size), dtype=torch.bool, device=tags.device)
    covered = torch.zeros(tuple(canvas_size), dtype=torch.bool, device=tags.device)
    for k, (rows, cols) in enumerate(crops):
        allowed[:, rows, cols] &= tags[k].bool().view(-1, 1, 1)
        covered[rows, cols] = True
    return allowed & covered


def superpixel_pool(full: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """Average every class's map within each superpixel, so that labels follow image edges
    rather than the CAMs' coarse grid (7x8 cells per crop at output stride 8)."""
    segments = segments.to(full.device).long()
    n = int(segments.max()) + 1
    flat = segments.flatten()
    sums = full.new_zeros(full.shape[0], n).index_add_(1, flat, full.flatten(1))
    counts = torch.bincount(flat, minlength=n).clamp(min=1).to(full.dtype)
    return (sums / counts)[:, segments]


#: The 8 neighbours of a pixel, (row, col) steps, at dilation 1.
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def pamr(
    image: torch.Tensor, maps: torch.Tensor, dilations: Sequence[int] = (1, 2, 4, 8, 12, 24), iterations: int = 10
) -> torch.Tensor:
    """Pixel-adaptive mask refinement (Araslanov and Roth, CVPR 2020): every class map is
    repeatedly replaced, at each pixel, by an average of its values at the 8 neighbours of every
    dilation, weighted by a softmax over how alike the neighbours' colours are (the absolute
    difference over 0.1 times the local standard deviation, averaged over the channels). Maps
    spread within regions of one colour and stop at edges. Image borders are replicated; maps
    that are zero everywhere stay zero and are skipped.

    Args:
        image: (3, H, W) float image (any range: the weights are scale-free).
        maps: (C, H, W) class maps at the image's size.
    Returns:
        (C, H, W) refined maps.
    """
    height, width = image.shape[-2:]
    pad = max(dilations)
    offsets = [(dy * d, dx * d) for d in dilations for dy, dx in NEIGHBOURS]

    def neighbour_views(x: torch.Tensor) -> list[torch.Tensor]:
        padded = F.pad(x[None], (pad, pad, pad, pad), mode="replicate")[0]
        return [padded[..., pad + dy : pad + dy + height, pad + dx : pad + dx + width] for dy, dx in offsets]

    image = image.float()
    neighbours = torch.stack(neighbour_views(image))  # (K, 3, H, W)
    std = torch.cat([image[None], neighbours]).std(dim=0, unbiased=False)  # (3, H, W): the local spread
    weights = (-(neighbours - image[None]).abs() / (1e-8 + 0.1 * std[None])).mean(dim=1).softmax(dim=0)  # (K, H, W)
    del neighbours
    out = maps.float().clone()
    active = out.flatten(1).amax(dim=1) > 0
    refined = out[active]
    for _ in range(iterations):
        step = torch.zeros_like(refined)
        for weight, view in zip(weights, neighbour_views(refined)):
            step.addcmul_(weight, view)
        refined = step
    out[active] = refined
    return out.to(maps.dtype)


def cam_labels(full: torch.Tensor, threshold: float, ignore_label: int = 255) -> torch.Tensor:
    """Per pixel the class with the highest normalised CAM, or `ignore_label` below `threshold`."""
    score, label = full.max(dim=0)
    label[score < threshold] = ignore_label
    return label.to(torch.uint8)


def cam_label_counts(
    label: torch.Tensor, truth: torch.Tensor, stuff_classes: Sequence[int], ignore_label: int = 255
) -> dict[str, torch.Tensor]:
    """Pixel counts for precision and coverage, split into stuff and things: labelled,
    correctly labelled, and true pixels of each kind. Pixels whose truth is ignored count nowhere."""
    stuff = torch.tensor(list(stuff_classes), device=label.device)
    valid = truth != ignore_label
    labelled = (label != ignore_label) & valid
    correct = labelled & (label == truth)
    label_stuff, truth_stuff = torch.isin(label, stuff), torch.isin(truth, stuff)
    return {
        "labelled_stuff": (labelled & label_stuff).sum(),
        "labelled_things": (labelled & ~label_stuff).sum(),
        "correct_stuff": (correct & truth_stuff).sum(),
        "correct_things": (correct & valid & ~truth_stuff).sum(),
        "true_stuff": (valid & truth_stuff).sum(),
        "true_things": (valid & ~truth_stuff).sum(),
    }


def precision_coverage(counts: dict[str, torch.Tensor]) -> dict[str, float]:
    """Precision (correct / labelled) and coverage (correct / true) for stuff, things and all."""
    out = {}
    for kind in ("stuff", "things", "all"):
        keys = ("stuff", "things") if kind == "all" else (kind,)
        labelled = sum(float(counts[f"labelled_{k}"]) for k in keys)
        correct = sum(float(counts[f"correct_{k}"]) for k in keys)
        true = sum(float(counts[f"true_{k}"]) for k in keys)
        out[f"precision_{kind}"] = correct / labelled if labelled else 0.0
        out[f"coverage_{kind}"] = correct / true if true else 0.0
    return out
