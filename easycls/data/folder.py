"""Reading an ImageNet-style data set folder and fixing its classes once.

Layout (DESIGN.md section 3): classes.txt, training_set/<class>/*, val_set/ with
class folders or val.txt, optional test_set/ with class folders or test.txt.
A plain folder-per-class collection without splits is split in memory. Where a
split has class folders, the folders are the truth; list files are in lists.py.
"""
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch

from ..errors import DatasetError, PathNotFoundError
from ..i18n import tr
from ..log import logger
from .images import is_image_file
from .lists import (Reading, inside, list_lines, listing, read_classes_txt, read_list_file,
                    same_lines, unmarked_copy_of, write_derived, written_by_easycls)

# Folder names of each split, as people write them: compared in lower case without
# spaces, dashes or underscores ("Validation Set" is "validationset").
SPLIT_FOLDERS = {
    "train": ("trainingset", "train", "training", "trainset", "traindata", "trainingdata"),
    "val": ("valset", "val", "valid", "validation", "validset", "validationset", "eval",
            "evaluation", "evalset", "dev", "devset"),
    "test": ("testset", "test", "testing", "testingset", "testdata"),
}
CANONICAL_SPLIT_FOLDERS = {"train": "training_set", "val": "val_set", "test": "test_set"}
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

    def __repr__(self) -> str:  # a notebook echoes it: a summary, not every file
        return f"FolderDataset('{self.root}', classes={self.classes}, sizes={self.sizes()})"


def _ignored(name: str) -> bool:
    return name.lower() in IGNORED_NAMES or name.startswith(".")


def _subfolders(folder: Path) -> List[str]:
    return sorted(entry.name for entry in os.scandir(folder)
                  if entry.is_dir() and not _ignored(entry.name))


def _images_below(folder: Path, reading: Optional[Reading] = None) -> List[str]:
    """Image files in a folder and its sub-folders, in sorted order (a folder's files,
    then its sub-folders). Linked folders are followed, each real folder once; files
    named like pictures that are not regular files (pipes, devices, broken links) are
    left out, and with a `reading`, named, as are links to pictures outside the data set."""
    found, seen = [], set()

    def walk(directory: str) -> None:
        real = os.path.realpath(directory)
        if real in seen:  # a link loop, or a folder linked twice
            return
        seen.add(real)
        entries = sorted((e for e in os.scandir(directory) if not _ignored(e.name)),
                         key=lambda e: e.name)
        for entry in entries:
            if entry.is_dir() or not is_image_file(entry.name):
                continue
            if not entry.is_file():
                if reading is not None:
                    reading.strange.append(entry.path)
            elif any(ord(ch) < 32 for ch in entry.name):  # a line break would split its list line
                if reading is not None:
                    reading.unlistable.append(entry.path)
            elif reading is not None and entry.is_symlink() and not inside(entry.path, reading.root):
                reading.outside.append(entry.path)
            else:
                found.append(entry.path)
        for entry in entries:
            if entry.is_dir():
                walk(entry.path)

    walk(str(folder))
    return found


def _split_key(folder_name: str) -> str:
    return "".join(ch for ch in folder_name.lower() if ch.isalnum())


def split_of(folder_name: str) -> Optional[str]:
    """'train', 'val' or 'test' for a folder name that means one, else None."""
    key = _split_key(folder_name)
    return next((split for split, names in SPLIT_FOLDERS.items() if key in names), None)


def _find_split_folder(root: Path, split: str) -> Optional[Path]:
    """The split's folder; of two candidates (val/ and validation/), the more usual name."""
    found = [name for name in _subfolders(root) if split_of(name) == split]
    if not found:
        return None
    return root / min(found, key=lambda name: SPLIT_FOLDERS[split].index(_split_key(name)))


def split_folders(root: Path) -> Dict[str, Path]:
    """The split folders directly inside `root`, by split ('train', 'val', 'test')."""
    found = {split: _find_split_folder(root, split) for split in SPLIT_FOLDERS}
    return {split: folder for split, folder in found.items() if folder is not None}


def _note_other_folders(root: Path, used: List[Path], reading: Reading) -> None:
    """Folders beside the splits that hold images easycls does not read: name them."""
    for name in _subfolders(root):
        if root / name in used:
            continue
        images = _images_below(root / name)
        if not images:
            continue
        split = split_of(name)
        if split is not None:  # a second folder for a split already found
            hint = f"easycls reads {_used_for(split, used)} for that split"
        else:
            aliases = {alias: split for split, names in SPLIT_FOLDERS.items() for alias in names}
            close = difflib.get_close_matches(_split_key(name), list(aliases), n=1, cutoff=0.75)
            hint = (f"rename it to {CANONICAL_SPLIT_FOLDERS[aliases[close[0]]]}/ if that is what "
                    f"it holds" if close else "it is not a split name easycls reads "
                                              "(training_set/, val_set/, test_set/)")
        reading.notes.append(f"Warning: found {len(images)} images in '{name}/', which are not "
                             f"used: {hint}.")


