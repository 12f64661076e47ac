"""Find the pictures that look mislabeled: k-fold out-of-fold predictions ranked by cleanlab.

Every picture of a split is scored by a quick model that never saw it (trained on the
other folds with the library's own trainer), and cleanlab's confident learning picks
the pictures whose given class disagrees with those scores. Nothing in the data set
is changed: `move_to=` only copies the suspects into a review folder.

    >>> suspects = easycls.find_label_issues('dataset/hand_gray', save='suspects.png')
"""
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .data.folder import FolderDataset, read_dataset, split_folders
from .errors import DatasetError, EasyclsError, LabelCheckUnavailableError
from .log import logger
from .results import ShownList, check_output, output_file, relative_names, write_csv, write_json

Sample = Tuple[str, int]

VIEWS_PER_FOLD = 8000  # pictures a fold's model sees in training, all epochs together
MIN_EPOCHS, MAX_EPOCHS = 3, 15
GALLERY_SIZE = 24
CSV_HEADER = ["image", "given", "suggested", "score", "given_label", "suggested_label"]


def find_label_issues(path_or_dataset, backbone: str = "LeNet", folds: int = 5,
                      epochs: Optional[int] = None, split: str = "train",
                      out: Optional[str] = None, save: Optional[str] = None,
                      move_to: Optional[str] = None, seed: int = 0,
                      device: str = "auto") -> List[dict]:
    """The pictures of a split whose label looks wrong, most suspicious first.

    Trains `folds` quick models, each on the other folds, so that every picture is
    scored by a model that never saw it; cleanlab then finds the pictures whose given
    class disagrees with those scores. Each entry: {'image', 'given', 'suggested',
    'score' (cleanlab's label quality, lower = more suspicious), 'given_label',
    'suggested_label'}. `out='suspects.csv'` writes the list, `save='suspects.png'`
    draws the top suspects, `move_to='review'` COPIES them into
    review/<given>__as__<suggested>/. The data set itself is never changed.

    Example:
        >>> suspects = easycls.find_label_issues('dataset/hand_gray', folds=2, epochs=1,
        ...                                      split='val', out='suspects.csv')
        >>> suspects[0]
        {'image': 'dataset/hand_gray/val_set/...', 'given': '...', 'suggested': '...', 'score': ...}
    """
    cleanlab = _import_cleanlab()
    folds = _checked_folds(folds)
    epochs = _checked_epochs(epochs)
    if out is not None:
        check_output(out, "the suspected label errors")
    dataset = _as_dataset(path_or_dataset)
    samples = _split_samples(dataset, split)
    _check_enough_pictures(dataset, samples, split, folds)
    review = _checked_review_folder(move_to, dataset) if move_to is not None else None
    from .classifier import Classifier

    Classifier(backbone)  # an unknown backbone is refused before any training
    if epochs is None:
        epochs, reason = default_epochs(len(samples) * (folds - 1) // folds)
        logger.info(f"epochs={epochs} ({reason}; set epochs= to change it)")

    labels = np.array([label for _, label in samples], dtype=np.int64)
    probabilities, scored = _out_of_fold_probabilities(
        dataset, samples, labels, backbone, folds, epochs, seed, device)
    suspects = _rank(cleanlab, [samples[i] for i in scored], labels[scored],
                     probabilities[scored], dataset.classes)
    _log_summary(suspects, len(scored))
    if out is not None:
        write_suspects(suspects, out)
    if save is not None:
        from .visualize.suspects import plot_suspects

        plot_suspects(suspects, n=GALLERY_SIZE, save=save)
    if review is not None:
        copy_for_review(suspects, review)
    return ShownList(suspects)


# ---------------------------------------------------------------- checks

def _import_cleanlab():
    try:
        import cleanlab.filter
        import cleanlab.rank
    except ImportError as missing:
        raise LabelCheckUnavailableError(
            f"Finding mislabeled pictures needs the cleanlab package, which is not installed "
            f"({missing}). Install it with: pip install easycls[labels]  (or: pip install "
            f"cleanlab)") from None
    return cleanlab


def _checked_folds(folds) -> int:
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise EasyclsError(f"folds={folds!r} is not valid: give how many parts to split the "
                           f"pictures into, a whole number of at least 2 (each part is scored "
                           f"by a model trained on the others), e.g. folds=5.")
    return folds


def _checked_epochs(epochs) -> Optional[int]:
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                               or epochs < 1):
        raise EasyclsError(f"epochs={epochs!r} is not valid: give a whole number of at least 1 "
                           f"for each fold's quick model, or leave it unset to have it chosen "
                           f"from the data size.")
    return epochs


