"""From (path, label) samples to a batch source: decoded in memory when it fits."""
from typing import Optional, Sequence, Tuple

import torch

from ..log import logger, progress
from .batches import CachedBatches, StreamedBatches, default_workers
from .cache import Sharing, decode_split, estimated_bytes, memory_budget
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
                 drop_single: bool = False, what: str = "the images",
                 sharing: Optional[Sharing] = None):
    """A batch source and the list of (path, reason) files that could not be read.

    Decoding into memory shows its progress (`what` names the images in messages);
    with `sharing`, the processes of a computer decode into one buffer together.
    """
    if cached:
        try:
            with progress(len(samples), f"Reading {what} into memory") as advance:
                split = decode_split(samples, spec, progress=advance, what=what,
                                     sharing=sharing)
        except MemoryError:
            logger.warning(f"Note: not enough memory to hold {what} "
                           f"({estimated_bytes(len(samples), spec) / 1e9:.1f} GB decoded): "
                           f"reading them from disk every epoch instead, as cache=False does.")
        else:
            batches = CachedBatches(samples, split, batch_size, shuffle, generator, drop_single)
            return batches, split.skipped
    # The processes of a computer share its cores between their loader workers too.
    workers = default_workers()
    if sharing is not None and workers:
        workers = max(1, workers // sharing.size)
    batches = StreamedBatches(samples, spec, batch_size, shuffle, generator, drop_single, workers)
    return batches, []