def _used_for(split: str, used: List[Path]) -> str:
    return next(f"{path.name}/" for path in used if split_of(path.name) == split)


def _class_folder_samples(folder: Path, classes: List[str], split_name: str,
                          reading: Reading) -> List[Sample]:
    index = {name: i for i, name in enumerate(classes)}
    unknown = [name for name in _subfolders(folder) if name not in index]
    if unknown:
        reading.problem(_unknown_folders_message(folder, unknown, classes, split_name))
    samples = []
    for name in classes:
        class_dir = folder / name
        if class_dir.is_dir():
            samples.extend((path, index[name]) for path in _images_below(class_dir, reading))
    return samples


def _unknown_folders_message(folder: Path, unknown: List[str], classes: List[str],
                             split_name: str) -> str:
    def loose(name: str) -> str:
        return " ".join(name.lower().split())

    near = {u: c for u in unknown for c in classes if loose(u) == loose(c)}
    if near:
        pairs = ", ".join(f"folder {u!r} / class {c!r}" for u, c in near.items())
        return (f"'{folder}' has folder(s) whose names differ from classes.txt only in capital "
                f"letters or spaces ({pairs}); they must match exactly. Rename the folders "
                f"or correct classes.txt so that the two agree letter for letter.")
    return (f"'{folder}' has folder(s) {', '.join(repr(u) for u in unknown)} that are not "
            f"classes of this data set ({', '.join(classes)}). Every {split_name} folder must "
            f"be one of the classes: add the name to classes.txt (as a new last line, so the "
            f"other labels stay the same), or move the folder out of '{folder}'.")


def _read_eval_split(root: Path, split: str, classes: List[str],
                     reading: Reading) -> Optional[List[Sample]]:
    folder = _find_split_folder(root, split)
    if folder is None:
        return None
    list_file = root / f"{split}.txt"
    if not _subfolders(folder):
        if list_file.is_file():
            return read_list_file(list_file, folder, classes, reading)
        if _images_below(folder):
            reading.problem(
                f"'{folder}' holds images directly, but there is no {list_file.name} to say "
                f"their labels. Either sort the images into one folder per class "
                f"({', '.join(classes)}), or write {list_file} with one "
                f"'<file name> <label>' line per image.")
        else:
            reading.notes.append(f"'{folder.name}' is empty: no {split} split.")
        return None
    # Class folders are the truth; a list easycls wrote follows them.
    samples = _class_folder_samples(folder, classes, split, reading)
    lines, source = list_lines(samples, folder), f"the class folders in {folder.name}/"
    if not list_file.is_file():
        reading.derive(list_file, lines, "was missing", source)
        return samples
    if unmarked_copy_of(list_file, lines):
        reading.derive(list_file, lines, None, source)
        return samples
    if written_by_easycls(list_file):
        if not same_lines(list_file, lines):
            before = sum(1 for line in list_file.read_text(encoding="utf-8").splitlines() if line)
            reading.derive(list_file, lines, f"was written by easycls and the folders have "
                                             f"changed since ({before} images then, {len(lines)} "
                                             f"now)", source)
        return samples
    listed = read_list_file(list_file, folder, classes, reading, in_folders=len(samples))
    if set(listed) != set(samples):
        only_listed = len(set(listed) - set(samples))
        only_folders = len(set(samples) - set(listed))
        reading.notes.append(
            f"Warning: {list_file.name} (written by hand) lists {len(listed)} images, the class "
            f"folders in {folder.name}/ hold {len(samples)} ({only_folders} only in the folders, "
            f"{only_listed} listed elsewhere or with another class). easycls uses "
            f"{list_file.name}; delete it to use the folders instead.")
    return listed


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
    samples = _class_folder_samples(root, classes, "labelled", Reading([], write_lists=False))
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


def _refuse_a_split_given_as_the_data_set(root: Path, path) -> None:
    """load_dataset('data/training_set') instead of load_dataset('data')."""
    split, parent = split_of(root.name), Path(os.path.abspath(root)).parent
    if split is None:
        return
    beside = [name for name in _subfolders(parent) if split_of(name) and name != root.name]
    beside += ["classes.txt"] if (parent / "classes.txt").is_file() else []
    if beside:
        shown = ", ".join(name + ("" if name.endswith(".txt") else "/") for name in beside)
        kind = {"train": "training", "val": "validation", "test": "test"}[split]
        raise DatasetError(
            f"'{path}' is the {kind} folder of a data set (beside it in '{parent}': {shown}). "
            f"Load the data set folder itself: "
            f"model.load_dataset('{Path(path).parent.as_posix() or '.'}').")


def _refuse_a_data_set_one_folder_down(root: Path, path) -> None:
    """A zip unpacked into a folder of its own: data/hand_gray/training_set/..."""
    for name in _subfolders(root):
        if any(split_of(inner) == "train" for inner in _subfolders(root / name)):
            raise DatasetError(
                f"'{path}' holds a data set one folder down, in '{name}/' (it has its own "
                f"training folder). Load that folder: "
                f"model.load_dataset('{(Path(path) / name).as_posix()}').")


