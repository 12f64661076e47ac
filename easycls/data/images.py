"""Reading any picture users have into a uint8 array of the model's size and channels.

One function, `to_model_array`, is used by training, validation and inference
alike, so a model sees its pictures prepared the same way everywhere.
"""
import contextlib
import io
import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Optional, Union

import numpy as np
from PIL import Image, ImageOps

from ..errors import ImageError, PathNotFoundError
from ..i18n import tr
from .headers import header_size
from .input_spec import InputSpec

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                    ".pgm", ".ppm", ".pbm", ".jfif")
# Filled in behind transparent pixels: what a student sees when the picture is shown on a page.
BACKGROUND = (255, 255, 255)


def is_image_file(path: Union[str, os.PathLike]) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def check_pixels(path, width: int, height: int) -> None:
    """Refuse a picture larger than Pillow refuses as a decompression bomb: twice
    PIL.Image.MAX_IMAGE_PIXELS, about 179 megapixels (a 108-megapixel phone photo passes;
    setting it to None lifts the limit)."""
    if Image.MAX_IMAGE_PIXELS and width * height > 2 * Image.MAX_IMAGE_PIXELS:
        raise _too_large(path, f"{width}x{height} pixels", width * height)


def _too_large(path, size: str, pixels: int) -> ImageError:
    return ImageError(
        f"'{path}' is {size} ({pixels / 1e6:.0f} megapixels), more than the "
        f"{2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels easycls decodes (Pillow's guard "
        f"against decompression bombs, small files made to fill the memory). Shrink the "
        f"picture, or if you trust it, raise the limit: "
        f"PIL.Image.MAX_IMAGE_PIXELS = {-(-pixels // 2)}.")


def read_image_bytes(path: Union[str, os.PathLike]) -> np.ndarray:
    """The bytes of an image file, after checking it is a file and not too large to decode."""
    if not os.path.exists(path):
        raise PathNotFoundError(f"Image file not found: '{path}'. Check the spelling and that "
                                f"the path is relative to the current folder ({os.getcwd()}).")
    if not os.path.isfile(path):  # a pipe or a device would block or never end
        raise ImageError(f"'{path}' is not a regular file (a folder, pipe or device), so it is "
                         f"not read as a picture. Remove it from the image folder.")
    try:
        data = np.fromfile(path, dtype=np.uint8)  # unlike cv2.imread, fine with any path
    except OSError as exc:
        raise ImageError(f"Cannot read '{path}' ({exc.strerror or exc}). Check that the file "
                         f"can be opened, e.g. that you may read it.") from exc
    size = header_size(memoryview(data))
    if size is not None:
        check_pixels(path, *size)
    return data


def open_image(path: Union[str, os.PathLike], data: Optional[np.ndarray] = None) -> Image.Image:
    """Open and fully decode an image file, turned upright by its EXIF orientation."""
    data = read_image_bytes(path) if data is None else data
    try:
        with Image.open(io.BytesIO(data)) as image:
            check_pixels(path, *image.size)  # the formats header_size does not know
            image.load()
            return ImageOps.exif_transpose(image)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:  # formats only Pillow reads the size of (GIF, ...)
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        count = int(pixels.group(1)) if pixels else 2 * Image.MAX_IMAGE_PIXELS + 1
        raise _too_large(path, f"{count:,} pixels", count) from exc
    except Exception as exc:  # any decoder failure (OSError, struct.error, ...) says "unreadable"
        raise ImageError(tr("Cannot read '{path}' as an image ({kind}: {reason}). The file may "
                            "be truncated, corrupt or not a picture; open it in an image viewer, "
                            "or remove it.", path=path, kind=type(exc).__name__, reason=exc)) from exc


def sixteen_to_eight_bits(array: np.ndarray) -> np.ndarray:
    """0-65535 onto 0-255, rounded: the same on every decoding path."""
    return (np.clip(array, 0, 65535).astype(np.float32) / 257.0 + 0.5).astype(np.uint8)


def _high_bit_depth_to_8bit(image: Image.Image) -> Image.Image:
    array = np.asarray(image)
    if image.mode == "F" and array.size and float(array.max()) <= 1.0:
        return Image.fromarray(np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    # I;16 is 16-bit by its mode, however dark the picture: scaled as OpenCV's 16-bit decode
    # is. Mode I (32-bit) says nothing of the range, so its values tell.
    if image.mode.startswith("I;16") or (array.size and float(array.max()) > 255):
        return Image.fromarray(sixteen_to_eight_bits(array), mode="L")  # 16-bit range
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), mode="L")


