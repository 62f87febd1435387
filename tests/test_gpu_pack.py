"""The GPU machine's pack (benchmarks/gpu_pack.py): images go as JPEG and come back as PNG under
their own names, labels travel byte for byte, `--limit` keeps each kept image's labels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from benchmarks.gpu_pack import labels_of, pack_data, pinned, unpack


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def _shared(root: Path) -> dict[str, np.ndarray]:
    """A small ../shared: CamVid (images and annotations by the same name) and a Cityscapes root."""
    rng = np.random.default_rng(0)
    images = {}
    y, x = np.mgrid[:36, :48]
    for split in ("train", "val"):
        for k in range(3):
            name = f"0001TP_00{k}{split}"
            smooth = np.stack([(x * 5 + k) % 256, (y * 7) % 256, (x + y) % 256], axis=-1).astype(np.uint8)
            images[f"camvid/{split}/{name}"] = smooth
            _png(root / f"data/camvid/{split}/{name}.png", smooth)
            _png(root / f"data/camvid/{split}annot/{name}.png", rng.integers(0, 12, (36, 48), dtype=np.uint8))
    (root / "data/camvid/README.md").write_text("CamVid")
    city = "data/cityscapes_real"
    for frame in ("000019", "000020"):
        stem = f"aachen_000000_{frame}"
        image = np.full((32, 64, 3), 90, np.uint8)
        images[f"cityscapes_real/leftImg8bit/train/aachen/{stem}_leftImg8bit"] = image
        _png(root / f"{city}/leftImg8bit/train/aachen/{stem}_leftImg8bit.png", image)
        _png(root / f"{city}/gtFine/train/aachen/{stem}_gtFine_labelIds.png", np.full((32, 64), 7, np.uint8))
    return images


def test_the_pack_carries_images_as_jpeg_and_labels_as_they_are(tmp_path):
    images = _shared(tmp_path / "shared")
    pack = tmp_path / "pack"
    pack_data(tmp_path / "shared", pack, quality=95, workers=1)
    packed = sorted(p.relative_to(pack / "shared/data").as_posix() for p in pack.rglob("*") if p.is_file())
    assert len(packed) == 3 * 2 * 2 + 1 + 2 * 2  # CamVid images and labels, its README, Cityscapes'
    assert sum(p.endswith(".jpg") for p in packed) == len(images) == 8
    assert "camvid/trainannot/0001TP_001train.png" in packed  # labels stay PNG

    count = unpack(pack, tmp_path / "dest", workers=1)
    assert count == 8
    for name, array in images.items():
        decoded = cv2.imread(str(tmp_path / f"dest/data/{name}.png"))
        assert decoded.shape == array.shape and np.abs(decoded.astype(int) - array).mean() < 3
    for label in (tmp_path / "shared/data").rglob("*annot/*.png"):
        back = tmp_path / "dest/data" / label.relative_to(tmp_path / "shared/data")
        assert back.read_bytes() == label.read_bytes()
    assert not list((tmp_path / "dest").rglob("*.jpg")) and not list((tmp_path / "dest").rglob("*.tmp"))


def test_a_limited_pack_keeps_the_labels_of_its_images(tmp_path):
    _shared(tmp_path / "shared")
    pack_data(tmp_path / "shared", tmp_path / "pack", quality=95, workers=1, limit=1)
    files = sorted(p.name for p in (tmp_path / "pack").rglob("*") if p.is_file())
    assert files == sorted(
        ["README.md", "0001TP_000train.jpg", "0001TP_000train.png", "0001TP_000val.jpg", "0001TP_000val.png"]
        + ["aachen_000000_000019_leftImg8bit.jpg", "aachen_000000_000019_gtFine_labelIds.png"]
    )
    assert labels_of("aachen_000000_000019_gtFine_labelIds", {"aachen_000000_000019_leftImg8bit"})
    assert not labels_of("aachen_000000_000020_gtFine_labelIds", {"aachen_000000_000019_leftImg8bit"})


def test_versions_come_from_the_constraints():
    assert pinned("hydra-core") == "hydra-core==1.3.8"
    assert pinned("pydensecrf2") == "pydensecrf2==1.1"
