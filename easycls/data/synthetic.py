"""A small synthetic "hand gesture" picture data set, drawn with PIL.

The bundled demo data and the tests need pictures that cost no download, come
out byte-identical on every machine for a given seed, and are easy enough for
a tiny CNN to learn in a few epochs but not in one. Each picture is a grayscale
hand silhouette (palm, wrist, fingers) at a random angle, size, position,
finger length and gray level, with a little noise and sometimes a little blur.
"""
import zlib
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .lists import write_list

CLASSES = ("paper", "rock", "scissors")

Point = Tuple[float, float]


@dataclass(frozen=True)
class _Finger:
    """Where a finger leaves the palm and how it points, in hand units, y pointing down."""

    base: Point
    angle: float   # degrees from straight up, positive towards the little finger
    length: float
    radius: float


# One hand, palm towards the viewer, thumb on the left; the palm is about 0.7 units wide.
_FINGERS = (
    _Finger(base=(-0.27, 0.10), angle=-55.0, length=0.42, radius=0.095),  # thumb
    _Finger(base=(-0.22, -0.12), angle=-14.0, length=0.56, radius=0.080),  # index
    _Finger(base=(-0.075, -0.17), angle=-2.0, length=0.62, radius=0.080),  # middle
    _Finger(base=(0.075, -0.16), angle=7.0, length=0.57, radius=0.078),    # ring
    _Finger(base=(0.21, -0.10), angle=18.0, length=0.45, radius=0.072),    # little
)
_PALM_CENTRE, _PALM_RADII = (0.0, 0.10), (0.33, 0.36)
_WRIST = ((-0.22, 0.30), (0.22, 0.30), (0.20, 1.60), (-0.20, 1.60))
# The point of the hand that lands near the middle of the picture.
_ANCHOR = (0.0, -0.08)

# Extended fingers (thumb, index, middle, ring, little) and extra spread in degrees.
_GESTURES = {
    "paper": ((1, 1, 1, 1, 1), 4.0),
    "rock": ((0, 0, 0, 0, 0), 0.0),
    "scissors": ((0, 1, 1, 0, 0), 16.0),
}
# Shapes for class names beyond the gestures, the easiest to tell apart first.
_EXTRA_SHAPES = {
    "one": ((0, 1, 0, 0, 0), 0.0),
    "thumb": ((1, 0, 0, 0, 0), 0.0),
    "three": ((0, 1, 1, 1, 0), 6.0),
    "horns": ((0, 1, 0, 0, 1), 0.0),
    "four": ((0, 1, 1, 1, 1), 4.0),
    "call": ((1, 0, 0, 0, 1), 0.0),
    "gun": ((1, 1, 0, 0, 0), 0.0),
}
Shape = Tuple[Tuple[int, ...], float]

_SUPERSAMPLE = 4  # drawn this many times larger, then averaged down, for smooth edges
_SPLITS = (("training_set", 0), ("val_set", 1), ("test_set", 2))


def _all_shapes() -> List[Shape]:
    """Every shape in a fixed order: named ones first, then the remaining finger sets."""
    named = list(_GESTURES.values()) + list(_EXTRA_SHAPES.values())
    taken = {fingers for fingers, _ in named}
    rest = [(fingers, 4.0) for fingers in product((0, 1), repeat=5) if fingers not in taken]
    return named + rest


def _shape_of(name: str) -> Shape:
    """The shape drawn for a name; unknown names get one picked by a stable hash."""
    if name in _GESTURES:
        return _GESTURES[name]
    if name in _EXTRA_SHAPES:
        return _EXTRA_SHAPES[name]
    extras = _all_shapes()[len(_GESTURES):]
    return extras[zlib.crc32(name.encode("utf-8")) % len(extras)]


def _shapes_for(classes: Sequence[str]) -> Dict[str, Shape]:
    """A different shape for every class; unknown names take the next unused shape in order.

    A hash alone could give two classes the same shape, and then no model could
    tell them apart.
    """
    known = {name: _shape_of(name) for name in classes
             if name in _GESTURES or name in _EXTRA_SHAPES}
    free = [shape for shape in _all_shapes() if shape not in known.values()]
    return {name: known[name] if name in known else free.pop(0) for name in classes}