def to_rgb_or_gray(image: Image.Image, channels: int) -> Image.Image:
    """Convert any PIL mode (RGBA, P, I;16, CMYK, ...) to 'L' (channels=1) or 'RGB'."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = _high_bit_depth_to_8bit(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    return image.convert("L" if channels == 1 else "RGB")


def array_to_pil(array: np.ndarray, color_order: str = "rgb") -> Image.Image:
    """A numpy picture (HxW, HxWx1, HxWx3, HxWx4; uint8 or float in [0, 1]); colour
    arrays are RGB(A), or BGR(A) with color_order='bgr' (OpenCV's order)."""
    if not isinstance(array, np.ndarray):
        raise ImageError(f"Expected a numpy array, got {type(array).__name__}.")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) \
            or 0 in array.shape:
        raise ImageError(
            f"A numpy image must be HxW (gray), HxWx1, HxWx3 (RGB) or HxWx4 (RGBA); got shape "
            f"{array.shape}. For a batch, pass a list of arrays; for a CxHxW array, use "
            f"array.transpose(1, 2, 0).")
    if color_order == "bgr" and array.ndim == 3:
        array = array[:, :, [2, 1, 0, 3][:array.shape[2]]]
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError("The numpy image contains NaN or infinite values.")
        if array.min() < 0 or array.max() > 1:
            raise ImageError(
                f"A float numpy image must hold values in [0, 1]; got values from "
                f"{array.min():.3g} to {array.max():.3g}. Divide by 255 if it holds 0-255 "
                f"values, or convert it with array.astype('uint8').")
        array = np.round(array * 255)
    elif array.dtype == np.uint16:
        array = sixteen_to_eight_bits(array)
    elif not np.issubdtype(array.dtype, np.integer):
        raise ImageError(f"Unsupported numpy image dtype {array.dtype}; use uint8 or float.")
    array = np.ascontiguousarray(np.clip(array, 0, 255).astype(np.uint8))
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[array.shape[2] if array.ndim == 3 else 2]
    return Image.fromarray(array, mode=mode)


def to_model_array(image: Image.Image, spec: InputSpec) -> np.ndarray:
    """A PIL image as the model's uint8 CxHxW input."""
    return _finish(np.array(to_rgb_or_gray(image, spec.channels)), spec)


def load_for_model(path: Union[str, Path], spec: InputSpec) -> np.ndarray:
    """An image file as the model's uint8 CxHxW input (OpenCV when it can, else Pillow)."""
    data = read_image_bytes(path)
    array = _decode_with_opencv(data, path)
    if array is None:
        return to_model_array(open_image(path, data), spec)
    return _finish(array, spec)


# OpenCV decodes these in C with the GIL released, several times faster than Pillow's
# Python-level file handling; anything it cannot decode goes to Pillow.
OPENCV_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jfif", ".bmp", ".webp")
JPEG_EXTENSIONS = (".jpg", ".jpeg", ".jfif")


@lru_cache(maxsize=1)
def _opencv():
    try:
        import cv2
    except ImportError:  # a broken OpenCV install (e.g. no libGL) must not stop easycls
        return None
    return cv2


_quiet = {"lock": threading.Lock(), "depth": 0, "level": None}


