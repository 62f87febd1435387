"""The embedded dataset: synthetic street scenes written in Cityscapes' layout.

    python -m wsps.data.synthetic data_root=D num_train=N num_val=M height=H width=W seed=S

Every image is a street drawn back to front (so nearer objects occlude farther ones): sky,
buildings with windows, walls and fences, trees, a road in perspective with its markings,
sidewalks, grass, poles with signs and lights, then cars (some parked touching), trucks,
buses, persons (some in crowds without instance ids), riders on bicycles and motorcycles.
Colours overlap on purpose across classes (a grey car on a grey road, green cars and
clothes by the trees) and every image gets its own lighting, colour cast, shadows and noise:
texture, shape and context separate the classes, not a pixel's colour. Labels use the
official Cityscapes ids; train ids come from cityscapesscripts' table, as for real data.
The same seed gives the same pixels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import hydra
import numpy as np
from cityscapesscripts.helpers.labels import name2label
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from wsps import CONFIG_DIR
from wsps.io import write_png, write_text
from wsps.labels import instance_ids_to_train_ids, label_ids_to_train_ids

log = logging.getLogger(__name__)

CITIES = {
    "train": ("avalon", "brookfield", "cedarton", "dunmore"),
    "val": ("eastwick", "fairhaven"),
    "train_extra": ("glenmoor", "harlow", "ironbridge"),
}
SPLIT_SEEDS = {"train": 0, "val": 1, "train_extra": 2}  # a split's pixels do not depend on the others' sizes
ID = {name: label.id for name, label in name2label.items()}

# Colour families; several classes draw from the same ones.
GREYS = [(90, 90, 92), (120, 118, 115), (150, 150, 148), (70, 72, 75), (180, 178, 172)]
WARM = [(170, 120, 90), (200, 170, 130), (150, 90, 70), (210, 190, 160), (120, 80, 60)]
GREENS = [(70, 110, 40), (100, 140, 50), (60, 90, 45), (130, 150, 70), (90, 120, 80)]
VIVID = [(200, 40, 40), (40, 70, 160), (230, 200, 40), (240, 240, 235), (30, 30, 35), (60, 130, 60), (150, 60, 150)]
# Coarse annotation (train_extra), in shares of the image width: the unlabelled margin along
# boundaries and the polygons' tolerance; and the share of regions left out.
COARSE_MARGIN, COARSE_TOLERANCE, COARSE_LEFT_OUT = 0.008, 0.01, 0.15
VOID_IDS = {label.id for label in name2label.values() if label.ignoreInEval and not label.hasInstances}
SKIN = [(230, 190, 160), (190, 140, 110), (120, 85, 60), (240, 210, 190)]


@dataclass
class Scene:
    """The three canvases of one image, painted together."""

    rgb: np.ndarray  # float32 HxWx3
    label: np.ndarray  # uint8 official label ids
    instance: np.ndarray  # uint16 official instance ids
    rng: np.random.Generator
    counts: dict

    @property
    def shape(self) -> tuple[int, int]:
        return self.label.shape

    def paint(self, mask: np.ndarray, name: str, texture: np.ndarray, instance: bool | None = None) -> None:
        """Paint `mask` with a class and texture; things get the next instance id of their class
        unless `instance=False` (a crowd: the bare label id, as Cityscapes' groups)."""
        label_id = ID[name]
        self.rgb[mask] = texture[mask]
        self.label[mask] = label_id
        if name2label[name].hasInstances and instance is not False:
            k = self.counts.get(name, 0)
            self.counts[name] = k + 1
            self.instance[mask] = label_id * 1000 + k
        else:
            self.instance[mask] = label_id


def _colour(rng: np.random.Generator, family, jitter: float = 18) -> np.ndarray:
    base = np.array(family[rng.integers(len(family))], dtype=np.float32)
    return np.clip(base + rng.normal(0, jitter, 3), 0, 255)


def texture(rng: np.random.Generator, shape, colour, amplitude: float, cell: float, colour2=None) -> np.ndarray:
    """A colour with smooth noise of feature size `cell` pixels (optionally blending to `colour2`)."""
    h, w = shape
    small = rng.normal(0, 1, (max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.float32)
    field = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.empty((h, w, 3), np.float32)
    out[:] = np.asarray(colour, np.float32)
    if colour2 is not None:
        t = np.clip(field * 0.5 + 0.5, 0, 1)[:, :, None]
        out = out * (1 - t) + np.asarray(colour2, np.float32) * t
    return out + field[:, :, None] * amplitude


def _mask(shape) -> np.ndarray:
    return np.zeros(shape, np.uint8)


def _poly(shape, points) -> np.ndarray:
    mask = _mask(shape)
    cv2.fillPoly(mask, [np.round(np.asarray(points)).astype(np.int32)], 1)
    return mask.astype(bool)


def _rect(shape, x0, y0, x1, y1) -> np.ndarray:
    mask = np.zeros(shape, bool)
    h, w = shape
    x0, x1 = int(max(0, round(x0))), int(min(w, round(x1)))
    y0, y1 = int(max(0, round(y0))), int(min(h, round(y1)))
    if x1 > x0 and y1 > y0:
        mask[y0:y1, x0:x1] = True
    return mask


def _ellipse(shape, cx, cy, rx, ry) -> np.ndarray:
    mask = _mask(shape)
    cv2.ellipse(
        mask, (int(round(cx)), int(round(cy))), (max(1, int(round(rx))), max(1, int(round(ry)))), 0, 0, 360, 1, -1
    )
    return mask.astype(bool)


# ----------------------------------------------------------------------------- stuff


def draw_background(s: Scene, horizon: float, vanish_x: float) -> dict:
    """Sky, buildings, walls, fences, trees, road, sidewalks, grass; returns the ground geometry."""
    rng, (h, w) = s.rng, s.shape
    rows, cols = np.mgrid[0:h, 0:w]
    sky_top = _colour(rng, [(70, 130, 200), (160, 170, 185), (230, 170, 130), (120, 160, 215)], 12)
    sky = texture(rng, (h, w), sky_top, 6, h / 3, colour2=np.clip(sky_top + 50, 0, 255))
    s.paint(_rect((h, w), 0, 0, w, h), "sky", sky)
    for _ in range(rng.integers(0, 4)):  # clouds: still sky
        cloud = _ellipse(
            (h, w),
            rng.uniform(0, w),
            rng.uniform(0, horizon * 0.6),
            rng.uniform(0.05, 0.15) * w,
            rng.uniform(0.02, 0.06) * h,
        )
        s.paint(cloud, "sky", texture(rng, (h, w), _colour(rng, GREYS + [(235, 235, 240)]), 10, 3))

    # buildings along the horizon, with gaps of sky
    x = rng.uniform(-0.1, 0.05) * w
    while x < w:
        bw = rng.uniform(0.08, 0.3) * w
        if rng.random() < 0.85:
            top = horizon - rng.uniform(0.12, 0.45) * h
            facade = texture(rng, (h, w), _colour(rng, GREYS + WARM, 15), 8, 2.5)
            mask = _rect((h, w), x, top, x + bw, horizon + 0.04 * h)
            win_w, win_h = max(2.0, 0.018 * w), max(2.0, 0.03 * h)
            pitch_x, pitch_y = win_w * rng.uniform(1.8, 2.8), win_h * rng.uniform(1.8, 2.6)
            windows = (
                mask
                & (((cols - x) % pitch_x) < win_w)
                & (((rows - top) % pitch_y) < win_h)
                & (rows < horizon - 0.02 * h)
            )
            glass = _colour(rng, [(40, 50, 70), (120, 150, 180), (200, 200, 170)], 10)
            facade[windows] = glass
            s.paint(mask, "building", facade)
        x += bw
    # trees in front of the buildings
    for _ in range(rng.integers(1, 5)):
        cx, base = rng.uniform(0, w), horizon + rng.uniform(0.0, 0.06) * h
        crown_r = rng.uniform(0.05, 0.12) * w
        leaves = texture(rng, (h, w), _colour(rng, GREENS + [(150, 130, 50)], 15), 25, 1.2)
        trunk = _rect((h, w), cx - 0.008 * w, base - 0.25 * h, cx + 0.008 * w, base)
        s.paint(trunk, "vegetation", texture(rng, (h, w), (90, 70, 50), 10, 2))
        for _ in range(rng.integers(2, 5)):
            blob = _ellipse(
                (h, w),
                cx + rng.normal(0, crown_r * 0.4),
                base - 0.25 * h + rng.normal(0, crown_r * 0.3),
                crown_r,
                crown_r * rng.uniform(0.6, 1.0),
            )
            s.paint(blob, "vegetation", leaves)

    # ground: grass or sidewalk everywhere below the horizon, then sidewalks and the road
    ground = _rect((h, w), 0, horizon, w, h)
    road_left, road_right = rng.uniform(-0.35, 0.15) * w, rng.uniform(0.85, 1.35) * w
    walk = rng.uniform(0.12, 0.3) * w
    tiles = texture(rng, (h, w), _colour(rng, WARM + GREYS, 15), 6, 6)
    tile = max(2, int(0.025 * w))
    tiles[((rows % tile) == 0) | ((cols % tile) == 0)] *= 0.75
    if rng.random() < 0.5:
        s.paint(ground, "terrain", texture(rng, (h, w), _colour(rng, GREENS + WARM[:2], 15), 14, 4))
    else:  # a paved square
        s.paint(ground, "sidewalk", tiles)
    for outer, inner in ((road_left - walk, road_left), (road_right, road_right + walk)):
        s.paint(_poly((h, w), [(vanish_x, horizon), (outer, h), (inner, h)]) & ground, "sidewalk", tiles)
    asphalt = texture(rng, (h, w), _colour(rng, GREYS[:4], 10), 10, 1.0)
    road = _poly((h, w), [(vanish_x - 1, horizon), (vanish_x + 1, horizon), (road_right, h), (road_left, h)]) & ground
    t = np.clip((rows - horizon) / max(1.0, h - horizon), 0, 1)  # 0 at the horizon, 1 at the bottom
    centre_x = vanish_x + ((road_left + road_right) / 2 - vanish_x) * t
    centre = np.abs(cols - centre_x) < 0.002 * w + 0.01 * w * t
    dashes = centre & ((np.sqrt(t) * 12).astype(int) % 2 == 0)
    asphalt[dashes] = _colour(rng, [(230, 230, 225), (230, 200, 60)], 8)
    s.paint(road, "road", asphalt)
    if rng.random() < 0.4:  # a wall or a fence along the far edge of a sidewalk
        x0 = rng.uniform(0, 0.7) * w
        y1 = horizon + rng.uniform(0.02, 0.08) * h
        mask = _rect((h, w), x0, y1 - rng.uniform(0.04, 0.1) * h, x0 + rng.uniform(0.15, 0.35) * w, y1)
        if rng.random() < 0.5:
            s.paint(mask, "wall", texture(rng, (h, w), _colour(rng, GREYS + WARM), 8, 3))
        else:
            bars = texture(rng, (h, w), _colour(rng, GREYS + GREENS), 6, 3)
            bars[(cols % max(2, int(0.012 * w))) == 0] *= 0.5
            s.paint(mask, "fence", bars)
    return {"horizon": horizon, "vanish_x": vanish_x, "road_left": road_left, "road_right": road_right, "walk": walk}


def draw_street_furniture(s: Scene, g: dict) -> None:
    """Poles with traffic signs and lights on the sidewalks: thin and small objects."""
    rng, (h, w) = s.rng, s.shape
    for _ in range(rng.integers(1, 5)):
        side = rng.choice([-1, 1])
        depth = rng.uniform(0.1, 1.0)  # 0 at the horizon, 1 at the bottom row
        y = g["horizon"] + depth * (h - g["horizon"])
        edge = g["road_left"] if side < 0 else g["road_right"]
        x = g["vanish_x"] + (edge - g["vanish_x"]) * depth + side * 0.3 * g["walk"] * depth
        height, half = (0.15 + 0.45 * depth) * h, max(0.5, 0.004 * w * (0.5 + depth))
        metal = texture(rng, (h, w), _colour(rng, GREYS), 5, 2)
        s.paint(_rect((h, w), x - half, y - height, x + half + 1, y), "pole", metal)
        size = max(2.0, 0.03 * w * (0.4 + depth))
        if rng.random() < 0.6:
            sign = _colour(rng, [(200, 30, 30), (30, 60, 170), (235, 235, 230), (230, 190, 30)], 10)
            shape = (
                _ellipse((h, w), x, y - height, size / 2, size / 2)
                if rng.random() < 0.5
                else _poly(
                    (h, w),
                    [
                        (x - size / 2, y - height + size / 2),
                        (x + size / 2, y - height + size / 2),
                        (x, y - height - size / 2),
                    ],
                )
            )
            s.paint(shape, "traffic sign", texture(rng, (h, w), sign, 4, 2))
        else:
            box = texture(rng, (h, w), (30, 30, 30), 4, 2)
            lamp = _ellipse((h, w), x, y - height + size * 0.4, size * 0.25, size * 0.25)
            box[lamp] = _colour(rng, [(230, 40, 30), (250, 190, 40), (40, 220, 90)], 5)
            s.paint(
                _rect((h, w), x - size / 3, y - height - size * 0.3, x + size / 3, y - height + size * 0.9),
                "traffic light",
                box,
            )


# ----------------------------------------------------------------------------- things


def _car_mask(shape, x, y, cw, ch):
    body = _rect(shape, x, y - ch * 0.55, x + cw, y - ch * 0.1)
    cabin = _poly(
        shape,
        [
            (x + cw * 0.18, y - ch * 0.55),
            (x + cw * 0.3, y - ch),
            (x + cw * 0.75, y - ch),
            (x + cw * 0.88, y - ch * 0.55),
        ],
    )
    wheels = _ellipse(shape, x + cw * 0.2, y - ch * 0.12, cw * 0.1, ch * 0.13) | _ellipse(
        shape, x + cw * 0.8, y - ch * 0.12, cw * 0.1, ch * 0.13
    )
    return body | cabin | wheels, cabin, wheels


def draw_vehicle(s: Scene, x: float, y: float, scale: float, kind: str) -> None:
    rng, shape = s.rng, s.shape
    h, w = shape
    if kind == "car":
        cw, ch = 0.2 * w * scale, 0.13 * h * scale * rng.uniform(0.9, 1.15)
        mask, cabin, wheels = _car_mask(shape, x, y, cw, ch)
        paint = texture(rng, shape, _colour(rng, VIVID + GREYS + GREENS, 10), 5, 6)
    else:
        cw, ch = (0.32 if kind == "truck" else 0.4) * w * scale, (0.3 if kind == "truck" else 0.28) * h * scale
        mask = _rect(shape, x, y - ch, x + cw, y - ch * 0.08)
        cabin = (
            _rect(shape, x + cw * 0.05, y - ch * 0.9, x + cw * 0.95, y - ch * 0.6)
            if kind == "bus"
            else _rect(shape, x + cw * 0.72, y - ch * 0.9, x + cw * 0.95, y - ch * 0.55)
        )
        wheels = _ellipse(shape, x + cw * 0.15, y - ch * 0.08, cw * 0.06, ch * 0.09) | _ellipse(
            shape, x + cw * 0.85, y - ch * 0.08, cw * 0.06, ch * 0.09
        )
        mask |= wheels
        paint = texture(rng, shape, _colour(rng, VIVID + WARM, 10), 5, 8)
    paint[cabin] = _colour(rng, [(40, 50, 65), (90, 110, 130)], 8)
    paint[wheels] = (25, 25, 25)
    s.paint(mask, kind, paint)


def _person_mask(shape, x, y, ph, rng):
    pw = ph * 0.3
    head = _ellipse(shape, x, y - ph * 0.9, pw * 0.28, ph * 0.09)
    torso = _rect(shape, x - pw * 0.4, y - ph * 0.8, x + pw * 0.4, y - ph * 0.42)
    stride = rng.uniform(0, 0.25) * pw
    legs = _poly(
        shape,
        [(x - pw * 0.35, y - ph * 0.45), (x - pw * 0.05, y - ph * 0.45), (x - stride, y), (x - stride - pw * 0.25, y)],
    )
    legs |= _poly(
        shape,
        [(x + pw * 0.05, y - ph * 0.45), (x + pw * 0.35, y - ph * 0.45), (x + stride + pw * 0.25, y), (x + stride, y)],
    )
    return head, torso, legs


def draw_person(s: Scene, x: float, y: float, scale: float, name: str = "person", instance: bool | None = None) -> None:
    rng, shape = s.rng, s.shape
    ph = 0.3 * shape[0] * scale * rng.uniform(0.85, 1.15)
    head, torso, legs = _person_mask(shape, x, y, ph, rng)
    paint = texture(rng, shape, _colour(rng, VIVID + GREENS + GREYS + WARM, 15), 8, 3)
    paint[legs] = _colour(rng, [(40, 40, 60), (60, 60, 60), (90, 70, 50), (30, 30, 30)], 10)
    paint[head] = _colour(rng, SKIN, 10)
    s.paint(head | torso | legs, name, paint, instance)


def draw_two_wheeler(s: Scene, x: float, y: float, scale: float, kind: str) -> None:
    """A bicycle or motorcycle (thin frame, ring wheels) and its rider."""
    rng, shape = s.rng, s.shape
    h, w = shape
    bw = 0.12 * w * scale
    r = bw * 0.22
    frame = _mask(shape)
    thick = max(1, int(round(0.004 * w * scale * (2.5 if kind == "motorcycle" else 1))))
    for cx in (x + r, x + bw - r):
        cv2.circle(frame, (int(round(cx)), int(round(y - r))), max(1, int(round(r))), 1, thick)
    pts = [(x + r, y - r), (x + bw * 0.45, y - r * 2.2), (x + bw - r, y - r), (x + bw * 0.45, y - r)]
    cv2.polylines(frame, [np.round(np.array(pts)).astype(np.int32)], True, 1, thick)
    mask = frame.astype(bool)
    if kind == "motorcycle":
        mask |= _ellipse(shape, x + bw * 0.5, y - r * 1.6, bw * 0.25, r * 0.6)
    draw_person(s, x + bw * 0.45, y - r * 1.2, scale * 0.85, name="rider")
    s.paint(mask, kind, texture(rng, shape, _colour(rng, VIVID + GREYS, 10), 6, 4))


def draw_things(s: Scene, g: dict, object_scale: float = 1.0) -> None:
    """Things at random depths, far ones first so that near ones occlude them; `object_scale`
    enlarges every thing about its foot (sizes and spacings; positions and counts stay)."""
    rng, (h, w) = s.rng, s.shape
    objects = []
    for _ in range(rng.integers(2, 9)):
        depth = rng.uniform(0.08, 1.0)
        kind = rng.choice(
            ["car", "car", "car", "parked", "person", "person", "crowd", "bicycle", "motorcycle", "truck", "bus"],
            p=[0.17, 0.17, 0.1, 0.12, 0.14, 0.1, 0.04, 0.07, 0.03, 0.03, 0.03],
        )
        objects.append((depth, kind, rng.uniform(-0.1, 1.0) * w))
    for depth, kind, x in sorted(objects, key=lambda o: o[0]):
        y = g["horizon"] + depth * (h - g["horizon"]) + 1
        scale = (0.25 + 0.9 * depth) * object_scale
        if kind in ("car", "truck", "bus"):
            draw_vehicle(s, x, y, scale, kind)
        elif kind == "parked":  # a row of touching cars
            cw = 0.2 * w * scale
            for k in range(rng.integers(2, 4)):
                draw_vehicle(s, x + k * cw * 0.98, y, scale, "car")
        elif kind == "person":
            draw_person(s, x, y, scale)
        elif kind == "crowd":  # persons labelled as a group, no instance ids
            for k in range(rng.integers(3, 6)):
                draw_person(s, x + k * 0.04 * w * scale, y + rng.normal(0, 0.01 * h), scale, instance=False)
        else:
            draw_two_wheeler(s, x, y, scale, kind)


# ----------------------------------------------------------------------------- one image


def render(height: int, width: int, seed: int, object_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scene: RGB (uint8 HxWx3), official label ids (uint8), official instance ids (uint16).
    `object_scale` multiplies the things' sizes; the background is the same whatever it is."""
    rng = np.random.default_rng(seed)
    s = Scene(
        np.zeros((height, width, 3), np.float32),
        np.zeros((height, width), np.uint8),
        np.zeros((height, width), np.uint16),
        rng,
        {},
    )
    horizon = height * rng.uniform(0.33, 0.5)
    g = draw_background(s, horizon, width * rng.uniform(0.3, 0.7))
    draw_street_furniture(s, g)
    draw_things(s, g, object_scale)
    if rng.random() < 0.25:  # the ego vehicle's bonnet: void
        bonnet = _ellipse(s.shape, width / 2, height * 1.08, width * 0.6, height * rng.uniform(0.08, 0.14))
        s.paint(bonnet, "ego vehicle", texture(rng, s.shape, _colour(rng, VIVID + GREYS), 4, 10))
    # lighting: brightness, colour cast, a shadow across the ground, sensor noise
    rows = np.arange(height, dtype=np.float32)[:, None, None]
    light = rng.uniform(0.6, 1.25) * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    rgb = s.rgb * light
    if rng.random() < 0.6:
        x0, x1 = sorted(rng.uniform(0, width, 2))
        shadow = _poly(s.shape, [(x0, horizon), (x1, horizon), (x1 + width * 0.4, height), (x0 - width * 0.2, height)])
        rgb[shadow] *= rng.uniform(0.45, 0.75)
    rgb *= 1 + 0.1 * (rows / height - 0.5) * rng.normal()
    rgb += rng.normal(0, rng.uniform(2, 8), rgb.shape).astype(np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8), s.label, s.instance


def coarse_annotation(
    label_ids: np.ndarray, instance_ids: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A coarse annotation of a fine one, drawn as Cityscapes' `gtCoarse` is: each region (a thing
    instance or crowd, a connected part of a stuff class) as one rough polygon inside it, never
    touching another region, so that an unlabelled margin runs along every boundary; some regions
    are left out (a share at random, and those too thin to hold a polygon: poles, distant people).
    Never a wrong label: what is labelled has its fine label, so the coarse map trades recall for
    precision.

    Args:
        label_ids: (H, W) uint8 official label ids.
        instance_ids: (H, W) uint16 official instance ids.

    Returns:
        The coarse (label ids, instance ids), 0 (`unlabeled`) where nothing is drawn.
    """
    h, w = label_ids.shape
    margin = max(1, int(round(COARSE_MARGIN * w)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    coarse_labels, coarse_instances = np.zeros_like(label_ids), np.zeros_like(instance_ids)
    for value in np.unique(instance_ids):
        if value == 0 or value in VOID_IDS:
            continue
        count, parts = cv2.connectedComponents((instance_ids == value).astype(np.uint8), connectivity=8)
        for part in range(1, count):
            region = (parts == part).astype(np.uint8)
            inner = cv2.erode(region, kernel)
            if rng.random() < COARSE_LEFT_OUT or np.count_nonzero(inner) < margin * margin * 4:
                continue
            contours, _ = cv2.findContours(inner, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            polygons = [cv2.approxPolyDP(c, COARSE_TOLERANCE * w, True) for c in contours]
            drawn = np.zeros((h, w), np.uint8)
            cv2.fillPoly(drawn, polygons, 1)
            drawn = (drawn & cv2.erode(region, np.ones((3, 3), np.uint8))).astype(bool)
            coarse_labels[drawn] = label_ids[drawn]
            coarse_instances[drawn] = value
    return coarse_labels, coarse_instances


def write_image(
    data_root: Path, split: str, image_id: str, seed: int, height: int, width: int, object_scale: float = 1.0
) -> None:
    """Render one image and write its five files in Cityscapes' layout: fine labels (`gtFine`),
    or for `train_extra` coarse ones (`gtCoarse`), as Cityscapes has."""
    rgb, label_ids, instance_ids = render(height, width, seed, object_scale)
    city = image_id.split("_", 1)[0]
    write_png(data_root / "leftImg8bit" / split / city / f"{image_id}_leftImg8bit.png", rgb)
    gt_kind = "gtFine"
    if split == "train_extra":
        gt_kind = "gtCoarse"
        label_ids, instance_ids = coarse_annotation(label_ids, instance_ids, np.random.default_rng([seed, 1]))
    gt = data_root / gt_kind / split / city / f"{image_id}_{gt_kind}_"
    write_png(f"{gt}labelIds.png", label_ids)
    write_png(f"{gt}instanceIds.png", instance_ids)
    write_png(f"{gt}labelTrainIds.png", label_ids_to_train_ids(label_ids))
    write_png(f"{gt}instanceTrainIds.png", instance_ids_to_train_ids(instance_ids))


#: The file in a generated data root that records what it was drawn with (`drawn_with`).
DRAWN_WITH = "synthetic.yaml"
DRAWING_KEYS = ("height", "width", "object_scale", "seed")


def drawing_differences(data_root: Path, cfg: DictConfig) -> list[str] | None:
    """How the data in `data_root` was drawn otherwise than the generator's config `cfg` says, as
    `key=on disk (config: value)`; None where the folder holds no record (not generated by wsps, or
    by a version before the record)."""
    path = Path(data_root) / DRAWN_WITH
    if not path.exists():
        return None
    record = OmegaConf.load(path)
    return [f"{k}={record.get(k)} (config: {cfg[k]})" for k in DRAWING_KEYS if record.get(k) != cfg[k]]


def image_ids(split: str, count: int) -> list[str]:
    """Cityscapes-style ids `<city>_<6 digits>_<6 digits>`, cities taking turns."""
    cities = CITIES[split]
    return [f"{cities[k % len(cities)]}_{k:06d}_000019" for k in range(count)]


def generate(
    data_root: Path,
    num_train: int,
    num_val: int,
    height: int,
    width: int,
    seed: int,
    num_train_extra: int = 0,
    splits: tuple[str, ...] | None = None,
    object_scale: float = 1.0,
) -> dict[str, list[str]]:
    """Write the dataset (only `splits` where given); image `k` of a split always gets the same
    pixels for a seed, whatever the other splits' sizes."""
    counts = {"train": num_train, "val": num_val, "train_extra": num_train_extra}
    settings = dict(zip(DRAWING_KEYS, (height, width, float(object_scale), seed)))
    write_text(Path(data_root) / DRAWN_WITH, OmegaConf.to_yaml(OmegaConf.create(settings)))
    written = {}
    for split, count in counts.items():
        if (splits is not None and split not in splits) or (split == "train_extra" and count == 0):
            continue
        ids = image_ids(split, count)
        for k, image_id in enumerate(tqdm(ids, desc=f"synthetic {split}", unit="img", disable=None)):
            write_image(
                data_root,
                split,
                image_id,
                seed * 1_000_003 + SPLIT_SEEDS[split] * 100_003 + k,
                height,
                width,
                object_scale,
            )
        write_text(data_root / "lists" / f"{split}_id.txt", "".join(f"{i}\n" for i in ids))
        written[split] = ids
    return written


def generate_from_config(
    data_root: Path, cfg: DictConfig, splits: tuple[str, ...] | None = None
) -> dict[str, list[str]]:
    """`generate` with the sizes and seed of a composed `synthetic` config."""
    return generate(
        data_root,
        int(cfg.num_train),
        int(cfg.num_val),
        int(cfg.height),
        int(cfg.width),
        int(cfg.seed),
        int(cfg.num_train_extra),
        splits,
        float(cfg.object_scale),
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="synthetic")
def main(cfg: DictConfig) -> None:
    for name in ("num_train", "num_val", "num_train_extra", "height", "width"):
        if int(cfg[name]) < (0 if name.startswith("num") else 32):
            raise SystemExit(f"{name}={cfg[name]}: must be {'>= 0' if name.startswith('num') else '>= 32 pixels'}")
    root = Path(to_absolute_path(cfg.data_root))
    written = generate_from_config(root, cfg)
    log.info("wrote %s into %s", ", ".join(f"{len(v)} {k}" for k, v in written.items()), root)


if __name__ == "__main__":
    main()
