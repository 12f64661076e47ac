"""Training curves from log.json files: loss and validation accuracy, one colour per run."""
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ..engine.log_json import read_log
from ..errors import EasyclsError, PathNotFoundError
from .figures import finish, new_figure
from .fonts import figure_font

PathLike = Union[str, os.PathLike]


def _log_path(path: PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "log.json"
    if not path.is_file():
        raise PathNotFoundError(f"No log file at '{path}' (looked in {Path.cwd()}). Give the "
                                f"log.json a run wrote, or its save_fold, e.g. "
                                f"plot_log('checkpoints/cls_model/log.json').")
    return path


def _records(path: Path) -> Tuple[List[dict], List[dict]]:
    """The train and val records, each step once: a resumed run repeats the steps of the
    epoch it was interrupted in, and the later records are the ones that count."""
    latest: Dict[tuple, dict] = {}
    try:
        records = read_log(path)
    except UnicodeDecodeError:
        raise EasyclsError(f"'{path}' is not a log.json: it is not text (a checkpoint or a "
                           f"picture?). Give the log.json in the run's save_fold, e.g. "
                           f"plot_log('{path.parent / 'log.json'}').") from None
    for record in records:
        if record.get("mode") in ("train", "val") and "epoch" in record:
            latest[(record["mode"], record["epoch"], record.get("iter", 0))] = record
    ordered = [latest[key] for key in sorted(latest, key=lambda k: (k[1], k[0] == "val", k[2]))]
    train = [r for r in ordered if r["mode"] == "train" and "loss" in r]
    if not train:
        raise EasyclsError(f"'{path}' holds no training records (lines with \"mode\": \"train\" "
                           f"and a loss). Give a log.json written by easycls or OpenMMLab.")
    return train, [r for r in ordered if r["mode"] == "val"]


def _run_names(paths: Sequence[Path], labels: Optional[Sequence[str]]) -> List[str]:
    if labels is not None:
        if len(labels) != len(paths):
            raise EasyclsError(f"labels has {len(labels)} name(s) for {len(paths)} log file(s); "
                               f"give one name per log.")
        return [str(label) for label in labels]
    names = [path.parent.name or str(path) for path in paths]
    return names if len(set(names)) == len(names) else [str(path) for path in paths]


def plot_log(logs: Union[PathLike, Sequence[PathLike]], save: Optional[PathLike] = None,
             labels: Optional[Sequence[str]] = None):
    """Training loss (per logged iteration and per epoch) and validation accuracy per epoch,
    from one or several log.json files (or their run folders), several runs on one plot.

    Example:
        >>> figure = easycls.plot_log('checkpoints/hand_gray/log.json', save='curves.png')
        >>> figure = easycls.plot_log(['checkpoints/hand_gray'], labels=['LeNet'])  # a list: several runs
    """
    paths = [_log_path(p) for p in ([logs] if isinstance(logs, (str, os.PathLike)) else logs)]
    if not paths:
        raise EasyclsError("plot_log needs at least one log.json file.")
    names = _run_names(paths, labels)
    figure = new_figure((12, 4.5))
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    colours = [f"C{i % 10}" for i in range(len(paths))]
    any_val = False
    for path, name, colour in zip(paths, names, colours):
        train, val = _records(path)
        steps = _steps_per_epoch(train, val)
        loss_axes.plot([r["epoch"] - 1 + r["iter"] / steps[r["epoch"]] for r in train],
                       [r["loss"] for r in train], color=colour, alpha=0.35, linewidth=1)
        epochs = sorted({r["epoch"] for r in train})
        means = [_mean([r["loss"] for r in train if r["epoch"] == e]) for e in epochs]
        loss_axes.plot(epochs, means, color=colour, marker="o", label=name)
        for key, style in (("accuracy_top-1", "-"), ("accuracy_top-5", "--")):
            points = [(r["epoch"], r[key]) for r in val if key in r]
            if points:
                any_val = True
                accuracy_axes.plot(*zip(*points), color=colour, linestyle=style, marker="o",
                                   label=f"{name} {key.replace('accuracy_', '')}")
    loss_axes.set(title="Training loss (line: logged steps, dots: epoch means)",
                  xlabel="epoch", ylabel="loss")
    loss_axes.legend(prop=figure_font())
    accuracy_axes.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    if any_val:
        accuracy_axes.legend(prop=figure_font())
    else:
        accuracy_axes.text(0.5, 0.5, "no validation in these runs\n(train(validate=True))",
                           ha="center", va="center", transform=accuracy_axes.transAxes)
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
    return finish(figure, save)


def _steps_per_epoch(train: List[dict], val: List[dict]) -> Dict[int, int]:
    """Iterations in each epoch: the val record says it; else the last train record does."""
    steps = {r["epoch"]: r["iter"] for r in train}
    steps.update({r["epoch"]: r["iter"] for r in val if r.get("iter")})
    return {epoch: max(1, count) for epoch, count in steps.items()}


def _mean(values: List[float]) -> float:
    return sum(values) / len(values)
