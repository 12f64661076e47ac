"""Building data set folders in the ImageNet layout easycls reads (DESIGN.md section 3).

- `split_dataset`: a folder of pictures per class, or a train/ + test/ pair, split
  into training_set/, val_set/, test_set/.
- `from_idx`: MNIST and Fashion-MNIST's IDX files.
- `from_cifar`: CIFAR-10/100's python pickles.

All three write the same way: into a hidden folder beside `dst`, which becomes `dst`
only when everything is written (an interrupted conversion leaves no half data set),
with classes.txt, val.txt and test.txt written by lists.write_list. Public as
`easycls.datasets`.
"""
import contextlib
import hashlib
import math
import numbers
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from ..errors import DatasetError, PathNotFoundError
from ..log import logger, progress
from .cache import default_threads
from .convert import (FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, Arrays, read_cifar,
                      read_idx_pair, write_images)
from .folder import _check_class_names, _images_below, _subfolders, split_folders, split_of
from .images import is_image_file
from .lists import OWNERSHIP_FILE, Reading, list_lines, listing, read_classes_txt, write_list

PathLike = Union[str, os.PathLike]
SPLIT_DIRS = {"train": "training_set", "val": "val_set", "test": "test_set"}
LIST_FILES = {"val": "val.txt", "test": "test.txt"}
MODES = ("copy", "link")


# --- split_dataset ----------------------------------------------------------------------

def split_dataset(src: PathLike, dst: PathLike, val: float = 0.2, test: float = 0.1,
                  seed: int = 0, mode: str = "copy") -> Path:
    """Split a folder of pictures per class into the ImageNet layout at `dst`; returns dst.

    `src` is either one folder per class (src/rock/*.png, src/paper/*.png, ...) or a
    train/ folder with test/ (and/or val/) beside it, each with one folder per class.
    A split the source already has is kept as it is; the missing ones are taken from
    the training pictures: `val` and `test` are the fractions of each class's
    (training) pictures that go to val_set/ and test_set/ (test=0: no test_set/).

    The split is stratified (per class) and reproducible: the same seed gives the same
    split on any computer, whatever order the file system lists the files in. Every
    picture lands in exactly one split, under its own file name (sub-folders kept). A
    class too small for every split gets a warning: training gets a picture first,
    then val_set, then test_set.

    mode='copy' copies the pictures; mode='link' makes hard links (no extra disk
    space; editing a picture in place then changes it in both folders), and copies
    where the file system allows no hard links (another drive, FAT USB sticks).

    Example:
        >>> from easycls.datasets import split_dataset
        >>> split_dataset('rps28', 'dataset/rps28', val=0.2)
        >>> model.load_dataset('dataset/rps28')
    """
    source = _existing_folder(src, "pictures")
    fractions = _checked_fractions(val, test)
    seed = _checked_seed(seed)
    if mode not in MODES:
        raise DatasetError(f"mode={mode!r} is not a split_dataset mode: use 'copy' (copy the "
                           f"pictures, the default) or 'link' (hard links, no extra disk space).")
    target = _checked_destination(dst, source)
    classes, given, skipped = _read_collection(source)
    wanted = {split: fraction for split, fraction in fractions.items() if split not in given}
    if "val" in wanted and wanted["val"] == 0:
        raise DatasetError(f"val=0 leaves no validation set, which training needs, and "
                           f"'{src}' has no val/ folder. Use e.g. val=0.2.")
    plan, small = _plan(classes, given, wanted, seed)
    if sum(1 for name in classes if plan["train"][name]) < 2:
        raise DatasetError(f"'{src}' has training pictures for fewer than two classes "
                           f"({', '.join(classes)}): a classifier needs at least two to choose "
                           f"between. Put each class's pictures in a folder of its own.")
    for line in skipped + small:
        logger.warning(f"Warning: {line}")

    with _staged(target) as staging:
        jobs, samples = [], {split: [] for split in SPLIT_DIRS}
        for split, per_class in plan.items():
            for label, name in enumerate(classes):
                for relative, origin in per_class.get(name, []):
                    path = staging / SPLIT_DIRS[split] / name / relative
                    jobs.append((origin, path))
                    samples[split].append((str(path), label))
        with progress(len(jobs), "Copying the pictures" if mode == "copy" else
                      "Linking the pictures") as advance:
            fallbacks = _transfer(jobs, mode, advance)
        _write_lists(staging, classes, samples)
    if fallbacks:
        logger.info(f"Note: {fallbacks[1]} file(s) could not be hard-linked ({fallbacks[0]}); "
                    f"copied them instead.")
    kept = "".join(f"; {SPLIT_DIRS[split]} is the source's {given_dir.name}/ as it was"
                   for split, given_dir in _given_dirs(source).items() if split != "train")
    how = "linked" if mode == "link" and not (fallbacks and fallbacks[1] == len(jobs)) else "copied"
    _summary(f"Split '{src}' into '{dst}' ({how}, seed {seed})", classes, samples, kept)
    return Path(dst)


