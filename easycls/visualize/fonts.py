"""Fonts that draw class names: Latin from matplotlib's DejaVu, Chinese from the system.

Annotated pictures (Pillow) and figures (matplotlib) use the same font and the same
rule: a name no installed font can draw is shown as its class number, with one warning.
"""
import os
from functools import lru_cache
from typing import List, Optional, Sequence

from PIL import ImageFont

from ..log import logger

# Fonts that can draw Chinese class names, by platform; checked in order.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
FONT_VARIABLE = "EASYCLS_FONT"  # a .ttf/.ttc file to draw class names with


@lru_cache(maxsize=None)
def cjk_font_path() -> Optional[str]:
    """A font that can draw Chinese: the user's choice, else one the system has."""
    chosen = os.environ.get(FONT_VARIABLE)
    for path in ((chosen,) if chosen else ()) + CJK_FONTS:
        if os.path.isfile(path):
            return path
    return None


@lru_cache(maxsize=None)
def latin_font_path() -> Optional[str]:
    import matplotlib  # only for the path of the DejaVu font it ships

    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    return path if os.path.isfile(path) else None


def pil_font(text: str, size: int) -> ImageFont.ImageFont:
    path = latin_font_path() if text.isascii() else cjk_font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


@lru_cache(maxsize=1)
def warn_no_cjk_font() -> None:
    logger.warning(f"No font that can draw these class names was found, so the pictures show the "
                   f"class number instead. Install one (Debian/Ubuntu: sudo apt-get install "
                   f"fonts-noto-cjk) or set the environment variable {FONT_VARIABLE} to a .ttf/.ttc "
                   f"font file.")


def drawable(name: str, number: int) -> str:
    """The class name where a font can draw it, else 'class N' (warned once)."""
    if name.isascii() or cjk_font_path():
        return name
    warn_no_cjk_font()
    return f"class {number}"


def drawable_names(names: Sequence[str]) -> List[str]:
    return [drawable(name, number) for number, name in enumerate(names)]


def figure_font(size: float = 10):
    """matplotlib FontProperties that draw Latin and, where a CJK font exists, Chinese text."""
    from matplotlib import font_manager

    families = ["DejaVu Sans"]
    path = cjk_font_path()
    if path:
        font_manager.fontManager.addfont(path)
        families.append(font_manager.FontProperties(fname=path).get_name())
    return font_manager.FontProperties(family=families, size=size)
