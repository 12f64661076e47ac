"""The save_fold of a run: a previous run in it is moved aside, never overwritten."""
import shutil
import time
from pathlib import Path
from typing import Optional

from ..errors import TrainingError
from ..log import logger

RUN_FILES = ("log.json", "latest.pth", "best_accuracy_top-*.pth", "epoch_*.pth")


def previous_run_files(folder: Path) -> list:
    return sorted({p for pattern in RUN_FILES for p in folder.glob(pattern)})


def check_save_fold(folder) -> None:
    """Refuse a save_fold that cannot be one, before any heavy work."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise TrainingError(f"save_fold '{folder}' is a file, but training needs a folder to "
                            f"write log.json and checkpoints into. Choose another save_fold.")


def prepare_save_fold(folder) -> Optional[Path]:
    """Create the folder; move an earlier run's files into previous_runs/<time>/ and say so."""
    folder = Path(folder)
    check_save_fold(folder)
    folder.mkdir(parents=True, exist_ok=True)
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