def _plan(classes: List[str], given: dict, wanted: Dict[str, float], seed: int):
    """{split: {class: [(relative path, file)]}}: the given splits, and the wanted ones taken
    from the training pictures; and a warning for each class too small for every split."""
    plan = {split: {name: list(files) for name, files in given.get(split, {}).items()}
            for split in SPLIT_DIRS}
    small = []
    for name in classes:
        assigned = _stratified(given["train"].get(name, []), wanted, seed, key=name)
        for split, files in assigned.items():
            plan[split][name] = files
        if not assigned["train"] or any(not assigned[split] for split, fraction in wanted.items()
                                        if fraction > 0):
            small.append(_too_small(name, {split: len(files) for split, files in assigned.items()},
                                    wanted))
    return plan, small


def _read_collection(source: Path):
    """(classes, {split: {class: [(relative path, file)]}}, warnings) of a picture collection."""
    folders = split_folders(source)
    if "train" not in folders:
        splits = [name for name in _subfolders(source) if split_of(name)]
        if splits:
            raise DatasetError(
                f"'{source}' has {', '.join(name + '/' for name in splits)} but no train/ "
                f"folder. Give either one folder per class, or train/ (with test/ or val/ beside "
                f"it) holding one folder per class.")
        folders = {"train": source}
    warnings = []
    if folders["train"] != source:
        for name in _subfolders(source):
            if source / name not in folders.values() and _images_below(source / name):
                warnings.append(f"'{source / name}' is not a split folder (train/, val/, test/): "
                                f"its pictures are not part of the new data set.")
    classes_txt = source / "classes.txt"
    if classes_txt.is_file():
        classes, origin = read_classes_txt(classes_txt, []), f"'{classes_txt}'"
    else:
        classes, origin = _subfolders(folders["train"]), "the folder names"
    if not classes:
        raise DatasetError(f"'{folders['train']}' has no class folders. Expected one folder of "
                           f"pictures per class, e.g. {folders['train'] / 'rock'}/1.png.")
    _check_class_names(classes, origin)
    reading = Reading([], write_lists=False, problems=[])
    given = {}
    for split, folder in folders.items():
        unknown = [name for name in _subfolders(folder) if name not in classes]
        if unknown:
            raise DatasetError(
                f"'{folder}' has folder(s) {', '.join(repr(n) for n in unknown)} that are not "
                f"classes ({', '.join(classes)}, from {origin}). Every class folder of val/ or "
                f"test/ must also be in train/ (and in classes.txt, where there is one); rename "
                f"or move the folder.")
        loose = sorted(p for p in os.listdir(folder) if is_image_file(p) and (folder / p).is_file())
        if loose:
            warnings.append(f"{len(loose)} picture(s) directly in '{folder}' ({listing(loose)}) "
                            f"belong to no class folder and are not part of the new data set.")
        given[split] = {}
        for name in classes:
            class_dir = folder / name
            files = _images_below(class_dir, reading) if class_dir.is_dir() else []
            given[split][name] = [(Path(os.path.relpath(f, class_dir)).as_posix(), f)
                                  for f in files]
    if reading.strange or reading.unlistable:
        odd = reading.strange + reading.unlistable
        warnings.append(f"{len(odd)} file(s) named like pictures are left out: they are not "
                        f"regular files, or have a line break in their name: {listing(odd)}.")
    if not any(files for per_class in given.values() for files in per_class.values()):
        raise DatasetError(f"No pictures found in '{source}'. Expected image files (.png, .jpg, "
                           f"...) in one folder per class: {', '.join(classes)}.")
    return classes, given, warnings


