"""From (path, label) samples to a batch source: decoded in memory when it fits."""
from typing import List, Sequence, Tuple

import torch

from ..errors import TrainingError
from ..log import logger
from .batches import CachedBatches, StreamedBatches
from .cache import decode_split, estimated_bytes, memory_budget
from .input_spec import InputSpec

# One broken download must not stop a class's work; more than 1% means a broken data set.
MAX_UNREADABLE_SHARE = 0.01


def too_many_unreadable(unreadable: int, total: int) -> bool:
    """The one rule, used by the dataset doctor and by training alike."""
    return unreadable > max(1.0, MAX_UNREADABLE_SHARE * total)


def should_cache(cache, num_images: int, spec: InputSpec) -> bool:
    if cache in (True, False):
        return cache
    return estimated_bytes(num_images, spec) <= memory_budget()


def make_batches(samples: Sequence[Tuple[str, int]], spec: InputSpec, *, batch_size: int,
                 shuffle: bool, generator: torch.Generator = None, cached: bool = True,
                 drop_single: bool = False):
    """A batch source and the list of (path, reason) files that could not be read."""
    if cached:
        split = decode_split(samples, spec)
        batches = CachedBatches(samples, split, batch_size, shuffle, generator, drop_single)
        return batches, split.skipped
    batches = StreamedBatches(samples, spec, batch_size, shuffle, generator, drop_single)
    return batches, []


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
