"""The dense CRF in torch (`crf.backend: gpu`) against pydensecrf (`cpu`): how many pixels' labels
agree, and the time per image of each.

    python benchmarks/bench_crf.py [--cityscapes 5] [--camvid 20] [--ckpt CAMVID_SEGMENTER.ckpt]
                                   [--device cuda] [--half N]

Images: the five real Cityscapes images of ../shared/data/cityscapes_real (1024x2048) and the first
`--camvid` validation images of data/camvid (360x480). Unaries: each image's true labels as a
network at output stride 8 would see them: one-hot train ids shrunk 8 times, logits 3 x one-hot
plus unit Gaussian noise, enlarged back and softmaxed (seeded per image); with `--ckpt`, the
CamVid images' unaries are that segmenter's softmax instead. Both CRFs run the options each data
set's runs use (conf/model/segmenter.yaml `crf`, the same as classifier.yaml's `cam_crf`; for
Cityscapes with experiment=cityscapes_segmenter's changes). Prints per data set: pixels whose
argmax agrees, each backend's label accuracy against the truth, and seconds per image of each."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsps.io import read_id_list, read_label_png  # noqa: E402
from wsps.labels import label_ids_to_train_ids  # noqa: E402
from wsps.models.crf import dense_crf, dense_crf_torch  # noqa: E402

REAL = Path(os.environ.get("WSPS_SHARED", REPO.parent / "shared")) / "data" / "cityscapes_real"
CAMVID = REPO / "data" / "camvid"
TARGET = 0.97


def crf_settings() -> dict[str, dict]:
    """Per data set, the CRF options its runs use: conf/model/segmenter.yaml's `crf` (the same as
    classifier.yaml's `cam_crf`), with the Cityscapes experiment's changes for Cityscapes."""
    default = OmegaConf.load(REPO / "conf" / "model" / "segmenter.yaml").crf
    cityscapes = OmegaConf.load(REPO / "conf" / "experiment" / "cityscapes_segmenter.yaml").model.crf
    settings = {"cityscapes_real": OmegaConf.merge(default, cityscapes), "camvid": default}
    return {
        name: {k: v for k, v in OmegaConf.to_container(s).items() if k != "backend"} for name, s in settings.items()
    }


def images(cityscapes: int, camvid: int) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per data set, (RGB image, train ids) pairs; 255 is ignored."""
    from PIL import Image

    sets = {}
    if REAL.exists() and cityscapes:
        pairs = []
        for path in sorted((REAL / "leftImg8bit").rglob("*_leftImg8bit.png"))[:cityscapes]:
            label = Path(str(path).replace("leftImg8bit", "gtFine").replace("_gtFine.png", "_gtFine_labelIds.png"))
            rgb = np.asarray(Image.open(path).convert("RGB"))
            pairs.append((rgb, label_ids_to_train_ids(np.asarray(Image.open(label)))))
        sets["cityscapes_real"] = pairs
    elif cityscapes:
        print(f"{REAL} not found: real Cityscapes images skipped")
    if CAMVID.exists() and camvid:
        pairs = []
        for image_id in read_id_list(CAMVID / "lists" / "val_id.txt")[:camvid]:
            city = image_id.split("_")[0]
            rgb = np.asarray(
                Image.open(CAMVID / "leftImg8bit" / "val" / city / f"{image_id}_leftImg8bit.png").convert("RGB")
            )
            pairs.append(
                (rgb, read_label_png(CAMVID / "gtFine" / "val" / city / f"{image_id}_gtFine_labelTrainIds.png"))
            )
        sets["camvid"] = pairs
    return sets


def label_unaries(label: np.ndarray, classes: int, seed: int) -> torch.Tensor:
    """(K, H, W) softmax of a stride-8 network that knows the labels, with noise."""
    generator = torch.Generator().manual_seed(seed)
    truth = torch.from_numpy(label.astype(np.int64))
    one_hot = F.one_hot(truth.clamp(max=classes - 1), classes).permute(2, 0, 1).float()
    one_hot[:, truth == 255] = 1 / classes
    small = F.interpolate(one_hot[None], scale_factor=1 / 8, mode="area")
    logits = 3 * small + torch.randn(small.shape, generator=generator)
    return F.interpolate(logits, size=label.shape, mode="bilinear", align_corners=False)[0].softmax(0)


def model_unaries(ckpt: Path, rgb: np.ndarray) -> torch.Tensor:
    from wsps.models.segmenter import PanopticSegmenter

    if not hasattr(model_unaries, "model"):
        model_unaries.model = PanopticSegmenter.load_from_checkpoint(ckpt, map_location="cpu").eval()
    image = torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255
    with torch.no_grad():
        return model_unaries.model(image)["sem"][0].float().softmax(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--camvid", type=int, default=20, help="CamVid validation images (0: none)")
    parser.add_argument("--ckpt", type=Path, help="a CamVid segmenter whose softmax gives CamVid's unaries")
    parser.add_argument("--cityscapes", type=int, default=5, help="real Cityscapes images (0: none)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--half", type=int, help="the torch CRF's offsets per side of the centre (default: its own)")
    args = parser.parse_args()
    settings = crf_settings()
    header = ("data", "images", "agree", "acc cpu", "acc torch", "s cpu", "s torch")
    print("{:<16} {:>6} {:>7} {:>8} {:>9} {:>7} {:>8}".format(*header))
    worst = 1.0
    for name, pairs in images(args.cityscapes, args.camvid).items():
        options = {**settings[name], "half": args.half} if args.half else settings[name]
        classes = 19 if name == "cityscapes_real" else 11
        agree = total = pixels = 0
        correct = {"cpu": 0, "torch": 0}
        seconds = {"cpu": 0.0, "torch": 0.0}
        for k, (rgb, label) in enumerate(pairs):
            probs = (
                model_unaries(args.ckpt, rgb) if args.ckpt and name == "camvid" else label_unaries(label, classes, k)
            )
            start = time.perf_counter()
            reference = dense_crf(probs.numpy(), rgb, **settings[name]).argmax(0)
            seconds["cpu"] += time.perf_counter() - start
            start = time.perf_counter()
            ours = dense_crf_torch(probs.to(args.device), torch.from_numpy(rgb.copy()).to(args.device), **options)
            ours = ours.argmax(0).cpu().numpy()
            seconds["torch"] += time.perf_counter() - start
            agree += int((reference == ours).sum())
            total += reference.size
            valid = label != 255
            pixels += int(valid.sum())
            correct["cpu"] += int((reference == label)[valid].sum())
            correct["torch"] += int((ours == label)[valid].sum())
        share = agree / total
        worst = min(worst, share)
        accuracy = {k: v / pixels for k, v in correct.items()}
        per_image = {k: v / len(pairs) for k, v in seconds.items()}
        print(
            f"{name:<16} {len(pairs):>6} {share:>7.4f} {accuracy['cpu']:>8.4f} "
            f"{accuracy['torch']:>9.4f} {per_image['cpu']:>7.2f} {per_image['torch']:>8.2f}"
        )
    print(f"lowest agreement {worst:.4f} (target >= {TARGET}): {'met' if worst >= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