def _given_dirs(source: Path) -> Dict[str, Path]:
    folders = split_folders(source)
    return folders if "train" in folders else {}


def _too_small(name: str, counts: Dict[str, int], wanted: Dict[str, float]) -> str:
    total = sum(counts.values())
    parts = [f"{counts[split] or 'none'} for {SPLIT_DIRS[split]}"
             for split in ("train", *wanted) if split == "train" or wanted[split] > 0]
    if total == 0:
        return f"class '{name}' has no (training) pictures: the model cannot learn it."
    return (f"class '{name}' has only {total} (training) picture(s), too few to give every split "
            f"one: {', '.join(parts)}. Add pictures to it.")


def _transfer(jobs: List[Tuple[str, Path]], mode: str,
              advance: Callable[[int], None]) -> Optional[Tuple[str, int]]:
    """Copy (or hard-link) each (origin, path); returns (why, how many) of links that fell back."""
    for folder in sorted({path.parent for _, path in jobs}):
        folder.mkdir(parents=True, exist_ok=True)

    def move(job) -> Optional[str]:
        origin, path = job
        if mode == "link":
            try:
                os.link(origin, path)
                return None
            except OSError as exc:
                shutil.copyfile(origin, path)
                return exc.strerror or str(exc)
        shutil.copyfile(origin, path)
        return None

    with ThreadPoolExecutor(default_threads()) as pool:
        failures = []
        for why in pool.map(move, jobs):
            advance(1)
            if why:
                failures.append(why)
    return (failures[0], len(failures)) if failures else None


# --- from_idx and from_cifar ------------------------------------------------------------

def from_idx(src: PathLike, dst: PathLike, classes: Optional[Sequence[str]] = None,
             val: Optional[float] = None, seed: int = 0, limit: Optional[int] = None) -> Path:
    """MNIST-format IDX files (MNIST, Fashion-MNIST; .gz or not) as a data set at `dst`.

    `src` holds train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz) and the
    same for t10k. `classes`: one name per label (default: the label numbers '0',
    '1', ...). With val=None (default) the t10k pictures become val_set/, as in
    OpenMMLab and MMEdu; with val=0.1, that fraction of each class's training
    pictures becomes val_set/ and t10k becomes test_set/. `limit` keeps only the
    first N pictures of each file, for quick experiments. Returns dst.

    Example:
        >>> from_idx('/usr/share/datasets/fashion-mnist', 'dataset/fashion',
        ...          classes=FASHION_MNIST_CLASSES)
    """
    folder = _existing_folder(src, "IDX files")
    val_fraction = None if val is None else _checked_val(val)
    seed, limit = _checked_seed(seed), _checked_limit(limit)
    target = _checked_destination(dst)
    train, t10k = read_idx_pair(folder, "train", limit), read_idx_pair(folder, "t10k", limit)
    highest = int(max(train[1].max(initial=0), t10k[1].max(initial=0)))
    lowest = int(min(train[1].min(initial=0), t10k[1].min(initial=0)))
    if lowest < 0:
        raise DatasetError(f"'{src}' has a negative label ({lowest}); MNIST labels count from 0.")
    names = _checked_names(classes, highest, src)
    return _arrays_to_folder(target, names, train, t10k, val_fraction, seed,
                             f"'{src}' (IDX) into '{dst}'", "t10k")


