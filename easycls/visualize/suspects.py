"""The pictures find_label_issues suspects of a wrong label, as tiles to look at."""
from typing import List, Optional

from ..data.images import open_image
from ..errors import EasyclsError
from .figures import finish, new_figure
from .fonts import drawable, figure_font

COLUMNS = 8
TILE = 1.7  # inches per tile


def plot_suspects(suspects: List[dict], n: int = 24, save: Optional[str] = None):
    """The `n` most suspicious pictures of find_label_issues(), each tile with its given
    class, the class the fold models suggest and cleanlab's score (lower = more suspicious).

    Example:
        >>> suspects = easycls.find_label_issues('dataset/hand_gray', folds=2, epochs=1, split='val')
        >>> figure = easycls.plot_suspects(suspects, n=8, save='suspects.png')
    """
    if not isinstance(suspects, list) or any(not isinstance(row, dict) or "given" not in row
                                             for row in suspects):
        raise EasyclsError(f"plot_suspects takes the list find_label_issues() returns, got "
                           f"{type(suspects).__name__}. Use: suspects = "
                           f"easycls.find_label_issues('dataset/...'); "
                           f"easycls.plot_suspects(suspects).")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise EasyclsError(f"n={n!r} is not valid: give how many pictures to show, a whole "
                           f"number of at least 1, e.g. n=24.")
    shown = suspects[:n]
    columns = max(1, min(len(shown), COLUMNS))
    lines = max(1, -(-len(shown) // columns))
    figure = new_figure((max(columns, 3) * TILE, lines * (TILE + 0.7) + 0.6))
    figure.suptitle(f"Suspected label errors ({len(shown)} of {len(suspects)})",
                    color="tab:red", fontweight="bold")
    axes = figure.subplots(lines, columns, squeeze=False)
    font = figure_font(8)
    for index, tile in enumerate(axes.flat):
        tile.set_axis_off()
        if index < len(shown):
            _draw_tile(tile, shown[index], font)
    if not shown:
        figure.text(0.5, 0.5, "none: no picture looks mislabeled", fontsize=12, ha="center",
                    va="center", color="tab:green")
    return finish(figure, save)


def _draw_tile(axes, row: dict, font) -> None:
    picture = open_image(row["image"])
    gray = picture.mode in ("L", "I;16", "I", "F", "1")
    axes.imshow(picture.convert("L" if gray else "RGB"), cmap="gray" if gray else None)
    given = drawable(row["given"], row.get("given_label", 0))
    suggested = drawable(row["suggested"], row.get("suggested_label", 0))
    axes.set_title(f"given: {given}\nsuggested: {suggested}\nscore {row['score']:.2g}",
                   color="tab:red", fontproperties=font)
