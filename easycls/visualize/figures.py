"""What every figure shares: made without pyplot, saved as PNG on request, shown in notebooks.

Figures are `matplotlib.figure.Figure` objects made directly, not through pyplot:
a script opens no window and keeps no global figure list, and a notebook shows the
returned figure once (pyplot is imported there only so that Jupyter can draw it).
"""
from pathlib import Path
from typing import Optional, Tuple

from ..log import in_notebook, logger
from ..process import is_main_process

DPI = 100


def new_figure(size: Tuple[float, float]):
    """A figure of `size` inches; its PNG is exactly size x DPI pixels."""
    from matplotlib.figure import Figure

    if in_notebook():
        import matplotlib.pyplot  # noqa: F401  (registers Jupyter's PNG display of figures)
    return Figure(figsize=size, dpi=DPI, layout="constrained")


def finish(figure, save: Optional[str]):
    """Save the figure as PNG when asked (on the main process only), and return it."""
    if save is not None and is_main_process():
        path = Path(save)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI)
        logger.info(f"Saved the picture as '{path}'.")
    return figure


def heat_colours(fraction: float) -> str:
    """Text colour that stays readable on a Blues colour map cell of that darkness."""
    return "white" if fraction > 0.5 else "black"