@contextlib.contextmanager
def _opencv_silenced(cv2):
    """OpenCV's own stderr lines ("[ERROR:0@0.01] global grfmt_png.cpp ...") off while
    easycls decodes: it reports unreadable files itself. The user's level comes back after."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    with _quiet["lock"]:
        if _quiet["depth"] == 0:
            _quiet["level"] = logging.getLogLevel()
            logging.setLogLevel(logging.LOG_LEVEL_SILENT)
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _quiet["lock"]:
            _quiet["depth"] -= 1
            if _quiet["depth"] == 0:
                logging.setLogLevel(_quiet["level"])


def _decode_with_opencv(data: np.ndarray, path) -> Optional[np.ndarray]:
    """HxW (gray) or HxWx3 (RGB) uint8, or None to let Pillow try (and explain failures)."""
    cv2 = _opencv()
    extension = os.path.splitext(str(path))[1].lower()
    if cv2 is None or extension not in OPENCV_EXTENSIONS or _orientation_outside_jpeg(data):
        return None
    if extension in JPEG_EXTENSIONS:  # this flag also applies the EXIF orientation
        # Colour even for gray models: libjpeg's own gray differs from Pillow's by up to
        # 14 levels, and a picture must give the same pixels as a file, a PIL image or an array.
        flag = cv2.IMREAD_COLOR
    else:
        flag = cv2.IMREAD_UNCHANGED  # keeps alpha and 16-bit depth, handled below
    try:
        with _opencv_silenced(cv2):
            array = cv2.imdecode(data, flag) if data.size else None
    except cv2.error:  # Pillow reads it again and explains what is wrong
        return None
    if array is None:
        return None
    if array.dtype == np.uint16:
        array = sixteen_to_eight_bits(array)
    elif array.dtype != np.uint8:
        return None
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3:
        if array.shape[2] == 4:
            alpha = array[:, :, 3:].astype(np.float32) / 255.0
            background = np.array(BACKGROUND[::-1], dtype=np.float32)
            array = (array[:, :, :3] * alpha + background * (1.0 - alpha) + 0.5).astype(np.uint8)
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    return array


def _orientation_outside_jpeg(data: np.ndarray) -> bool:
    """A PNG or WebP with EXIF data, which OpenCV does not turn upright (Pillow does)."""
    head = memoryview(data)[:1 << 16]
    if head[:4] == b"\x89PNG":
        start = bytes(head).find(b"IDAT")
        return b"eXIf" in bytes(head[:start if start >= 0 else len(head)])
    return head[:4] == b"RIFF" and head[12:16] == b"VP8X" and len(head) > 20 and bool(head[20] & 0x08)


def rgb_to_gray(array: np.ndarray) -> np.ndarray:
    """HxWx3 RGB uint8 to HxW gray, bit for bit as Pillow's convert('L') (ITU-R 601-2)."""
    weighted = array.astype(np.uint32) @ np.array([19595, 38470, 7471], dtype=np.uint32)
    return ((weighted + 0x8000) >> 16).astype(np.uint8)


def _finish(array: np.ndarray, spec: InputSpec) -> np.ndarray:
    """HxW or HxWx3 uint8 -> channel-matched, resized as the spec says, contiguous CxHxW."""
    if array.ndim == 2 and spec.channels == 3:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and spec.channels == 1:
        array = rgb_to_gray(array)
    size = spec.image_size
    if spec.resize == "center-crop":
        # The OpenMMLab/MMEdu test pipeline this mode reproduces, to the pixel: bilinear,
        # the shorter side to its size and the longer one truncated (mmcls Resize), the
        # crop offset rounded (mmcls CenterCrop).
        height, width = array.shape[:2]
        short = spec.resized_shorter_side()
        if width <= height:
            new_width, new_height = short, max(size, int(short * height / width))
        else:
            new_width, new_height = max(size, int(short * width / height)), short
        array = _resize(array, new_width, new_height, bilinear=True)
        top = int(round((array.shape[0] - size) / 2.0))
        left = int(round((array.shape[1] - size) / 2.0))
        array = array[top:top + size, left:left + size]
    else:
        array = _resize(array, size, size)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return np.ascontiguousarray(array)


def _resize(array: np.ndarray, width: int, height: int, bilinear: bool = False) -> np.ndarray:
    if array.shape[:2] == (height, width):
        return array
    cv2 = _opencv()
    if cv2 is None:
        return np.asarray(Image.fromarray(array).resize((width, height), Image.BILINEAR))
    shrinking = array.shape[0] > height or array.shape[1] > width
    # INTER_AREA averages when shrinking (no aliasing); linear is smoother when enlarging.
    area = shrinking and not bilinear
    return cv2.resize(array, (width, height),
                      interpolation=cv2.INTER_AREA if area else cv2.INTER_LINEAR)


def looks_grayscale(image: Image.Image) -> bool:
    """True for gray modes, and for colour images whose three channels are equal."""
    if image.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return True
    rgb = np.asarray(to_rgb_or_gray(image, 3), dtype=np.int16)
    return bool(np.abs(rgb[..., 0] - rgb[..., 1]).max() <= 2
                and np.abs(rgb[..., 1] - rgb[..., 2]).max() <= 2)


def survey_images(paths, count: int = 24):
    """(all grayscale?, median shorter side) over an even sample of the files."""
    step = max(1, len(paths) // count)
    grays, sides = [], []
    for path in list(paths)[::step][:count]:
        try:
            image = open_image(path)
        except (ImageError, PathNotFoundError):
            continue
        grays.append(looks_grayscale(image))
        sides.append(min(image.size))
    if not sides:
        return False, 224
    return all(grays), int(sorted(sides)[len(sides) // 2])
