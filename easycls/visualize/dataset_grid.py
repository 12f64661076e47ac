"""A first look at a data set: a few pictures of every class, with its name and count."""
from typing import Optional

from ..data.folder import read_dataset
from ..data.images import open_image
from ..errors import DatasetError, EasyclsError
from .figures import finish, new_figure
from .fonts import drawable, figure_font

SPLITS = ("train", "val", "test")


def show_dataset(path, per_class: int = 8, split: str = "train", save: Optional[str] = None):
    """Sample pictures of each class of a data set folder, one row per class, labelled with
    the class name and how many pictures it has in that split. Writes no file into the
    data set.

    Example:
        >>> figure = easycls.show_dataset('dataset/hand_gray', per_class=8, save='dataset.png')
    """
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise EasyclsError(f"per_class={per_class!r} is not valid: give how many pictures of each "
                           f"class to show, a whole number of at least 1, e.g. per_class=8.")
    if split not in SPLITS:
        raise EasyclsError(f"split={split!r} is not valid: use 'train', 'val' or 'test'.")
    dataset = read_dataset(path, write_lists=False, notify=lambda _: None)
    samples = dataset.splits.get(split) or []
    if not samples:
        raise DatasetError(f"The data set '{path}' has no {split!r} pictures; its splits: "
                           f"{', '.join(name for name, rows in dataset.splits.items() if rows)}.")
    classes = dataset.classes
    tile = 1.2 if len(classes) <= 10 else 0.9
    figure = new_figure((max(5.0, 2.2 + per_class * tile), 0.6 + len(classes) * tile))
    axes = figure.subplots(len(classes), per_class, squeeze=False)
    font = figure_font(10 if len(classes) <= 10 else 8)
    counts = dataset.counts(split)
    for label, row in enumerate(axes):
        paths = [p for p, sample_label in samples if sample_label == label]
        step = max(1, len(paths) // per_class)  # spread over the class, not only its first files
        for column, tile_axes in enumerate(row):
            tile_axes.set_xticks([])
            tile_axes.set_yticks([])
            for spine in tile_axes.spines.values():
                spine.set_visible(False)
            if column < len(paths[::step][:per_class]):
                picture = open_image(paths[::step][column])
                gray = picture.mode in ("L", "I;16", "I", "F", "1")
                tile_axes.imshow(picture.convert("L" if gray else "RGB"),
                                 cmap="gray" if gray else None)
        row[0].set_ylabel(f"{drawable(classes[label], label)}\n({counts[label]})", rotation=0,
                          ha="right", va="center", fontproperties=font)
    figure.suptitle(f"{dataset.root.name}: {len(classes)} classes, {len(samples)} {split} pictures",
                    fontproperties=figure_font(12))
    return finish(figure, save)