def fashion_mnist_to_folder(dst: PathLike, src: PathLike = FASHION_MNIST_DIR,
                            val: Optional[float] = None, limit: Optional[int] = None) -> Path:
    """Fashion-MNIST (by default from Debian's package dataset-fashion-mnist) at `dst`,
    with its class names: from_idx(src, dst, FASHION_MNIST_CLASSES, val, limit=limit)."""
    return from_idx(src, dst, classes=FASHION_MNIST_CLASSES, val=val, limit=limit)


def from_cifar(src: PathLike, dst: PathLike, val: Optional[float] = None, seed: int = 0,
               limit: Optional[int] = None) -> Path:
    """CIFAR-10 or CIFAR-100 (python version) as a data set of 32x32 PNGs at `dst`.

    `src`: the folder cifar-10-batches-py or cifar-100-python, the folder holding it,
    or the downloaded cifar-10-python.tar.gz / cifar-100-python.tar.gz itself. Class
    names come from the meta file (CIFAR-100: its 100 fine labels). The pickles are
    read safely: anything in them but arrays, lists and names is refused. With
    val=None (default) the test batch becomes val_set/, as in OpenMMLab and MMEdu;
    with val=0.1, that fraction of each class's training pictures becomes val_set/
    and the test batch becomes test_set/. `limit` keeps the first N pictures of the
    training and of the test pictures. Returns dst.

    Example:
        >>> from_cifar('cifar-10-python.tar.gz', 'dataset/cifar10')
    """
    path = Path(src)
    val_fraction = None if val is None else _checked_val(val)
    seed, limit = _checked_seed(seed), _checked_limit(limit)
    target = _checked_destination(dst)
    cifar = read_cifar(path)  # everything is read and checked before anything is written
    _check_class_names(cifar.classes, f"the {cifar.name} meta file")
    train = (cifar.train[0][:limit], cifar.train[1][:limit])
    test = (cifar.test[0][:limit], cifar.test[1][:limit])
    return _arrays_to_folder(target, cifar.classes, train, test, val_fraction, seed,
                             f"'{src}' ({cifar.name}) into '{dst}'", "test batch")


def _arrays_to_folder(target: Path, classes: List[str], train: Arrays, test: Arrays,
                      val: Optional[float], seed: int, what: str, test_name: str) -> Path:
    """Write training pictures and test pictures: the test ones as val_set (val=None) or
    as test_set with `val` of the training pictures as val_set."""
    digits = max(5, len(str(max(len(train[1]), len(test[1])) - 1)))
    parts = {"train": (train, list(range(len(train[1]))))}
    if val is None:
        parts["val"] = (test, list(range(len(test[1]))))
        kept = f"; val_set is the {test_name}"
    else:
        by_class = {name: [] for name in classes}
        for index, label in enumerate(train[1].tolist()):
            by_class[classes[label]].append((f"{index:0{digits}d}", index))
        chosen = {"train": [], "val": []}
        for name, members in by_class.items():
            for split, files in _stratified(members, {"val": val}, seed, key=name).items():
                chosen[split].extend(index for _, index in files)
        parts = {"train": (train, sorted(chosen["train"])), "val": (train, sorted(chosen["val"])),
                 "test": (test, list(range(len(test[1]))))}
        kept = f"; val_set is {val:g} of the training pictures, test_set the {test_name}"
    total = sum(len(indices) for _, indices in parts.values())
    with _staged(target) as staging, progress(total, "Writing the pictures") as advance:
        samples = {split: write_images(images, labels, indices, staging / SPLIT_DIRS[split],
                                       classes, digits, advance)
                   for split, ((images, labels), indices) in parts.items()}
        _write_lists(staging, classes, samples)
    _summary(f"Converted {what}", classes, samples, kept)
    return target


