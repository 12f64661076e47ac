"""Reading an ImageNet-style data set folder and fixing its classes once.

Layout (DESIGN.md section 3): classes.txt, training_set/<class>/*, val_set/ with
class folders or val.txt, optional test_set/ with class folders or test.txt.
A plain folder-per-class collection without splits is split in memory.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch

from ..errors import DatasetError, PathNotFoundError
from ..log import logger
from ..process import is_main_process
from .images import is_image_file

SPLIT_FOLDERS = {
    "train": ("training_set", "train", "training"),
    "val": ("val_set", "val", "valid", "validation"),
    "test": ("test_set", "test"),
}
IGNORED_NAMES = {"__macosx", ".ipynb_checkpoints", "thumbs.db", ".ds_store", "desktop.ini",
                 "__pycache__"}
HELD_OUT_FRACTION = 0.2
Sample = Tuple[str, int]


@dataclass
class FolderDataset:
    """A data set whose class list is fixed: label i is classes[i] in every split."""

    root: Path
    classes: List[str]
    splits: Dict[str, List[Sample]]
    notes: List[str] = field(default_factory=list)

    def counts(self, split: str) -> List[int]:
        return _count(self.splits.get(split, []), len(self.classes))

    def sizes(self) -> Dict[str, int]:
        return {name: len(samples) for name, samples in self.splits.items()}


@dataclass
class _Reading:
    """What one read of a data set collects, and how it treats problems."""

    notes: List[str]
    write_lists: bool
    problems: Optional[List[str]] = None  # None: raise at the first problem
    # (path, lines, what) of derived list files, written only once all is read well
    pending: List[tuple] = field(default_factory=list)

    def problem(self, message: str) -> None:
        """A problem that would train on wrong labels: raise it, or collect it and go on."""
        if self.problems is None:
            raise DatasetError(message)
        self.problems.append(message)


def listing(items: List[str], separator: str = ", ", shown: int = 5) -> str:
    """The first few items, and how many more there are."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return separator.join(items[:shown]) + more


def _ignored(name: str) -> bool:
    return name.lower() in IGNORED_NAMES or name.startswith(".")


def _subfolders(folder: Path) -> List[str]:
    return sorted(entry.name for entry in os.scandir(folder)
                  if entry.is_dir() and not _ignored(entry.name))


def _images_below(folder: Path) -> List[str]:
    """Image files in a folder and its subfolders, in sorted order."""
    found = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _ignored(d))
        found.extend(os.path.join(current, f) for f in sorted(files)
                     if is_image_file(f) and not _ignored(f))
    return found


def _find_split_folder(root: Path, split: str) -> Optional[Path]:
    names = {entry.name.lower(): entry.name for entry in os.scandir(root) if entry.is_dir()}
    for alias in SPLIT_FOLDERS[split]:
        if alias in names:
            return root / names[alias]
    return None


def _write_derived(reading: _Reading) -> None:
    """Write the derived list files, unless the reading found problems (they would be wrong).

    Only the main process writes: the others of a multi-process run derive the same
    lists in memory."""
    for path, lines, what in reading.pending:
        if reading.write_lists and not reading.problems and is_main_process():
            _try_write(path, lines, what, reading.notes)
        else:
            reading.notes.append(f"{path.name} is missing: it will be written from {what}.")


def _try_write(path: Path, lines: List[str], what: str, notes: List[str]) -> None:
    # Written beside, then renamed: another process reading the list never sees half of it.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("".join(line + "\n" for line in lines))
        os.replace(temporary, path)
        notes.append(f"{path.name} was missing: wrote it from {what}.")
    except OSError as exc:
        notes.append(f"{path.name} was missing: derived it from {what} in memory only "
                     f"(could not write it: {exc.strerror or exc}).")
    finally:
        if temporary.exists():
            temporary.unlink()


