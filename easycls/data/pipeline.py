"""From (path, label) samples to a batch source: decoded in memory when it fits."""
from typing import List, Sequence, Tuple

import torch

from ..errors import TrainingError
from .batches import CachedBatches, StreamedBatches
from .cache import decode_split, estimated_bytes, memory_budget


def should_cache(cache, num_images: int, channels: int, image_size: int) -> bool:
    if cache in (True, False):
        return cache
    if cache != "auto":
        raise TrainingError(f"cache={cache!r} is not valid: use 'auto' (decode into memory when "
                            f"it fits in a quarter of the RAM), True or False (read files "
                            f"every epoch).")
    return estimated_bytes(num_images, channels, image_size) <= memory_budget()


def make_batches(samples: Sequence[Tuple[str, int]], *, channels: int, image_size: int,
                 batch_size: int, shuffle: bool, generator: torch.Generator = None,
                 cached: bool = True, drop_single: bool = False):
    """A batch source and the list of (path, reason) files that could not be read."""
    if cached:
        split = decode_split(samples, channels, image_size)
        batches = CachedBatches(split, batch_size, shuffle, generator, drop_single)
        return batches, split.skipped
    batches = StreamedBatches(samples, channels, image_size, batch_size, shuffle, generator,
                              drop_single)
    return batches, []


def check_unreadable(skipped: List[Tuple[str, str]], total: int, split: str,
                     notify, max_share: float = 0.01) -> None:
    """Warn about unreadable files; stop when so many fail that the data set looks broken."""
    if not skipped:
        return
    listing = "\n".join(f"  {path}: {reason}" for path, reason in skipped[:10])
    more = f"\n  ... and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    if len(skipped) > max(1, max_share * total):
        raise TrainingError(
            f"{len(skipped)} of {total} {split} images cannot be read (more than "
            f"{max_share:.0%}), so the data set looks broken:\n{listing}{more}\nRepair or "
            f"remove these files and run again.")
    notify(f"Warning: skipping {len(skipped)} unreadable {split} image(s):\n{listing}{more}")