# --- What all three share ---------------------------------------------------------------

def _order_key(seed: int, key: str, name: str) -> bytes:
    """A keyed hash: the same order on every computer and Python version, for any listing
    order, and adding a picture does not reshuffle the others."""
    return hashlib.sha256(f"{seed}\0{key}\0{name}".encode("utf-8", "surrogateescape")).digest()


def _stratified(members: List[tuple], wanted: Dict[str, float], seed: int,
                key: str) -> Dict[str, List[tuple]]:
    """Split one class's (name, ...) members into 'train' and the wanted splits.

    Each wanted split gets round(n * fraction) members, at least one where the class
    has enough: training keeps one first, then val, then test. Each split's members
    come back sorted by name."""
    ordered = sorted(members, key=lambda member: _order_key(seed, key, member[0]))
    counts = _split_counts(len(ordered), wanted)
    assigned, start = {}, 0
    for split, count in counts.items():
        assigned[split] = sorted(ordered[start:start + count], key=lambda member: member[0])
        start += count
    assigned["train"] = sorted(ordered[start:], key=lambda member: member[0])
    return assigned


def _split_counts(n: int, wanted: Dict[str, float]) -> Dict[str, int]:
    order = [split for split in ("val", "test") if split in wanted]
    counts = {split: math.floor(n * wanted[split] + 0.5) for split in order}
    for split in order:  # at least one for each split asked for
        if wanted[split] > 0:
            counts[split] = max(counts[split], 1)
    for floor in (1, 0):  # too many taken: give back, test first, keeping one if possible
        for split in reversed(order):
            while n - sum(counts.values()) < 1 and counts[split] > floor:
                counts[split] -= 1
    return counts


def _write_lists(root: Path, classes: List[str], samples: Dict[str, List[Tuple[str, int]]]) -> None:
    write_list(root / "classes.txt", list(classes))
    for split, list_name in LIST_FILES.items():
        if samples.get(split):
            write_list(root / list_name, list_lines(samples[split], root / SPLIT_DIRS[split]))


