"""The confusion matrix of an evaluation: counts and row-normalised shares, with class names."""
from typing import List, Optional, Sequence

from ..errors import EasyclsError
from .figures import finish, heat_colours, new_figure
from .fonts import drawable_names, figure_font

CELL_TEXT_UP_TO = 15  # classes; beyond that the numbers would not fit in their cells


def plot_confusion_matrix(report: dict, save: Optional[str] = None):
    """Two panels from model.evaluate()'s report: how many pictures of each true class (rows)
    were predicted as each class (columns), and the same as a share of the row.

    Example:
        >>> model = cls.from_checkpoint('checkpoints/lenet_hand_gray.pth')
        >>> report = model.evaluate('dataset/hand_gray')
        >>> figure = easycls.plot_confusion_matrix(report, save='confusion.png')
    """
    from matplotlib.ticker import MaxNLocator

    counts, names = _checked(report)
    n = len(names)
    shares = [[100.0 * c / sum(row) if sum(row) else 0.0 for c in row] for row in counts]
    side = min(max(4.5, 0.4 * n + 2), 20)  # inches a panel: about 0.4 per class
    figure = new_figure((2 * side + 1.5, side + 0.8))
    labels = drawable_names(names)
    for axes, values, title, unit in zip(figure.subplots(1, 2), (counts, shares),
                                         ("Pictures", "Share of each true class"), ("", "%")):
        peak = max(max(row) for row in values) or 1
        image = axes.imshow(values, cmap="Blues", vmin=0, vmax=peak if unit == "" else 100)
        bar = figure.colorbar(image, ax=axes, shrink=0.8,
                              label="pictures" if unit == "" else "% of the row")
        if unit == "":
            bar.locator = MaxNLocator(integer=True)  # counts: no 0.5 pictures
            bar.update_ticks()
        axes.set_title(title)
        axes.set_xlabel("predicted class")
        axes.set_ylabel("true class")
        size = 10 if n <= 10 else 9 if n <= 20 else 8
        font = figure_font(size)
        axes.set_xticks(range(n), labels=labels, rotation=45 if n > 4 else 0,
                        ha="right" if n > 4 else "center", fontproperties=font)
        axes.set_yticks(range(n), labels=labels, fontproperties=font)
        if n <= CELL_TEXT_UP_TO:
            for row in range(n):
                for column in range(n):
                    value = values[row][column]
                    axes.text(column, row, f"{value:.0f}{unit}", ha="center", va="center",
                              fontsize=size - 1 if n > 6 else size,
                              color=heat_colours(value / (peak if unit == "" else 100)))
    accuracy = report.get("accuracy_top-1")
    if accuracy is not None:
        figure.suptitle(f"Confusion matrix: {report.get('num_images', sum(map(sum, counts)))} "
                        f"pictures, top-1 accuracy {accuracy:.2f}%")
    return finish(figure, save)


def _checked(report) -> (List[List[int]], Sequence[str]):
    if not isinstance(report, dict) or "confusion_matrix" not in report or "class_names" not in report:
        raise EasyclsError(f"plot_confusion_matrix takes the report model.evaluate() returns, got "
                           f"{type(report).__name__}. Use: report = model.evaluate('test'); "
                           f"easycls.plot_confusion_matrix(report).")
    counts, names = report["confusion_matrix"], list(report["class_names"])
    if len(counts) != len(names) or any(len(row) != len(names) for row in counts):
        raise EasyclsError(f"The report's confusion_matrix is not {len(names)}x{len(names)} for "
                           f"its {len(names)} class_names; pass the report evaluate() returned.")
    return counts, names
