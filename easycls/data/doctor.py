"""The dataset doctor: every problem of a data set folder, named, before training.

Problems that would train on wrong labels are errors (training refuses to start);
the rest are warnings that say what easycls will do about them.
"""
import hashlib
import logging
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from PIL import Image

from ..errors import DatasetError, ImageError
from ..log import logger
from .cache import default_threads
from .folder import IGNORED_NAMES, FolderDataset, as_folder_path, read_dataset, split_of
from .headers import HEADER_BYTES, header_size
from .images import check_pixels, is_image_file, open_image
from .lists import OWNERSHIP_FILE, listing
from .pipeline import MAX_UNREADABLE_SHARE, too_many_unreadable

LIST_FILES = {"classes.txt", "val.txt", "test.txt", "readme.md", "readme.txt", "license",
              "license.txt"}
TINY_SIDE, HUGE_PIXELS = 8, 50_000_000
IMBALANCE_RATIO = 3.0
TRAINING_SPLITS = ("train", "val")  # what train() reads; the test split is only evaluated
# The quick check (run by every load_dataset) must stay quick on 60,000-image sets:
# it reads the headers of an even sample, and compares files only in smaller sets.
QUICK_HEADER_SAMPLE = 2000
QUICK_DUPLICATE_LIMIT = 20000


@dataclass
class DatasetReport:
    """What check_dataset found. `str(report)` is the printed report."""

    root: Path
    level: str
    classes: List[str] = field(default_factory=list)
    counts: Dict[str, List[int]] = field(default_factory=dict)
    modes: Dict[str, int] = field(default_factory=dict)
    errors: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    dataset: Optional[FolderDataset] = field(default=None, repr=False)
    exception: Optional[DatasetError] = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        lines = [f"Data set '{self.root}' ({self.level} check): {len(self.classes)} classes"]
        if self.classes:
            splits = list(self.counts)
            width = max(len(c) for c in self.classes + ["class"])
            lines.append("  " + "class".ljust(width) + "".join(f"{s:>8}" for s in splits))
            for i, name in enumerate(self.classes):
                lines.append("  " + name.ljust(width) +
                             "".join(f"{self.counts[s][i]:>8}" for s in splits))
        if self.modes:
            lines.append("  image modes: " + ", ".join(f"{m} {n}" for m, n in sorted(self.modes.items())))
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  WARNING: {w}" for w in self.warnings]
        lines += [f"  ERROR: {e}" for e in self.errors]
        verdict = ("no problems found" if not (self.errors or self.warnings) else
                   f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)")
        lines.append(f"  => {verdict}")
        return "\n".join(lines)


def _scan_litter(root: Path, report: DatasetReport) -> None:
    """Stray folders and files, and class folders without pictures."""
    litter, strays, empty = [], [], []
    for current, dirs, files in os.walk(root):
        here = Path(current)
        for name in list(dirs):
            if name.lower() in IGNORED_NAMES or name.startswith("."):
                litter.append(str((here / name).relative_to(root)))
                dirs.remove(name)
        for name in files:
            relative = str((here / name).relative_to(root))
            if here == root and name == OWNERSHIP_FILE:
                continue
            if name.lower() in IGNORED_NAMES or name.startswith("."):
                litter.append(relative)
            elif not is_image_file(name) and not (here == root and name.lower() in LIST_FILES):
                strays.append(relative)
        is_class_folder = here.parent != here and here != root and (
            here.parent == root and split_of(here.name) is None or
            split_of(here.parent.name) is not None)
        if is_class_folder and not dirs and not any(is_image_file(f) for f in files):
            empty.append(str(here.relative_to(root)))
    if litter:
        report.warnings.append(f"{len(litter)} system or notebook leftover(s), ignored: {listing(litter)}.")
    if strays:
        report.warnings.append(f"{len(strays)} file(s) that are not images, ignored: {listing(strays)}.")
    if empty:
        report.warnings.append(f"{len(empty)} class folder(s) with no images: {listing(empty)}.")