def _polar(origin: Point, angle: float, distance: float) -> Point:
    """The point `distance` away from origin in direction `angle` (degrees from up)."""
    radians = np.deg2rad(angle)
    return origin[0] + distance * np.sin(radians), origin[1] - distance * np.cos(radians)


class _Pen:
    """Draws hand-unit shapes onto a mask, rotated, scaled and moved into place."""

    def __init__(self, draw: ImageDraw.ImageDraw, centre: Point, scale: float,
                 angle: float, mirror: bool):
        self.draw, self.centre, self.scale = draw, centre, scale
        self.cos, self.sin = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
        self.flip = -1.0 if mirror else 1.0

    def _to_pixels(self, point: Point) -> Point:
        x = (point[0] - _ANCHOR[0]) * self.flip * self.scale
        y = (point[1] - _ANCHOR[1]) * self.scale
        return (self.centre[0] + x * self.cos - y * self.sin,
                self.centre[1] + x * self.sin + y * self.cos)

    def disc(self, centre: Point, radius: float) -> None:
        x, y = self._to_pixels(centre)
        r = radius * self.scale
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=255)

    def polygon(self, points: Iterable[Point]) -> None:
        self.draw.polygon([self._to_pixels(p) for p in points], fill=255)

    def ellipse(self, centre: Point, radii: Point) -> None:
        # As a polygon, because ImageDraw cannot draw a rotated ellipse.
        t = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
        self.polygon(zip(centre[0] + radii[0] * np.cos(t), centre[1] + radii[1] * np.sin(t)))

    def capsule(self, start: Point, end: Point, radius: float) -> None:
        """A thick line with round ends: a finger."""
        self.draw.line([self._to_pixels(start), self._to_pixels(end)], fill=255,
                       width=max(1, round(2 * radius * self.scale)))
        self.disc(start, radius)
        self.disc(end, radius)


def _draw_hand(pen: _Pen, shape: Shape, rng: np.random.Generator) -> None:
    """Palm, wrist, then each finger either extended or folded into a knuckle bump."""
    extended, spread = shape
    palm_jitter = rng.uniform(0.92, 1.08)
    width_jitter = rng.uniform(0.85, 1.15)
    pen.ellipse(_PALM_CENTRE, (_PALM_RADII[0] * palm_jitter, _PALM_RADII[1] * palm_jitter))
    pen.polygon(_WRIST)
    # Spread the extended fingers (not the thumb) apart around their middle one.
    raised = [i for i in range(1, 5) if extended[i]]
    middle = (raised[0] + raised[-1]) / 2 if raised else 0.0
    for index, finger in enumerate(_FINGERS):
        radius = finger.radius * width_jitter
        if extended[index]:
            angle = finger.angle + rng.uniform(-6.0, 6.0)
            if index > 0:
                angle += spread * (index - middle)
            length = finger.length * rng.uniform(0.85, 1.15)
            pen.capsule(finger.base, _polar(finger.base, angle, length), radius)
        elif index == 0:
            # A folded thumb shows as a bump on the side of the fist.
            pen.disc(_polar(finger.base, -80.0, 0.07), radius * 1.1)
        else:
            pen.disc(_polar(finger.base, finger.angle, 0.07), radius * 1.2)


def _gray_levels(rng: np.random.Generator) -> Tuple[float, float]:
    """Background and hand gray levels: mostly a dark hand on a light background."""
    background = rng.uniform(150.0, 240.0)
    hand = background - rng.uniform(70.0, 140.0)
    if rng.random() < 0.2:
        background, hand = 255.0 - background, 255.0 - hand
    return background, hand


