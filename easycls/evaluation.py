"""evaluate(): a model's predictions on a split or a folder, their metrics, a report and a file.

The Evaluator scores the pictures exactly as validation does; this module picks
the pictures, turns the predictions into plain data (one row per picture, the
per-class metrics, the confusion matrix), prints the report and writes the rows.
"""
import difflib
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from .data.folder import (FolderDataset, Sample, labelled_images, read_dataset, split_folders,
                          split_of)
from .engine.evaluator import EVAL_BATCH_SIZE, Predictions, predict_samples
from .errors import DatasetError, PathNotFoundError
from .log import logger
from .metrics import confusion_matrix, per_class_metrics
from .results import check_lang, output_file, pad, text_width, write_csv, write_json

SPLIT_NAMES = ("train", "val", "test")
CONFUSION_PRINTED = 10  # classes; a larger matrix does not fit a terminal


def evaluation_samples(where, dataset: Optional[FolderDataset],
                       classes: Sequence[str]) -> Tuple[List[Sample], Optional[str], str]:
    """The labelled pictures to evaluate on, their split (None for a plain folder) and folder.

    `where`: a split of the loaded data set ('test' falls back to 'val'), or a folder:
    a whole data set (its test split, else its val split), a split folder, or any
    folder with one sub-folder per class.
    """
    if isinstance(where, str) and not os.path.isdir(where) and split_of(where) in SPLIT_NAMES:
        if dataset is None:
            raise DatasetError(f"No data set is loaded, so there is no {where!r} split to evaluate "
                               f"on. Call model.load_dataset('path/to/dataset') first, or pass a "
                               f"folder: model.evaluate('path/to/test_set').")
        _check_same_classes(dataset.classes, classes, f"the data set '{dataset.root}'")
        return _split_samples(dataset, split_of(where))
    if not isinstance(where, (str, os.PathLike)):
        raise DatasetError(f"evaluate() takes a split name ('test', 'val', 'train') or a folder "
                           f"path, got {type(where).__name__} {where!r}.")
    folder = Path(where)
    if not folder.is_dir():
        close = difflib.get_close_matches(str(where).lower(), ["test", "val", "train"], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise PathNotFoundError(f"{str(where)!r} is neither a split name ('test', 'val', "
                                f"'train') nor a folder (looked in {Path.cwd()}).{hint}")
    splits = split_folders(folder)
    if "train" in splits:
        other = read_dataset(folder, write_lists=False)
        _check_same_classes(other.classes, classes, f"the data set '{folder}'")
        return _split_samples(other, "test")
    for split in ("test", "val"):
        if split in splits:
            return labelled_images(splits[split], list(classes)), None, str(splits[split])
    return labelled_images(folder, list(classes)), None, str(folder)


def _split_samples(dataset: FolderDataset, split: str) -> Tuple[List[Sample], str, str]:
    samples = dataset.splits.get(split) or []
    if not samples and split == "test" and dataset.splits.get("val"):
        logger.info(f"Note: '{dataset.root}' has no test pictures, so the validation split is "
                    f"evaluated instead.")
        split, samples = "val", dataset.splits["val"]
    if not samples:
        have = ", ".join(name for name, rows in dataset.splits.items() if rows)
        raise DatasetError(f"The data set '{dataset.root}' has no {split!r} pictures to evaluate "
                           f"on; its splits with pictures are: {have}. Pass one of these, e.g. "
                           f"model.evaluate('train'), or a folder of labelled pictures.")
    return samples, split, str(dataset.root)


def _check_same_classes(found: Sequence[str], expected: Sequence[str], source: str) -> None:
    if list(found) != list(expected):
        raise DatasetError(f"The model knows the classes {', '.join(expected)}, but {source} has "
                           f"{', '.join(found)}. Evaluate on pictures of the model's own classes, "
                           f"or load the checkpoint trained on this data set.")


def evaluate_predictor(predictor, samples: List[Sample], split: Optional[str], source: str,
                       topk: Sequence[int], batch_size: Optional[int] = None) -> dict:
    """The report of `predictor` (inference.Predictor) on the samples: see Classifier.evaluate."""
    predictions = predict_samples(predictor.model, predictor.spec, samples, predictor.classes,
                                  predictor.device, batch_size=batch_size or EVAL_BATCH_SIZE)
    for path, why in predictions.skipped:
        logger.warning(f"Warning: '{path}' could not be read ({why}); it is left out.")
    return report_from(predictions, split, source, topk)


def report_from(predictions: Predictions, split: Optional[str], source: str,
                topk: Sequence[int]) -> dict:
    classes = predictions.classes
    labels, predicted = predictions.labels.tolist(), predictions.predicted.tolist()
    counts = confusion_matrix(labels, predicted, len(classes))
    return {"split": split, "source": source, "num_images": len(labels), **predictions.metrics(topk),
              **per_class_metrics(counts, classes), "confusion_matrix": counts,
              "class_names": list(classes), "predictions": _rows(predictions),
              "skipped": [{"image": path, "error": why} for path, why in predictions.skipped]}


def _rows(predictions: Predictions) -> List[dict]:
    classes = predictions.classes
    top = predictions.probabilities.topk(min(5, len(classes)), dim=1)
    rows = []
    for path, true, scores, guesses in zip(predictions.paths, predictions.labels.tolist(),
                                           top.values.tolist(), top.indices.tolist()):
        rows.append({"image": path, "true_label": true, "true_class": classes[true],
                     "pred_label": guesses[0], "pred_class": classes[guesses[0]],
                     "pred_score": round(scores[0], 6), "correct": guesses[0] == true,
                     "topk": [(classes[i], round(s, 6)) for s, i in zip(scores, guesses)]})
    return rows


# ------------------------------------------------------------------- printing

HEADERS = {
    "en": {"class": "class", "precision": "precision", "recall": "recall",
           "f1_score": "f1-score", "support": "support", "macro": "macro avg",
           "title": "Evaluated {n} pictures: {where}", "accuracy": "accuracy",
           "split": "the {split} split of '{source}'", "folder": "'{source}'",
           "matrix": "confusion matrix (rows: true class, columns: predicted class):",
           "matrix_too_big": "(confusion matrix: easycls.plot_confusion_matrix(report))"},
    "zh": {"class": "类别", "precision": "精确率", "recall": "召回率", "f1_score": "F1分数",
           "support": "样本数", "macro": "宏平均", "title": "评估了 {n} 张图片：{where}",
           "accuracy": "准确率", "split": "'{source}' 的 {split} 集", "folder": "'{source}'",
           "matrix": "混淆矩阵（行：真实类别，列：预测类别）：",
           "matrix_too_big": "（混淆矩阵：easycls.plot_confusion_matrix(report)）"},
}


def format_report(report: dict, lang: Optional[str] = None) -> str:
    """A table like scikit-learn's classification_report, percentages with two decimals."""
    lang = check_lang(lang)
    words = HEADERS[lang]
    columns = ("precision", "recall", "f1_score")
    rows = [[name] + [f"{report[c][name]:.2f}%" for c in columns] + [str(report["support"][name])]
            for name in report["class_names"]]
    rows.append([words["macro"]] + [f"{report['macro_' + c]:.2f}%" for c in columns]
                + [str(report["num_images"])])
    header = [words["class"]] + [words[c] for c in columns] + [words["support"]]
    widths = [max(text_width(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        first = pad(cells[0], widths[0])
        rest = [" " * (widths[i] - text_width(cell)) + cell for i, cell in enumerate(cells) if i]
        return "  ".join([first, *rest])

    table = [line(header), *map(line, rows[:-1]), "", line(rows[-1])]
    accuracies = ", ".join(f"{key.replace('accuracy_', '')} {value:.2f}%"
                           for key, value in report.items() if key.startswith("accuracy_top-"))
    where = words["split" if report["split"] else "folder"].format(**report)
    return "\n".join([words["title"].format(n=report["num_images"], where=where),
                      *table, f"{words['accuracy']}: {accuracies}",
                      *_confusion_lines(report, words)])


def _confusion_lines(report: dict, words: dict) -> List[str]:
    """The confusion matrix as text, for up to CONFUSION_PRINTED classes (else a picture)."""
    names, counts = report["class_names"], report["confusion_matrix"]
    if len(names) > CONFUSION_PRINTED:
        return [words["matrix_too_big"]]
    first = max(text_width(name) for name in names)
    widths = [max(text_width(name), len(str(max(row[i] for row in counts)))) for i, name in
              enumerate(names)]
    header = pad("", first) + "  " + "  ".join(" " * (w - text_width(n)) + n
                                                for n, w in zip(names, widths))
    rows = [pad(name, first) + "  " + "  ".join(f"{count:>{w}}" for count, w in zip(row, widths))
            for name, row in zip(names, counts)]
    return ["", words["matrix"], header, *rows]


# --------------------------------------------------------------------- files

def write_predictions(report: dict, out) -> Path:
    """One row per picture: .csv for a spreadsheet, .json (the whole report) for programs."""
    path = output_file(out, "evaluate()")
    if path.suffix.lower() == ".json":
        return write_json(path, report)
    rows = [[row["image"], row["true_class"], row["pred_class"], f"{row['pred_score']:.6f}",
             row["correct"], "; ".join(f"{name} {score:.4f}" for name, score in row["topk"])]
            for row in report["predictions"]]
    return write_csv(path, ["image", "true_class", "pred_class", "pred_score", "correct", "topk"],
                     rows)
