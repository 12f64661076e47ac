"""The save_fold of a run: claimed by one run at a time, checked before any heavy work,
and an earlier run in it moved aside, never overwritten."""
import contextlib
import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Optional

from ..errors import TrainingError
from ..log import logger

RUN_FILES = ("log.json", "latest.pth", "best_accuracy_top-*.pth", "epoch_*.pth")
LOCK_FILE = ".easycls_run.lock"
LOCK_READ_TRIES = 40  # x 50 ms: how long a lock being written is waited for


def previous_run_files(folder: Path) -> list:
    return sorted({p for pattern in RUN_FILES for p in folder.glob(pattern)})


def _cannot_write(folder: Path, reason: str) -> TrainingError:
    return TrainingError(f"Cannot write into save_fold '{folder}' ({reason}), where training "
                         f"keeps log.json and its checkpoints. Choose a folder you may write "
                         f"to, e.g. train(save_fold='checkpoints/my_run').")


def check_save_fold(folder) -> None:
    """Refuse a save_fold that cannot be one, before any heavy work."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise TrainingError(f"save_fold '{folder}' is a file, but training needs a folder to "
                            f"write log.json and checkpoints into. Choose another save_fold.")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # someone else's process, or no way to ask: assume alive
        return True
    return True


@contextlib.contextmanager
def claimed(folder):
    """Hold save_fold for this run: a second run into it is refused while this one goes on.

    The claim is a lock file naming this process; one left by a run that died is taken
    over. Claiming also proves the folder can be written, before anything is decoded.
    """
    folder = Path(folder)
    check_save_fold(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(folder, exc.strerror or str(exc)) from None
    lock = folder / LOCK_FILE
    owner = {"pid": os.getpid(), "host": socket.gethostname(),
             "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    while True:
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            _refuse_or_take_over(lock, owner)
        except OSError as exc:
            raise _cannot_write(folder, exc.strerror or str(exc)) from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(json.dumps(owner).encode("utf-8"))
    except OSError as exc:  # a full disk: an empty lock would only confuse the next run
        with contextlib.suppress(OSError):
            lock.unlink()
        raise _cannot_write(folder, exc.strerror or str(exc)) from None
    _remove_leftovers(folder)
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()


def _lock_holder(lock: Path):
    """(owner, pid, host) of a lock; None if it is gone. A run that has just made its lock
    writes its name a moment later, so an empty lock is read again before it counts as
    left by a dead run."""
    for _ in range(LOCK_READ_TRIES):
        try:
            holder = json.loads(lock.read_text(encoding="utf-8"))
            return holder, int(holder["pid"]), str(holder["host"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)
    return {}, None, None


def _refuse_or_take_over(lock: Path, me: dict) -> None:
    found = _lock_holder(lock)
    if found is None:  # released meanwhile: claim it again
        return
    holder, pid, host = found
    running = pid is not None and pid != me["pid"] and (host != me["host"] or _alive(pid))
    if running:
        where = "this computer" if host == me["host"] else f"the computer {host}"
        raise TrainingError(
            f"'{lock.parent}' is in use by another training run (process {pid} on {where}, "
            f"started {holder.get('started', '?')}). Wait for it to finish, or train into "
            f"another save_fold. If that run is gone for good (its computer restarted), "
            f"delete '{lock}'.")
    logger.warning(f"Note: took over '{lock}', left by a run that is no longer running.")
    with contextlib.suppress(FileNotFoundError):
        lock.unlink()


def _remove_leftovers(folder: Path) -> None:
    """Half-written files (.NAME.PID.tmp) of a run that was killed while saving."""
    leftovers = [p for p in folder.glob(".*.tmp") if p.name.count(".") >= 3]
    for path in leftovers:
        with contextlib.suppress(OSError):
            path.unlink()
    if leftovers:
        logger.info(f"Removed {len(leftovers)} half-written file(s) left in '{folder}' by a run "
                    f"that was stopped while saving.")


def prepare_save_fold(folder) -> Optional[Path]:
    """Move an earlier run's files into previous_runs/<time>/ and say so."""
    folder = Path(folder)
    files = previous_run_files(folder)
    if not files:
        return None
    archive = folder / "previous_runs" / time.strftime("%Y%m%d-%H%M%S")
    suffix = 1
    while archive.exists():
        suffix += 1
        archive = archive.with_name(f"{archive.name.split('_')[0]}_{suffix}")
    archive.mkdir(parents=True)
    for path in files:
        shutil.move(str(path), str(archive / path.name))
    logger.warning(f"'{folder}' held an earlier run: moved its {len(files)} file(s) to '{archive}'. "
                   f"(To continue that run instead, move them back and train with resume=True.)")
    return archive


@contextlib.contextmanager
def writing(path, save_fold):
    """Turn a failed write (a full disk, a removed folder) into a message that says what
    was kept: files are replaced whole, so the earlier ones are as they were."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        path = Path(path)
        with contextlib.suppress(OSError):
            if path.name == "log.json" and path.stat().st_size == 0:  # nothing worth keeping
                path.unlink()
        if (Path(save_fold) / "latest.pth").is_file():
            kept = (f"Nothing already saved was lost: the checkpoints in '{save_fold}' are "
                    f"whole. Free some space, then continue: model.train(resume=True, "
                    f"save_fold={str(save_fold)!r}).")
        else:
            kept = ("No checkpoint had been saved yet, so there is nothing to resume: free "
                    "some space, then train again.")
        raise TrainingError(f"Could not write '{path}' ({reason}); the disk may be full. "
                            f"{kept}") from exc
