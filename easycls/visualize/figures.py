"""What every figure shares: made without pyplot, saved as PNG on request, shown in notebooks.

Figures are `matplotlib.figure.Figure` objects made directly, not through pyplot:
a script opens no window and keeps no global figure list. A notebook shows the
returned figure once, as the cell's value: Jupyter is told how to draw a Figure as
PNG, which it otherwise learns only after pyplot has drawn a figure of its own.
"""
import io
from functools import lru_cache
from pathlib import Path
from typing import Optional, Tuple

from ..log import in_notebook, logger
from ..process import is_main_process

DPI = 100


def new_figure(size: Tuple[float, float]):
    """A figure of `size` inches; its PNG is exactly size x DPI pixels."""
    from matplotlib.figure import Figure

    if in_notebook():
        _show_figures_in_notebooks()
    return Figure(figsize=size, dpi=DPI, layout="constrained")


@lru_cache(maxsize=1)
def _show_figures_in_notebooks() -> None:
    import IPython
    from matplotlib.figure import Figure

    def png(figure) -> bytes:
        data = io.BytesIO()
        figure.savefig(data, format="png", dpi=DPI)
        return data.getvalue()

    formatters = IPython.get_ipython().display_formatter.formatters
    formatters["image/png"].for_type(Figure, png)
    formatters["text/plain"].for_type(Figure, lambda figure, printer, cycle: printer.text(""))


def finish(figure, save: Optional[str]):
    """Save the figure when asked (PNG unless the name says .jpg, .pdf, .svg ...), on the
    main process only, and return it."""
    if save is not None and is_main_process():
        path = Path(save)
        if path.suffix.lower().lstrip(".") not in figure.canvas.get_supported_filetypes():
            path = path.with_name(path.name + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI)
        logger.info(f"Saved the picture as '{path}'.")
    return figure


def heat_colours(fraction: float) -> str:
    """Text colour that stays readable on a Blues colour map cell of that darkness."""
    return "white" if fraction > 0.5 else "black"