def _render(shape: Shape, rng: np.random.Generator, size: int) -> Image.Image:
    big = size * _SUPERSAMPLE
    offset = rng.uniform(-0.08, 0.08, size=2) * big
    mask = Image.new("L", (big, big), 0)
    pen = _Pen(ImageDraw.Draw(mask), centre=(big / 2 + offset[0], big / 2 + offset[1]),
               scale=big * rng.uniform(0.36, 0.46), angle=rng.uniform(-30.0, 30.0),
               mirror=bool(rng.random() < 0.5))
    _draw_hand(pen, shape, rng)
    mask = mask.reduce(_SUPERSAMPLE)
    if rng.random() < 0.3:
        mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8) * size / 64))

    background, hand = _gray_levels(rng)
    coverage = np.asarray(mask, dtype=np.float32) / 255.0
    # A gentle light gradient and sensor noise, so no two backgrounds are flat and alike.
    ramp = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    light = rng.uniform(-12.0, 12.0) * ramp[None, :] + rng.uniform(-12.0, 12.0) * ramp[:, None]
    noise = rng.normal(0.0, rng.uniform(2.0, 10.0), size=(size, size))
    pixels = background + (hand - background) * coverage + light + noise
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")


def draw_gesture(gesture: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One grayscale ('L' mode) picture of the gesture.

    "rock", "paper" and "scissors" are the gestures; "one", "thumb", "three",
    "horns", "four", "call" and "gun" are further hand shapes, and any other
    name gets one of the other shapes, always the same for the same name.
    """
    return _render(_shape_of(gesture), rng, size)


def _check_classes(classes: Sequence[str]) -> List[str]:
    classes = list(classes)
    if not classes:
        raise ValueError("classes is empty: give at least one class name, e.g. classes=('rock', 'paper').")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes has repeated names: {classes}. Give each class name once.")
    if len(classes) > len(_all_shapes()):
        raise ValueError(f"At most {len(_all_shapes())} classes can be drawn as distinct "
                         f"hands; got {len(classes)}. Use fewer classes.")
    for name in classes:
        if not name or name.strip() != name or any(c in name for c in "/\\\n"):
            raise ValueError(f"Class name {name!r} cannot be a folder name: use a name without "
                             f"slashes, line breaks or surrounding spaces.")
    return classes


def make_hand_gestures(root: Union[str, Path], train_per_class: int = 100,
                       val_per_class: int = 30, test_per_class: int = 30, size: int = 64,
                       seed: int = 0, classes: Sequence[str] = CLASSES,
                       write_lists: bool = True) -> Path:
    """Write an ImageNet-style data set to root and return root.

    Writes classes.txt, training_set/<class>/<class>_0000.png ..., val_set/ and
    test_set/ the same way, and val.txt / test.txt ("<class>/<file>.png <label>"
    per line) when write_lists is true. A split with 0 pictures per class is
    left out. Each split and class has its own random stream, so the same seed
    gives byte-identical files, and changing one split's count leaves the
    pictures of the other splits unchanged.
    """
    classes = _check_classes(classes)
    counts = (train_per_class, val_per_class, test_per_class)
    if min(counts) < 0:
        raise ValueError(f"Pictures per class cannot be negative: got {counts}. Use 0 to leave a "
                         f"split out.")
    shapes = _shapes_for(classes)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_list(root / "classes.txt", list(classes))
    for (folder, split_id), count in zip(_SPLITS, counts):
        if count == 0:
            continue
        lines = []
        for label, name in enumerate(classes):
            class_folder = root / folder / name
            class_folder.mkdir(parents=True, exist_ok=True)
            # Keyed by name, not position, so adding a class leaves the others' pictures alone.
            rng = np.random.default_rng([seed, split_id, zlib.crc32(name.encode("utf-8"))])
            for i in range(count):
                file_name = f"{name}_{i:04d}.png"
                _render(shapes[name], rng, size).save(class_folder / file_name)
                lines.append(f"{name}/{file_name} {label}")
        if write_lists and split_id > 0:
            list_name = "val.txt" if split_id == 1 else "test.txt"
            write_list(root / list_name, lines)
    return root
