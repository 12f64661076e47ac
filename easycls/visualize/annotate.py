"""Inputs annotated with the predicted class and score, saved under their own names."""
from pathlib import Path
from typing import Iterable, List, Tuple

from PIL import Image, ImageDraw

from ..log import logger
from .fonts import drawable, pil_font

MIN_SIDE = 256  # small inputs (28-px digits) are enlarged so the label stays readable
MIN_FONT = 9  # pixels: smaller than this a label is no longer readable


def enlarged(image: Image.Image) -> Image.Image:
    """`image` as RGB, enlarged to at least MIN_SIDE px on its shorter side."""
    image = image.convert("RGB")
    scale = MIN_SIDE / min(image.size)
    if scale > 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)),
                             Image.NEAREST if min(image.size) <= 64 else Image.BICUBIC)
    return image


def annotate(image: Image.Image, text: str) -> Image.Image:
    """A copy of `image` (RGB, at least MIN_SIDE px) with `text` on a dark band at the top."""
    return draw_label(enlarged(image), text)


def draw_label(image: Image.Image, text: str) -> Image.Image:
    """`text` on a dark band at the top of `image` (RGB, its own size), drawn in place.

    Annotated pictures are enlarged first (annotate); video frames keep their size."""
    draw = ImageDraw.Draw(image, "RGBA")
    size = max(14, image.width // 16)
    while True:  # a long label gets a smaller font rather than being cut off at the edge
        font = pil_font(text, size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        pad = max(4, (bottom - top) // 4)
        if right - left + 2 * pad <= image.width or size <= MIN_FONT:
            break
        size -= 1
    draw.rectangle((0, 0, min(image.width, right - left + 2 * pad), bottom - top + 2 * pad),
                   fill=(0, 0, 0, 170))
    draw.text((pad - left, pad - top), text, font=font, fill=(255, 255, 255, 255))
    return image


def label_text(result: dict) -> str:
    """'class score', or 'class N score' where no installed font can draw the name."""
    return f"{drawable(result['pred_class'], result['pred_label'])} {result['pred_score']:.2f}"


WRITABLE = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _free_name(folder: Path, name: str, taken: List[Path]) -> Path:
    """The input's file name (with its sub-folders); a suffix _1, _2 ... where two inputs
    share one in this call."""
    relative = Path(name)
    stem, suffix = relative.stem, relative.suffix.lower()
    if suffix not in WRITABLE:
        suffix = ".png"
    target, number = folder / relative.parent / f"{stem}{suffix}", 0
    while target in taken:
        number += 1
        target = folder / relative.parent / f"{stem}_{number}{suffix}"
    return target


SHOWN_INLINE = 12  # pictures a notebook cell displays; the rest are only written


def save_annotated(items, results: List[dict], save_fold, display: bool = False) -> List[Path]:
    """Write the inputs, each labelled with its result, into save_fold (see save_pictures)."""
    pictures = ((item.name, annotate(item.load(), label_text(result)))
                for item, result in zip(items, results) if "error" not in result)
    return save_pictures(pictures, save_fold, display)


def save_pictures(pictures: Iterable[Tuple[str, Image.Image]], save_fold, display: bool = False,
                  kind: str = "annotated") -> List[Path]:
    """Write (input name, picture) pairs into save_fold under the inputs' names, say what
    they replaced, and show the first dozen in a notebook."""
    folder = Path(save_fold)
    written, replaced = [], 0
    for name, picture in pictures:
        target = _free_name(folder, name, written)
        target.parent.mkdir(parents=True, exist_ok=True)
        replaced += target.exists()
        picture.save(target)
        written.append(target)
        if display and len(written) <= SHOWN_INLINE:
            from IPython.display import display as show

            show(picture)
    logger.info(f"Saved {len(written)} {kind} picture(s) in '{folder}'"
                + (f", replacing {replaced} of the same name(s) from an earlier run" if replaced else "")
                + (f"; the first {SHOWN_INLINE} are shown above" if display and len(written) > SHOWN_INLINE
                   else "") + ".")
    return written
