"""File I/O at the edges: label PNGs, MATLAB score maps, id lists, atomic writes.

Every reader turns a missing, truncated or malformed file into an `InputError` that names the
file and the problem, so that a caller can report one clear line per image and go on.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image, UnidentifiedImageError

from wsps.labels import PALETTE


class ConfigError(ValueError):
    """An option value a job cannot run with; raised before any input is touched."""


class InputError(Exception):
    """A problem with one input file: the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str = ""):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    A crash or an exception never leaves a half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _open_image(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except UnidentifiedImageError:
        raise InputError(path, "not a readable image (corrupt or not a PNG)") from None
    except (OSError, SyntaxError, ValueError, zlib.error) as err:
        raise InputError(path, f"cannot decode image ({err}); the file is truncated or corrupt") from None
    return image


def read_label_png(path: str | os.PathLike) -> np.ndarray:
    """Read an 8-bit label map (palette indices or grey values) as a HxW uint8 array."""
    path = Path(path)
    image = _open_image(path)
    if image.mode not in ("P", "L"):
        raise InputError(
            path, f"expected a single-channel 8-bit label map (palette or grey PNG), got mode {image.mode}"
        )
    return np.array(image, dtype=np.uint8)


def read_uint16_png(path: str | os.PathLike) -> np.ndarray:
    """Read a 16-bit single-channel PNG (Cityscapes `*instanceIds.png`) as a HxW uint16 array."""
    path = Path(path)
    image = _open_image(path)
    if image.mode not in ("I;16", "I;16B", "I;16L", "I", "L", "P"):
        raise InputError(path, f"expected a single-channel 16-bit PNG, got mode {image.mode}")
    array = np.asarray(image)
    if array.min(initial=0) < 0 or array.max(initial=0) > np.iinfo(np.uint16).max:
        raise InputError(path, "values outside the 16-bit range")
    return array.astype(np.uint16, copy=False)


def read_score_mat(path: str | os.PathLike) -> np.ndarray:
    """Read the first variable of a MATLAB .mat file (whatever its name) as a 2-D float array.

    The released files hold `feat`, an HxW float32 map of the winning class's softmax score.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        variables = scipy.io.loadmat(path)
    except NotImplementedError:
        raise InputError(path, "MATLAB v7.3 (HDF5) files are not supported; save with -v7") from None
    except Exception as err:  # scipy raises ValueError, TypeError, OSError, zlib.error... on bad files
        raise InputError(path, f"cannot read MAT-file ({type(err).__name__}: {err}); truncated or corrupt") from None
    names = [name for name in variables if not name.startswith("__")]
    if not names:
        raise InputError(path, "the MAT-file holds no variable")
    scores = variables[names[0]]
    if not isinstance(scores, np.ndarray) or scores.ndim != 2 or scores.dtype.kind not in "fiu":
        raise InputError(path, f"variable '{names[0]}' is not a 2-D numeric score map")
    return scores


def write_png(path: str | os.PathLike, array: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write an array as a PNG, atomically: a palette PNG when `palette` is given (uint8 labels),
    else grey (uint8), 16-bit grey (uint16) or RGB (HxWx3 uint8).

    A palette image gets its full 256-entry palette before saving: Pillow saves a palette image
    made without one with its indices destroyed.
    """
    array = np.ascontiguousarray(array)
    if palette is not None:
        if array.dtype != np.uint8 or array.ndim != 2:
            raise ValueError(f"a palette PNG needs a 2-D uint8 array, got {array.ndim}-D {array.dtype}")
        image = Image.frombytes("P", (array.shape[1], array.shape[0]), array.tobytes())
        image.putpalette(np.asarray(palette, dtype=np.uint8).tobytes())
    elif array.dtype in (np.uint8, np.uint16) and (array.ndim == 2 or array.shape[2:] == (3,)):
        image = Image.fromarray(array)
    else:
        raise ValueError(f"cannot write a {array.dtype} array of shape {array.shape} as a PNG")
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def write_label_png(path: str | os.PathLike, label: np.ndarray) -> None:
    """Write a uint8 train-id (or instance-id) map as a palette PNG with the Cityscapes colours."""
    write_png(path, label, PALETTE)


def write_score_mat(path: str | os.PathLike, scores: np.ndarray, name: str = "feat") -> None:
    """Write a score map as the release does: a MAT-file whose variable `feat` is float32, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            scipy.io.savemat(handle, {name: np.asarray(scores, dtype=np.float32)}, do_compression=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_id_list(path: str | os.PathLike) -> list[str]:
    """Read image ids, one per line; Windows line endings, a BOM and blank lines are tolerated."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, "id list not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read id list ({err})") from None
    ids = [line.strip() for line in text.splitlines()]
    ids = [image_id for image_id in ids if image_id]
    if not ids:
        raise InputError(path, "the id list is empty")
    bad = [image_id for image_id in ids if any(c.isspace() or c in "/\\" for c in image_id)]
    if bad:
        raise InputError(path, f"not an image id (one id per line, no spaces or slashes): {bad[0]!r}")
    return ids