def _summary(what: str, classes: List[str], samples: Dict[str, list], kept: str) -> None:
    counts = ", ".join(f"{SPLIT_DIRS[split]} {len(samples[split])}"
                       for split in SPLIT_DIRS if samples.get(split))
    shown = listing(list(classes), shown=10)
    logger.info(f"{what}: {len(classes)} classes ({shown}); {counts} pictures{kept}.")


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A hidden folder beside target to write into; it becomes target when all went well,
    and is removed when anything fails, so that no half-written data set is left."""
    target = Path(os.path.abspath(target))
    staging = target.parent / f".{target.name}.easycls-partial"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if staging.exists():  # left by a conversion that was killed
            shutil.rmtree(staging)
        staging.mkdir()
    except OSError as exc:
        raise DatasetError(f"Cannot write the data set beside '{target}' ({exc.strerror or exc}). "
                           f"Choose a folder you can write to.") from exc
    try:
        yield staging
        if target.is_dir():  # an empty folder the user made: fill it
            for entry in sorted(os.listdir(staging)):
                os.replace(staging / entry, target / entry)
            staging.rmdir()
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _existing_folder(path: PathLike, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise DatasetError(f"The source must be a folder path (a string), got "
                           f"{type(path).__name__} {path!r}.")
    folder = Path(path)
    if not folder.exists():
        raise PathNotFoundError(f"Source folder '{path}' does not exist (looked in "
                                f"{Path.cwd()}). Give the folder that holds the {what}.")
    if not folder.is_dir():
        raise DatasetError(f"'{path}' is a file; give the folder that holds the {what}.")
    return folder


def _checked_destination(dst: PathLike, source: Optional[Path] = None) -> Path:
    """dst must be new or an empty folder, and (for pictures) outside the source."""
    if not isinstance(dst, (str, os.PathLike)):
        raise DatasetError(f"The destination must be a folder path (a string), got "
                           f"{type(dst).__name__} {dst!r}.")
    target = Path(dst)
    if source is not None:
        real_target, real_source = Path(os.path.realpath(target)), Path(os.path.realpath(source))
        if real_target == real_source or real_source in real_target.parents:
            raise DatasetError(
                f"The destination '{dst}' is inside the source '{source}': the new data set "
                f"would be mixed into the pictures it is made from. Choose a folder outside it, "
                f"e.g. '{real_source.parent / (real_source.name + '_split')}'.")
    if target.exists() and not target.is_dir():
        raise DatasetError(f"The destination '{dst}' is a file. Give the path of a new folder.")
    if target.is_dir():
        entries = sorted(os.listdir(target))
        marks = [e for e in entries if e in ("classes.txt", "val.txt", "test.txt", OWNERSHIP_FILE)
                 or (split_of(e) and (target / e).is_dir())]
        if marks:
            raise DatasetError(f"'{dst}' already holds a data set ({listing(marks)}); easycls "
                               f"does not write over one. Choose a new folder, or delete "
                               f"'{dst}' first.")
        if entries:
            raise DatasetError(f"'{dst}' is not empty (it holds {listing(entries)}). Choose a new "
                               f"folder (it is created) or an empty one.")
    return target


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _checked_fractions(val, test) -> Dict[str, float]:
    for name, value in (("val", val), ("test", test)):
        if not _is_number(value):
            raise DatasetError(f"{name}={value!r} is not a fraction: give a number between 0 and "
                               f"1, e.g. val=0.2, test=0.1.")
        if value < 0:
            raise DatasetError(f"{name}={value} is negative: it is the fraction of each class's "
                               f"pictures for {SPLIT_DIRS[name]}, between 0 and 1 (e.g. 0.2).")
    if val + test >= 1:
        raise DatasetError(f"val={val} and test={test} add up to {val + test:g}, which leaves no "
                           f"pictures for training. They must add up to less than 1, e.g. "
                           f"val=0.2, test=0.1.")
    return {"val": float(val), "test": float(test)}


def _checked_val(val) -> float:
    if not _is_number(val) or not 0 < val < 1:
        raise DatasetError(f"val={val!r} is not valid: give None (the test pictures become "
                           f"val_set) or a fraction between 0 and 1 of the training pictures, "
                           f"e.g. val=0.1.")
    return float(val)


def _checked_seed(seed) -> int:
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise DatasetError(f"seed={seed!r} is not a whole number; use e.g. seed=0.")
    return int(seed)


def _checked_limit(limit) -> Optional[int]:
    if limit is not None and (not isinstance(limit, numbers.Integral) or isinstance(limit, bool)
                              or limit < 1):
        raise DatasetError(f"limit={limit!r} is not valid: give None (all pictures) or how many "
                           f"pictures of each file to keep, e.g. limit=1000.")
    return limit


def _checked_names(classes: Optional[Sequence[str]], highest: int, src) -> List[str]:
    if classes is None:
        return [str(label) for label in range(highest + 1)]
    if isinstance(classes, str) or not all(isinstance(name, str) for name in classes):
        raise DatasetError(f"classes={classes!r} is not a list of class names; give one name per "
                           f"label, e.g. classes=['zero', 'one', ...], or None for '0', '1', ....")
    names = list(classes)
    if highest >= len(names):
        raise DatasetError(f"'{src}' has labels 0..{highest}, but {len(names)} class names were "
                           f"given ({listing(names)}). Give one name per label ({highest + 1} "
                           f"names), or classes=None to name them by their numbers.")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DatasetError(f"classes names {', '.join(duplicates)} more than once; each class "
                           f"needs a name of its own.")
    _check_class_names(names, "classes=")
    return names