def _check_balance(dataset: FolderDataset, report: DatasetReport) -> None:
    train = report.counts.get("train", [])
    present = [n for n in train if n]
    if present and max(present) > IMBALANCE_RATIO * min(present):
        most, least = train.index(max(present)), train.index(min(present))
        report.warnings.append(
            f"The classes are imbalanced: {dataset.classes[most]} has {max(present)} training "
            f"images but {dataset.classes[least]} only {min(present)}. The model will favour "
            f"the large classes; add images to the small ones if you can.")
    for split in ("val", "test"):
        if split not in report.counts:
            continue
        only_there = [c for c, t, n in zip(dataset.classes, train, report.counts[split]) if n and not t]
        if only_there:
            report.warnings.append(f"{split} has images of {listing(only_there)}, which training "
                                   f"has none of: the model can never predict them.")
    if "val" in report.counts:
        unvalidated = [c for c, t, n in zip(dataset.classes, train, report.counts["val"]) if t and not n]
        if unvalidated:
            report.warnings.append(f"Validation has no images of {listing(unvalidated)}: their "
                                   f"accuracy is never measured.")


def _inspect(path: str, full: bool):
    """(mode, (width, height), error) from the header, or from a full decode."""
    try:
        if full:  # the very path training reads with
            image = open_image(path)
            return image.mode, image.size, None
        with open(path, "rb") as handle:  # the check training makes, on the header alone
            size = header_size(memoryview(handle.read(HEADER_BYTES)))
        if size is not None:
            check_pixels(path, *size)
        with Image.open(path) as image:
            check_pixels(path, *image.size)
            return image.mode, image.size, None
    except ImageError as exc:
        return None, None, str(exc)
    except Exception as exc:  # any decoder failure means "unreadable"; the reason is shown
        return None, None, f"{type(exc).__name__}: {exc}"


def _check_images(dataset: FolderDataset, report: DatasetReport, full: bool) -> None:
    entries = [(split, path) for split, samples in dataset.splits.items() for path, _ in samples]
    if not full and len(entries) > QUICK_HEADER_SAMPLE:
        step = len(entries) / QUICK_HEADER_SAMPLE
        entries = [entries[int(i * step)] for i in range(QUICK_HEADER_SAMPLE)]
        report.notes.append(f"Image headers checked for an even sample of {len(entries)} images; "
                            f"check='full' decodes them all.")
    with ThreadPoolExecutor(default_threads()) as pool:
        found = list(pool.map(lambda entry: _inspect(entry[1], full), entries, chunksize=64))
    modes, unreadable, tiny, huge = Counter(), [], [], []
    checked, broken = Counter(split for split, _ in entries), Counter()
    for (split, path), (mode, size, error) in zip(entries, found):
        if error:
            unreadable.append(f"{path} ({error})")
            broken[split] += 1
            continue
        modes[mode] += 1
        if min(size) < TINY_SIDE:
            tiny.append(f"{path} ({size[0]}x{size[1]})")
        elif size[0] * size[1] > HUGE_PIXELS:
            huge.append(f"{path} ({size[0]}x{size[1]})")
    report.modes = dict(modes)
    if len(modes) > 1:
        report.warnings.append(f"Mixed image modes ({', '.join(f'{m} {n}' for m, n in modes.most_common())}): "
                               f"all are converted to the same channels before training.")
    if unreadable:
        message = f"{len(unreadable)} unreadable image(s): {listing(unreadable)}."
        # The rule training applies, split by split, to the splits it reads.
        failing = [split for split in TRAINING_SPLITS
                   if too_many_unreadable(broken[split], checked[split])]
        if failing:
            report.errors.append(message + f" In {' and '.join(failing)}, that is more than "
                                           f"{MAX_UNREADABLE_SHARE:.0%} of the images: repair or "
                                           f"remove them before training.")
        else:
            report.warnings.append(message + " Training skips them.")
    if tiny:
        report.warnings.append(f"{len(tiny)} tiny image(s) (under {TINY_SIDE} px): {listing(tiny)}.")
    if huge:
        report.warnings.append(f"{len(huge)} huge image(s) (over 50 megapixels): {listing(huge)}; "
                               f"they are slow to read.")


