"""The batches a run trains and validates on: decoded once when they fit, placed on the device."""
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch

from ..data.batches import CachedBatches
from ..data.folder import FolderDataset
from ..data.cache import Sharing
from ..data.pipeline import MAX_UNREADABLE_SHARE, make_batches, should_cache, too_many_unreadable
from ..errors import TrainingError
from ..log import logger
from .distributed import SINGLE, World
from .options import Recipe


@dataclass
class TrainingData:
    """The batches of one run, and what is worth knowing about how they were made."""

    train: object  # CachedBatches or StreamedBatches
    val: Optional[object]
    classes: List[str]
    skipped: List[str] = field(default_factory=list)  # unreadable files left out
    facts: Dict[str, object] = field(default_factory=dict)  # for the log header


def gpu_memory_budget(device: torch.device) -> int:
    """Bytes of GPU memory the cached images may take: a quarter of what is free."""
    if device.type != "cuda":
        return 0
    free, _ = torch.cuda.mem_get_info(device)
    return free // 4


def prepare_training_data(dataset: FolderDataset, recipe: Recipe, device: torch.device, *,
                          validate: bool, cache, generator: torch.Generator,
                          world: World = SINGLE) -> TrainingData:
    splits, spec = dataset.splits, recipe.input_spec
    validate = validate and bool(splits.get("val"))
    count = len(splits["train"]) + (len(splits["val"]) if validate else 0)
    cached = should_cache(cache, count, spec)
    started = time.perf_counter()
    # One decoded copy per computer, made by its processes together.
    token = world.from_main(lambda: uuid.uuid4().hex[:12]) if world.distributed else None

    def sharing(split: str) -> Optional[Sharing]:
        return Sharing(world.local_rank, world.local_size, f"{token}-{world.node}-{split}",
                       world.gather) if world.distributed else None

    train, skipped = make_batches(splits["train"], spec, batch_size=recipe.batch_size,
                                  shuffle=True, generator=generator, drop_single=True,
                                  cached=cached, what="the training images",
                                  sharing=sharing("train"))
    check_unreadable(skipped, len(splits["train"]), "training")
    unreadable = [path for path, _ in skipped]
    train.share = (world.rank, world.size)
    val = None
    if validate:
        val, skipped = make_batches(splits["val"], spec, batch_size=recipe.batch_size,
                                    shuffle=False, cached=cached, what="the validation images",
                                    sharing=sharing("val"))
        check_unreadable(skipped, len(splits["val"]), "validation")
        unreadable += [path for path, _ in skipped]
        val.share = (world.rank, world.size)
    if not len(train):
        raise TrainingError("No training batch could be made: every training image failed to "
                            "load. Check the files in the training folder.")
    gpu_budget = gpu_memory_budget(device)
    place = train.place(device, gpu_budget)
    if val is not None:
        val.place(device, gpu_budget - train.images.numel() if place == "gpu" else 0)
    cached = isinstance(train, CachedBatches)  # not when memory ran short after all
    facts = {"cached": cached, "data_place": place,
             "decode_seconds": round(time.perf_counter() - started, 3) if cached else 0.0,
             "dataset": str(dataset.root), "dataset_sizes": dataset.sizes()}
    return TrainingData(train, val, list(dataset.classes), unreadable, facts)


def check_unreadable(skipped: List[Tuple[str, str]], total: int, split: str) -> None:
    """Warn about unreadable files; stop when so many fail that the data set looks broken."""
    if not skipped:
        return
    listing = "\n".join(f"  {path}: {reason}" for path, reason in skipped[:10])
    more = f"\n  ... and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    if too_many_unreadable(len(skipped), total):
        raise TrainingError(
            f"{len(skipped)} of {total} {split} images cannot be read (more than "
            f"{MAX_UNREADABLE_SHARE:.0%}), so the data set looks broken:\n{listing}{more}\n"
            f"Repair or remove these files and run again.")
    logger.warning(f"Warning: skipping {len(skipped)} unreadable {split} image(s):\n"
                   f"{listing}{more}")
