"""The image window a box is cut in: the box with context, brought to a working size."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from wsps.gt.boxes import Box


@dataclass(frozen=True)
class Window:
    """A box's context window in the image, and the box inside it at working scale."""

    rows: slice
    cols: slice
    scale: float  # working size / window size (at most 1: windows are only shrunk)
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 inclusive, in working coordinates
    size: tuple[int, int]  # working rows, cols

    def shrink(self, image: np.ndarray) -> np.ndarray:
        """The window's pixels at working size."""
        patch = image[self.rows, self.cols]
        if self.scale == 1:
            return patch
        return cv2.resize(patch, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)

    def expand(self, mask: np.ndarray) -> np.ndarray:
        """A working-size mask back at window size (nearest neighbour)."""
        if self.scale == 1:
            return mask.astype(bool)
        height, width = self.rows.stop - self.rows.start, self.cols.stop - self.cols.start
        return cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)

    def box_mask(self) -> np.ndarray:
        """The box at working size as a boolean mask."""
        mask = np.zeros(self.size, bool)
        x0, y0, x1, y1 = self.box
        mask[y0 : y1 + 1, x0 : x1 + 1] = True
        return mask


def box_window(box: Box, image_shape, margin: float, min_margin: int, max_side: int) -> Window:
    """The box grown by `margin` of its size on every side (at least `min_margin` pixels),
    clipped to the image, shrunk so that its longer side is at most `max_side`."""
    height, width = image_shape[:2]
    box_w, box_h = box.xmax - box.xmin + 1, box.ymax - box.ymin + 1
    mx, my = int(max(min_margin, margin * box_w)), int(max(min_margin, margin * box_h))
    x0, y0 = max(0, box.xmin - mx), max(0, box.ymin - my)
    x1, y1 = min(width, box.xmax + 1 + mx), min(height, box.ymax + 1 + my)
    scale = min(1.0, max_side / max(x1 - x0, y1 - y0))
    size = (max(1, round((y1 - y0) * scale)), max(1, round((x1 - x0) * scale)))
    bx0, by0 = int((box.xmin - x0) * scale), int((box.ymin - y0) * scale)
    bx1 = min(size[1] - 1, max(bx0, int(np.ceil((box.xmax + 1 - x0) * scale)) - 1))
    by1 = min(size[0] - 1, max(by0, int(np.ceil((box.ymax + 1 - y0) * scale)) - 1))
    return Window(slice(y0, y1), slice(x0, x1), scale, (bx0, by0, bx1, by1), size)