def _as_dataset(path_or_dataset) -> FolderDataset:
    if isinstance(path_or_dataset, FolderDataset):
        return path_or_dataset
    return read_dataset(path_or_dataset, write_lists=False)


def _split_samples(dataset: FolderDataset, split: str) -> List[Sample]:
    samples = dataset.splits.get(split)
    if split == "train" and samples and _val_held_out_of_training(dataset):
        samples = list(samples) + list(dataset.splits["val"])  # a picture is checked wherever it is
    if not samples:
        have = ", ".join(f"'{name}'" for name, items in dataset.splits.items() if items)
        raise DatasetError(f"split={split!r} has no pictures in '{dataset.root}': it has "
                           f"{have or 'none'}. Use one of those, e.g. split='train'.")
    return list(samples)


def _val_held_out_of_training(dataset: FolderDataset) -> bool:
    """Whether the val split was held out in memory from the training pictures (no val_set/
    nor val.txt on disk): those pictures are in the training folders and are checked too."""
    root = Path(dataset.root)
    if not dataset.splits.get("val") or "val" in split_folders(root):
        return False
    return not (root / "val.txt").exists()


def _check_enough_pictures(dataset: FolderDataset, samples: Sequence[Sample], split: str,
                           folds: int) -> None:
    counts = np.bincount([label for _, label in samples], minlength=len(dataset.classes))
    fewest = int(counts.min())
    if fewest < folds:
        name = dataset.classes[int(counts.argmin())]
        raise DatasetError(
            f"Class {name!r} has {fewest} pictures in the {split} split, fewer than folds="
            f"{folds}: every fold needs a picture of each class. Use folds={max(2, fewest)} "
            f"or fewer, or add pictures." if fewest >= 2 else
            f"Class {name!r} has {fewest} pictures in the {split} split: finding mislabeled "
            f"pictures needs at least 2 of every class (folds=2), better 5 or more.")


def _checked_review_folder(move_to, dataset: FolderDataset) -> Path:
    review = Path(move_to).resolve()
    root = Path(dataset.root).resolve()
    if review == root or root in review.parents:
        raise EasyclsError(f"move_to={str(move_to)!r} is inside the data set '{dataset.root}': "
                           f"copies there would change the data set. Choose a folder outside "
                           f"it, e.g. move_to='review'.")
    return review


def default_epochs(train_pictures: int) -> Tuple[int, str]:
    """Epochs for each fold's model: fewer pictures get more passes, within 3..15."""
    wanted = math.ceil(VIEWS_PER_FOLD / max(1, train_pictures))
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, wanted))
    return epochs, (f"each fold trains on {train_pictures:,} pictures; {epochs} passes show "
                    f"its model about {epochs * train_pictures:,} pictures, kept within "
                    f"{MIN_EPOCHS}..{MAX_EPOCHS}")


# ---------------------------------------------------------------- the k-fold loop

