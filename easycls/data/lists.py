"""The list files of a data set: classes.txt, val.txt, test.txt.

Read in UTF-8 (or GBK, as Notepad on Chinese Windows saves), checked line by line
by class name, and, where missing, derived from the class folders and written.
A list easycls wrote itself is remembered (by its content's hash, in
`.easycls_lists.json` beside it), so it can be rewritten when the folders change,
while a list written by hand is never touched.
"""
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from ..errors import DatasetError
from ..process import is_main_process

OWNERSHIP_FILE = ".easycls_lists.json"
Sample = Tuple[str, int]


@dataclass
class Reading:
    """What one read of a data set collects, and how it treats problems."""

    notes: List[str]
    write_lists: bool
    problems: Optional[List[str]] = None  # None: raise at the first problem
    root: Optional[Path] = None  # the data set folder: picture links must stay inside it
    strange: List[str] = field(default_factory=list)  # not regular files: pipes, devices
    outside: List[str] = field(default_factory=list)  # links to pictures outside the root
    unlistable: List[str] = field(default_factory=list)  # names no list line can hold
    # List files to write once all is read well: (path, lines, why, from what)
    pending: List[tuple] = field(default_factory=list)

    def derive(self, path: Path, lines: List[str], why: str, source: str) -> None:
        """Write this list file from `source` once the whole data set has been read well."""
        self.pending.append((path, lines, why, source))

    def problem(self, message: str) -> None:
        """A problem that would train on wrong labels: raise it, or collect it and go on."""
        if self.problems is None:
            raise DatasetError(message)
        self.problems.append(message)


def listing(items: List[str], separator: str = ", ", shown: int = 5) -> str:
    """The first few items, and how many more there are."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return separator.join(items[:shown]) + more


def read_text_lines(path: Path, notes: List[str]) -> List[str]:
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


def read_classes_txt(path: Path, notes: List[str]) -> List[str]:
    classes = [line.strip() for line in read_text_lines(path, notes) if line.strip()]
    if not classes:
        raise DatasetError(f"'{path}' is empty. Write one class name per line (line i is "
                           f"label i), or delete the file to use the training folder names.")
    if len(classes) == 1 and any(sep in classes[0] for sep in ",;\t"):
        names = [n.strip() for n in classes[0].replace(";", ",").replace("\t", ",").split(",")]
        raise DatasetError(f"'{path}' has all its classes on one line ({classes[0]!r}), so it "
                           f"reads as a single class. Write one class name per line (line i "
                           f"is label i), spelled as the training folders are, case included:\n"
                           + "\n".join(f"    {n}" for n in names if n))
    duplicates = sorted({c for c in classes if classes.count(c) > 1})
    if duplicates:
        raise DatasetError(f"'{path}' lists {', '.join(duplicates)} more than once. Each class "
                           f"must appear on exactly one line; remove the repeated lines.")
    return classes


def read_list_file(list_file: Path, image_root: Path, classes: List[str], reading: Reading,
                   in_folders: Optional[int] = None) -> List[Sample]:
    """Parse 'relative/path.png <label>' lines, checking files and labels by class name.

    `in_folders`: how many images the split's class folders hold, to say so when the
    list names files that are not there.
    """
    samples, missing, problems = [], [], []
    for number, raw in enumerate(read_text_lines(list_file, reading.notes), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            problems.append(f"line {number}: {line!r} is not '<relative path> <label>'")
            continue
        relative, label = parts[0].replace("\\", "/"), int(parts[1])
        if os.path.isabs(relative) or ".." in relative.split("/"):
            problems.append(f"line {number}: {relative!r} points outside {image_root.name}/")
            continue
        if not 0 <= label < len(classes):
            problems.append(f"line {number}: label {label} is outside 0..{len(classes) - 1}")
            continue
        folder = relative.split("/")[0]
        if folder in classes and folder != classes[label]:
            problems.append(f"line {number}: '{relative}' is in folder '{folder}' but has "
                            f"label {label} ({classes[label]})")
            continue
        path = image_root / relative
        if path.exists() and not path.is_file():
            reading.strange.append(str(path))
        elif not path.is_file():
            missing.append(relative)
        elif path.is_symlink() and not inside(str(path), reading.root):
            reading.outside.append(str(path))
        else:
            samples.append((str(path), label))
    if problems:
        reading.problem(
            f"'{list_file}' has {len(problems)} wrong line(s): {listing(problems, '; ')}. Labels "
            f"count from 0 in the order of classes.txt ({', '.join(classes)}). Fix these lines, "
            f"or delete {list_file.name} to rebuild it from the class folders.")
    if missing:
        held = (f" ({list_file.name} lists {len(samples) + len(missing)} images; the class "
                f"folders hold {in_folders})" if in_folders is not None else "")
        reading.problem(
            f"'{list_file}' names {len(missing)} file(s) that do not exist under "
            f"'{image_root}': {listing(missing)}{held}. Paths are relative to '{image_root}'. "
            f"Fix or remove those lines, or delete {list_file.name} to rebuild it from the "
            f"class folders.")
    return samples


def inside(path: str, root: Optional[Path]) -> bool:
    """Whether a path, its links followed, lies in the folder `root` (None: anywhere)."""
    if root is None:
        return True
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def list_lines(samples: List[Sample], image_root: Path) -> List[str]:
    """The lines of a list file for these samples, paths relative to image_root."""
    return [f"{Path(path).relative_to(image_root).as_posix()} {label}" for path, label in samples]


def written_by_easycls(path: Path) -> bool:
    """True when the file still holds exactly what easycls wrote into it."""
    return _ownership(path.parent).get(path.name) == _digest(path.read_bytes())


def unmarked_copy_of(path: Path, lines: List[str]) -> bool:
    """A list easycls has no record of that holds exactly what easycls would write (as the
    lists of earlier versions, which kept no record): followed like the lists it writes."""
    return path.name not in _ownership(path.parent) and path.read_bytes() == _content(lines)


def same_lines(path: Path, lines: List[str]) -> bool:
    """Whether the file lists the same lines, in any order."""
    return set(path.read_text(encoding="utf-8").splitlines()) == set(lines)


def write_derived(reading: Reading) -> None:
    """Write the derived list files, unless the reading found problems (they would be wrong).

    Only the main process writes: the others of a multi-process run derive the same
    lists in memory."""
    writes = reading.write_lists and not reading.problems and is_main_process()
    for path, lines, why, source in reading.pending:
        if why is None:  # claimed silently: the file already says what easycls would write
            with contextlib.suppress(OSError):
                if writes:
                    _remember(path)
            continue
        if not writes:
            reading.notes.append(f"{path.name} {why}: it will be written from {source}.")
            continue
        try:
            write_list(path, lines)
            reading.notes.append(f"{path.name} {why}: wrote it from {source}.")
        except OSError as exc:
            reading.notes.append(f"{path.name} {why}: derived it from {source} in memory only "
                                 f"(could not write it: {exc.strerror or exc}).")


def write_list(path: Path, lines: List[str]) -> None:
    """Write a list file easycls derived, and remember that easycls wrote it."""
    _write_atomic(path, _content(lines))
    _remember(path)


def _content(lines: List[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    # Written beside, then renamed: another process reading the list never sees half of it.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _ownership(folder: Path) -> dict:
    try:
        record = json.loads((folder / OWNERSHIP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _remember(path: Path) -> None:
    record = _ownership(path.parent)
    record[path.name] = _digest(path.read_bytes())
    _write_atomic(path.parent / OWNERSHIP_FILE,
                  json.dumps(record, indent=1, sort_keys=True).encode("utf-8"))
