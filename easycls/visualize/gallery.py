"""The most confident right and wrong predictions of an evaluation, as tiles to look at."""
from typing import Optional

from ..data.images import open_image
from ..errors import EasyclsError
from .figures import finish, new_figure
from .fonts import drawable, figure_font

COLUMNS = 8
TILE = 1.7  # inches per tile


def plot_gallery(report: dict, n: int = 8, save: Optional[str] = None):
    """The `n` most confident right and the `n` most confident wrong predictions of
    model.evaluate()'s report, each tile with its true class, predicted class and score.

    Example:
        >>> model = cls.from_checkpoint('checkpoints/lenet_hand_gray.pth')
        >>> figure = easycls.plot_gallery(model.evaluate('dataset/hand_gray'), n=8, save='gallery.png')
    """
    rows = report.get("predictions") if isinstance(report, dict) else None
    if rows is None:
        raise EasyclsError(f"plot_gallery takes the report model.evaluate() returns, got "
                           f"{type(report).__name__}. Use: report = model.evaluate('test'); "
                           f"easycls.plot_gallery(report).")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise EasyclsError(f"n={n!r} is not valid: give how many pictures of each kind to show, "
                           f"a whole number of at least 1, e.g. n=8.")
    by_confidence = sorted(rows, key=lambda row: -row["pred_score"])
    right = [row for row in by_confidence if row["correct"]][:n]
    wrong = [row for row in by_confidence if not row["correct"]][:n]
    columns = min(n, COLUMNS)
    lines = [max(1, -(-len(group) // columns)) for group in (right, wrong)]
    figure = new_figure((columns * TILE, sum(lines) * (TILE + 0.5) + 0.8))
    sections = figure.subfigures(2, 1, height_ratios=lines)
    font = figure_font(8)
    for section, group, title, colour in zip(
            sections, (right, wrong), ("Most confident right", "Most confident wrong"),
            ("tab:green", "tab:red")):
        section.suptitle(f"{title} ({len(group)})", color=colour, fontweight="bold")
        axes = section.subplots(max(1, -(-len(group) // columns)), columns, squeeze=False)
        for index, tile in enumerate(axes.flat):
            tile.set_axis_off()
            if index < len(group):
                _draw_tile(tile, group[index], colour, font)
        if not group:
            section.text(0.5, 0.5, "none", fontsize=12, ha="center", va="center", color=colour)
    return finish(figure, save)


def _draw_tile(axes, row: dict, colour: str, font) -> None:
    picture = open_image(row["image"])
    gray = picture.mode in ("L", "I;16", "I", "F", "1")
    axes.imshow(picture.convert("L" if gray else "RGB"), cmap="gray" if gray else None)
    true = drawable(row["true_class"], row["true_label"])
    guess = drawable(row["pred_class"], row["pred_label"])
    axes.set_title(f"true: {true}\npred: {guess} {row['pred_score']:.2f}", color=colour,
                   fontproperties=font)