def _read_text_lines(path: Path, notes: List[str]) -> List[str]:
    """Lines of a text file in UTF-8, or in GBK as Notepad on Chinese Windows may save it."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        pass
    try:
        lines = data.decode("gbk").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"'{path}' is not UTF-8 text ({exc}). Open it in an editor and save "
                           f"it with the encoding UTF-8.") from exc
    notes.append(f"{path.name} is not UTF-8: read it as GBK (Chinese Windows). Saving it as "
                 f"UTF-8 avoids surprises on other computers.")
    return lines


def _read_classes_txt(path: Path, notes: List[str]) -> List[str]:
    classes = [line.strip() for line in _read_text_lines(path, notes) if line.strip()]
    if not classes:
        raise DatasetError(f"'{path}' is empty. Write one class name per line (line i is "
                           f"label i), or delete the file to use the training folder names.")
    duplicates = sorted({c for c in classes if classes.count(c) > 1})
    if duplicates:
        raise DatasetError(f"'{path}' lists {', '.join(duplicates)} more than once. Each class "
                           f"must appear on exactly one line; remove the repeated lines.")
    return classes


def _class_folder_samples(folder: Path, classes: List[str], split_name: str,
                          reading: _Reading) -> List[Sample]:
    index = {name: i for i, name in enumerate(classes)}
    unknown = [name for name in _subfolders(folder) if name not in index]
    if unknown:
        reading.problem(
            f"'{folder}' has folder(s) {', '.join(repr(u) for u in unknown)} that are not "
            f"classes of this data set ({', '.join(classes)}). Every {split_name} folder must "
            f"be one of the classes: add the name to classes.txt (as a new last line, so the "
            f"other labels stay the same), or move the folder out of '{folder}'.")
    samples = []
    for name in classes:
        class_dir = folder / name
        if class_dir.is_dir():
            samples.extend((path, index[name]) for path in _images_below(class_dir))
    return samples


def _read_list_file(list_file: Path, image_root: Path, classes: List[str],
                    reading: _Reading) -> List[Sample]:
    """Parse 'relative/path.png <label>' lines, checking files and labels by class name."""
    samples, missing, problems = [], [], []
    for number, raw in enumerate(_read_text_lines(list_file, reading.notes), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            problems.append(f"line {number}: {line!r} is not '<relative path> <label>'")
            continue
        relative, label = parts[0].replace("\\", "/"), int(parts[1])
        if not 0 <= label < len(classes):
            problems.append(f"line {number}: label {label} is outside 0..{len(classes) - 1}")
            continue
        folder = relative.split("/")[0]
        if folder in classes and folder != classes[label]:
            problems.append(f"line {number}: '{relative}' is in folder '{folder}' but has "
                            f"label {label} ({classes[label]})")
            continue
        path = image_root / relative
        if not path.is_file():
            missing.append(relative)
            continue
        samples.append((str(path), label))
    if problems:
        reading.problem(
            f"'{list_file}' has {len(problems)} wrong line(s): {listing(problems, '; ')}. Labels count from 0 in "
            f"the order of classes.txt ({', '.join(classes)}). Fix these lines, or delete "
            f"{list_file.name} to rebuild it from the class folders.")
    if missing:
        reading.problem(
            f"'{list_file}' names {len(missing)} file(s) that do not exist under "
            f"'{image_root}': {listing(missing)}. Paths are relative to '{image_root}'. Fix or remove "
            f"those lines, or delete {list_file.name} to rebuild it from the class folders.")
    return samples


def _read_eval_split(root: Path, split: str, classes: List[str],
                     reading: _Reading) -> Optional[List[Sample]]:
    folder = _find_split_folder(root, split)
    if folder is None:
        return None
    list_file = root / f"{split}.txt"
    if list_file.is_file():
        return _read_list_file(list_file, folder, classes, reading)
    if not _subfolders(folder):
        if _images_below(folder):
            reading.problem(
                f"'{folder}' holds images directly, but there is no {list_file.name} to say "
                f"their labels. Either sort the images into one folder per class "
                f"({', '.join(classes)}), or write {list_file} with one "
                f"'<file name> <label>' line per image.")
        else:
            reading.notes.append(f"'{folder.name}' is empty: no {split} split.")
        return None
    samples = _class_folder_samples(folder, classes, split, reading)
    lines = [f"{Path(path).relative_to(folder).as_posix()} {label}" for path, label in samples]
    reading.pending.append((list_file, lines, f"the class folders in {folder.name}/"))
    return samples


def as_folder_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise DatasetError(f"The data set must be given as a folder path (a string), got "
                           f"{type(path).__name__} {path!r}, e.g. load_dataset('dataset/hand_gray').")
    return Path(path)


def labelled_images(folder, classes: List[str]) -> List[Sample]:
    """Every image of a folder with one sub-folder per class (all of them, none held out),
    labelled by the given class list; a sub-folder that is not a class is an error."""
    root = as_folder_path(folder)
    if not root.is_dir():
        raise PathNotFoundError(f"Folder '{folder}' does not exist (looked in {Path.cwd()}). "
                                f"Expected one sub-folder of images per class: "
                                f"{', '.join(classes)}.")
    samples = _class_folder_samples(root, classes, "labelled", _Reading([], write_lists=False))
    if not samples:
        raise DatasetError(f"'{folder}' has no images in sub-folders named after the classes "
                           f"({', '.join(classes)}).")
    return samples


def hold_out(samples: List[Sample], num_classes: int, fraction: float = HELD_OUT_FRACTION,
             seed: int = 0) -> Tuple[List[Sample], List[Sample]]:
    """Split samples per class, reproducibly, into (kept, held_out)."""
    generator = torch.Generator().manual_seed(seed)
    kept, held = [], []
    for label in range(num_classes):
        members = [s for s in samples if s[1] == label]
        order = torch.randperm(len(members), generator=generator).tolist()
        count = int(round(len(members) * fraction)) if len(members) > 1 else 0
        if len(members) > 1:
            count = max(count, 1)
        held.extend(members[i] for i in sorted(order[:count]))
        kept.extend(members[i] for i in sorted(order[count:]))
    return kept, held


def read_dataset(path, num_classes: Optional[int] = None,
                 notify: Callable[[str], None] = logger.info, write_lists: bool = True,
                 problems: Optional[List[str]] = None) -> FolderDataset:
    """Read a data set folder, fix its class list and check every split against it.

    Missing classes.txt / val.txt / test.txt are derived from the folders and, with
    write_lists, written beside them (kept in memory where the folder is read-only).
    Label problems raise a DatasetError; given a `problems` list, they are collected
    there instead and the parts in question are left out.
    """
    root = as_folder_path(path)
    if not root.exists():
        raise PathNotFoundError(
            f"Data set folder '{path}' does not exist (looked in {Path.cwd()}). Check the "
            f"path; it should contain classes.txt and training_set/, val_set/ folders.")
    if not root.is_dir():
        raise DatasetError(f"'{path}' is a file, but load_dataset needs a folder with "
                           f"training_set/ and val_set/ (or one folder per class).")
    reading = _Reading([], write_lists, problems)
    notes = reading.notes
    train_dir = _find_split_folder(root, "train")
    classes_txt = root / "classes.txt"
    if train_dir is None:
        train_dir = root
        if not _subfolders(root):
            raise DatasetError(
                f"'{path}' has no training_set/ folder and no class folders. Expected "
                f"training_set/<class>/*.png with val_set/ beside it (ImageNet style), or "
                f"simply one folder of images per class.")
        notes.append(f"No training_set/ in '{path}': treating each folder as a class and "
                     f"holding out {HELD_OUT_FRACTION:.0%} of every class for validation.")
    if classes_txt.is_file():
        classes = _read_classes_txt(classes_txt, notes)
        source = "classes.txt"
    else:
        classes = _subfolders(train_dir)
        if not classes:
            raise DatasetError(f"'{train_dir}' has no class folders. Put the training images "
                               f"in one folder per class, e.g. {train_dir}/cat/1.png.")
        source = "the sorted training folder names"
        reading.pending.append((classes_txt, classes, "the training folder names (sorted)"))
    if num_classes is not None and num_classes != len(classes):
        reading.problem(
            f"The model is set to {num_classes} classes, but '{path}' has {len(classes)}: "
            f"{', '.join(classes)} (from {source}). Remove `model.num_classes = {num_classes}` "
            f"to use the data set's classes, or set it to {len(classes)}.")

    train = _class_folder_samples(train_dir, classes, "training", reading)
    if not train:
        raise DatasetError(f"No training images found in '{train_dir}'. Expected image files "
                           f"(.png, .jpg, ...) in folders named after the classes: "
                           f"{', '.join(classes)}.")
    empty = [name for name, n in zip(classes, _count(train, len(classes))) if n == 0]
    if empty:
        notes.append(f"Warning: no training images for class(es) {', '.join(empty)}; the "
                     f"model cannot learn to recognise them.")
    splits = {"train": train}
    if train_dir == root:
        splits["train"], splits["val"] = hold_out(train, len(classes))
    else:
        val = _read_eval_split(root, "val", classes, reading)
        if val:
            splits["val"] = val
        else:
            splits["train"], splits["val"] = hold_out(train, len(classes))
            notes.append(f"No val_set/: held out {len(splits['val'])} training images "
                         f"({HELD_OUT_FRACTION:.0%} of each class, same every run) for validation.")
        test = _read_eval_split(root, "test", classes, reading)
        if test:
            splits["test"] = test
    _write_derived(reading)
    for note in notes:
        notify(note)
    return FolderDataset(root, classes, splits, notes)


def _count(samples: List[Sample], num_classes: int) -> List[int]:
    counts = [0] * num_classes
    for _, label in samples:
        counts[label] += 1
    return counts