def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """The fold (0..folds-1) of each sample: each class spread evenly over the folds,
    in a random order fixed by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    fold_of = np.zeros(len(labels), dtype=np.int64)
    start = 0  # where the next class starts counting, so that fold sizes stay even
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        order = members[torch.randperm(len(members), generator=generator).numpy()]
        fold_of[order] = (start + np.arange(len(order))) % folds
        start = (start + len(order)) % folds
    return fold_of


def _out_of_fold_probabilities(dataset: FolderDataset, samples: List[Sample], labels: np.ndarray,
                               backbone: str, folds: int, epochs: int, seed: int,
                               device: str) -> Tuple[np.ndarray, np.ndarray]:
    """Probabilities of each sample from the fold model that did not train on it, and
    the positions of the samples that could be scored (unreadable files are not)."""
    from .classifier import Classifier
    from .engine.evaluator import predict_samples

    fold_of = stratified_folds(labels, folds, seed)
    probabilities = np.full((len(samples), len(dataset.classes)), np.nan, dtype=np.float64)
    for fold in range(folds):
        started = time.perf_counter()
        held = np.flatnonzero(fold_of == fold)
        train = [samples[i] for i in np.flatnonzero(fold_of != fold)]
        scored_here = [samples[i] for i in held]
        part = FolderDataset(dataset.root, list(dataset.classes),
                             splits={"train": train, "val": scored_here})
        model = Classifier(backbone, device=device)
        model.dataset = part
        with tempfile.TemporaryDirectory(prefix="easycls-labels-") as run_folder:
            model.train(epochs=epochs, save_fold=run_folder, verbose=False, validate=False,
                        random_seed=seed + fold)
        predictor = model._predictor
        predictions = predict_samples(predictor.model, predictor.spec, scored_here,
                                      predictor.classes, predictor.device)
        positions = held[predictions.positions.numpy()]
        probabilities[positions] = predictions.probabilities.double().numpy()
        logger.info(f"Fold {fold + 1}/{folds}: trained on {len(train):,} pictures, scored "
                    f"{len(predictions):,} ({time.perf_counter() - started:.1f} s)")
    scored = np.flatnonzero(~np.isnan(probabilities).any(axis=1))
    if len(scored) < len(samples):
        logger.warning(f"Warning: {len(samples) - len(scored)} pictures could not be read and "
                       f"were left out of the label check.")
    return probabilities, scored


# ---------------------------------------------------------------- ranking and output

def _rank(cleanlab, samples: List[Sample], labels: np.ndarray, probabilities: np.ndarray,
          classes: Sequence[str]) -> List[dict]:
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    ranked = cleanlab.filter.find_label_issues(labels, probabilities,
                                               return_indices_ranked_by="self_confidence")
    quality = cleanlab.rank.get_label_quality_scores(labels, probabilities)
    suggested = probabilities.argmax(axis=1)
    suspects = []
    for index in np.asarray(ranked, dtype=np.int64).tolist():
        given, guess = int(labels[index]), int(suggested[index])
        suspects.append({"image": samples[index][0], "given": classes[given],
                         "suggested": classes[guess], "score": round(float(quality[index]), 6),
                         "given_label": given, "suggested_label": guess})
    return suspects


def _log_summary(suspects: List[dict], total: int) -> None:
    if not suspects:
        logger.info(f"None of the {total:,} pictures looks mislabeled.")
        return
    names = relative_names([row["image"] for row in suspects[:3]])
    top = "; ".join(f"{name} (given {row['given']}, looks like {row['suggested']}, "
                    f"score {row['score']:.2g})" for name, row in zip(names, suspects))
    verb = "looks" if len(suspects) == 1 else "look"
    logger.info(f"{len(suspects):,} of {total:,} pictures {verb} mislabeled; the most "
                f"suspicious: {top}. Nothing was changed: look at them and move the wrong "
                f"ones yourself.")


def write_suspects(suspects: List[dict], out) -> Path:
    """The suspects as a .csv (one row each) or .json file."""
    path = output_file(out, "the suspected label errors")
    if path.suffix.lower() == ".json":
        write_json(path, suspects)
    else:
        write_csv(path, CSV_HEADER, [[row[key] for key in CSV_HEADER] for row in suspects])
    logger.info(f"Wrote {len(suspects):,} suspects to '{path}'.")
    return path


def copy_for_review(suspects: List[dict], review: Union[str, Path]) -> Dict[str, Path]:
    """Copy (never move) each suspect into review/<given>__as__<suggested>/<file name>.
    Returns {source: copy}."""
    review = Path(review)
    copies: Dict[str, Path] = {}
    taken = set()
    for row in suspects:
        source = Path(row["image"])
        folder = review / f"{row['given']}__as__{row['suggested']}"
        target = folder / source.name
        number = 1
        while target in taken:  # two pictures of the same name from different folders
            target = folder / f"{source.stem}_{number}{source.suffix}"
            number += 1
        taken.add(target)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copies[row["image"]] = target
    if suspects:
        logger.info(f"Copied {len(suspects):,} suspects into '{review}' (the data set is "
                    f"unchanged).")
    return copies