def _refuse_splits_without_training(root: Path, path) -> None:
    """val_set/ (with class folders) but no training folder: not a plain collection."""
    splits = [name for name in _subfolders(root)
              if split_of(name) and _subfolders(root / name)]
    if splits:
        raise DatasetError(
            f"'{path}' has {', '.join(name + '/' for name in splits)} but no training folder. "
            f"Put the training images in '{root / 'training_set'}', one folder per class.")


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
        raise PathNotFoundError(tr(
            "Data set folder '{path}' does not exist (looked in {cwd}). Check the path; it should "
            "contain classes.txt and training_set/, val_set/ folders.", path=path, cwd=Path.cwd()))
    if not root.is_dir():
        raise DatasetError(f"'{path}' is a file, but a data set is a folder with "
                           f"training_set/ and val_set/ (or one folder per class).")
    reading = Reading([], write_lists, problems, root=root)
    notes = reading.notes
    train_dir = _find_split_folder(root, "train")
    classes_txt = root / "classes.txt"
    if train_dir is None:
        _refuse_a_split_given_as_the_data_set(root, path)
        _refuse_a_data_set_one_folder_down(root, path)
        _refuse_splits_without_training(root, path)
        train_dir = root
        if not _subfolders(root):
            raise DatasetError(
                f"'{path}' has no training_set/ folder and no class folders. Expected "
                f"training_set/<class>/*.png with val_set/ beside it (ImageNet style), or "
                f"simply one folder of images per class.")
        notes.append(f"No training_set/ in '{path}': treating each folder as a class and "
                     f"holding out {HELD_OUT_FRACTION:.0%} of every class for validation.")
    if classes_txt.is_file():
        classes = read_classes_txt(classes_txt, notes)
        source = "classes.txt"
    else:
        classes = _subfolders(train_dir)
        if not classes:
            raise DatasetError(f"'{train_dir}' has no class folders. Put the training images "
                               f"in one folder per class, e.g. {train_dir}/cat/1.png.")
        source = "the sorted training folder names"
        reading.derive(classes_txt, classes, "was missing", "the training folder names (sorted)")
    _check_class_names(classes, source)
    if len(classes) < 2:
        raise DatasetError(
            f"'{path}' has only one class ({classes[0]}, from {source}): a classifier needs at "
            f"least two to choose between. Put each class's pictures in a folder of its own, "
            f"e.g. training_set/cat/ and training_set/dog/.")
    if num_classes is not None and num_classes != len(classes):
        reading.problem(tr(
            "The model is set to {wanted} classes, but '{path}' has {found}: {names} (from "
            "{source}). Remove `model.num_classes = {wanted}` to use the data set's classes, or "
            "set it to {found}.", wanted=num_classes, path=path, found=len(classes),
            names=", ".join(classes), source=source))

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
        used = [folder for folder in (_find_split_folder(root, s) for s in SPLIT_FOLDERS) if folder]
        _note_other_folders(root, used, reading)
    _report_odd_files(reading)
    write_derived(reading)
    for note in notes:
        notify(note)
    return FolderDataset(root, classes, splits, notes)


def _check_class_names(classes: List[str], source: str) -> None:
    """Class names become folder names and list lines: they must be plain, one-line names.

    Fatal even while problems are being collected: reading on would walk folders such
    as '/' or '..' that are not the class's at all.
    """
    bad = [name for name in classes
           if name in (".", "..") or os.path.isabs(name) or any(sep in name for sep in "/\\")
           or name != name.strip() or any(ord(ch) < 32 for ch in name)]
    if bad:
        raise DatasetError(
            f"Class name(s) {', '.join(repr(name) for name in bad)} (from {source}) cannot be "
            f"used: a class name is the name of a folder inside training_set/, so it may not be "
            f"'.' or '..', contain '/' or '\\', start or end with a space or hold a line "
            f"break. Rename the class folders (and classes.txt) to plain names like 'rock'.")


def _report_odd_files(reading: Reading) -> None:
    if reading.strange:
        reading.notes.append(
            f"Warning: {len(reading.strange)} file(s) named like pictures are not regular files "
            f"(pipes, devices or broken links) and are skipped: {listing(reading.strange)}.")
    if reading.unlistable:
        reading.notes.append(
            f"Warning: {len(reading.unlistable)} picture(s) have a line break or another control "
            f"character in their file name, which no list file can hold, so they are skipped: "
            f"{listing([repr(path) for path in reading.unlistable])}. Rename them.")
    if reading.outside:
        reading.problem(
            f"{len(reading.outside)} picture(s) are links to files outside '{reading.root}': "
            f"{listing(reading.outside)}. A data set must hold its own pictures: copy them in, "
            f"or remove the links.")


def _count(samples: List[Sample], num_classes: int) -> List[int]:
    counts = [0] * num_classes
    for _, label in samples:
        counts[label] += 1
    return counts