def _digest(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.md5(handle.read()).hexdigest()
    except OSError:  # locked or vanished: it cannot be compared, and is not a duplicate
        return f"unreadable:{path}"


def _check_duplicates(dataset: FolderDataset, report: DatasetReport) -> None:
    """Identical files in two splits (the model is tested on what it learned) or two classes."""
    by_size = defaultdict(list)
    for split, samples in dataset.splits.items():
        for path, label in samples:
            try:
                by_size[os.path.getsize(path)].append((split, path, label))
            except OSError:
                continue
    candidates = [entry for group in by_size.values() if len(group) > 1 for entry in group]
    with ThreadPoolExecutor(default_threads()) as pool:
        digests = list(pool.map(lambda entry: _digest(entry[1]), candidates, chunksize=64))
    by_digest = defaultdict(list)
    for entry, digest in zip(candidates, digests):
        by_digest[digest].append(entry)
    leaks, conflicts = [], []
    for group in by_digest.values():
        if len({split for split, _, _ in group}) > 1:
            leaks.append(" = ".join(path for _, path, _ in group[:2]))
        if len({label for _, _, label in group}) > 1:
            conflicts.append(" = ".join(f"{path} ({dataset.classes[label]})" for _, path, label in group[:2]))
    if leaks:
        report.warnings.append(f"{len(leaks)} picture(s) appear in more than one split, so validation "
                               f"scores are too optimistic: {listing(leaks)}.")
    if conflicts:
        report.warnings.append(f"{len(conflicts)} identical picture(s) carry different classes: "
                               f"{listing(conflicts)}.")


def check_dataset(path, check: str = "quick", num_classes: Optional[int] = None,
                  write_lists: bool = False, verbose: bool = True) -> DatasetReport:
    """Examine a data set folder and print what is wrong with it.

    check='quick' reads every image's header; check='full' decodes every image
    (finds truncated files). Returns a DatasetReport (report.ok, .errors, .warnings).

    Example:
        >>> report = easycls.check_dataset('dataset/hand_gray', check='full')
        >>> report.ok, report.errors, report.warnings
        (True, [], [])
    """
    if check not in ("quick", "full"):
        raise DatasetError(f"check={check!r} is not valid: use 'quick' (read image headers) or "
                         f"'full' (decode every image).")
    report = DatasetReport(as_folder_path(path), check)
    try:
        dataset = read_dataset(path, num_classes=num_classes, notify=report.notes.append,
                               write_lists=write_lists, problems=report.errors)
    except DatasetError as exc:  # a data set too broken to read on (no training images, ...)
        report.errors.append(str(exc))
        report.exception = exc
        dataset = None
    warnings = [n for n in report.notes if n.startswith("Warning: ")]
    report.notes = [n for n in report.notes if n not in warnings]
    report.warnings += [n[len("Warning: "):] for n in warnings]
    _scan_litter(Path(path), report)
    if dataset is not None:
        report.dataset, report.classes = dataset, list(dataset.classes)
        report.counts = {split: dataset.counts(split) for split in dataset.splits}
        _check_balance(dataset, report)
        _check_images(dataset, report, full=check == "full")
        if check == "full" or sum(dataset.sizes().values()) <= QUICK_DUPLICATE_LIMIT:
            _check_duplicates(dataset, report)
        else:
            report.notes.append("Duplicate files between splits are looked for by check='full' "
                                f"on sets of over {QUICK_DUPLICATE_LIMIT} images.")
    if verbose:  # a report with errors must be seen even when only warnings are shown
        logger.log(logging.WARNING if report.errors else logging.INFO, str(report))
    return report
