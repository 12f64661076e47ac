"""Decode every image of a split once into one uint8 tensor, in parallel threads.

Pillow releases the GIL while decoding and resizing, so threads use every core
without the start-up cost (and Windows pitfalls) of worker processes.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import numpy as np
import torch

from ..errors import EasyclsError
from .images import load_for_model
from .input_spec import InputSpec


@dataclass
class DecodedSplit:
    """A split in memory: images[i] (uint8 CxHxW) has label labels[i] and is sample
    positions[i] of the list it was decoded from (unreadable files are left out)."""

    images: torch.Tensor
    labels: torch.Tensor
    positions: torch.Tensor
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def __len__(self) -> int:
        return len(self.labels)


def default_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def decode_split(samples: Sequence[Tuple[str, int]], spec: InputSpec,
                 threads: int = 0) -> DecodedSplit:
    """Decode (path, label) samples; unreadable files are skipped and reported, not fatal."""
    images = np.empty((len(samples), *spec.shape), dtype=np.uint8)
    ok = np.zeros(len(samples), dtype=bool)
    skipped = []

    def decode(index: int):
        try:
            images[index] = load_for_model(samples[index][0], spec)
            ok[index] = True
        except EasyclsError as exc:
            skipped.append((samples[index][0], str(exc)))

    with ThreadPoolExecutor(threads or default_threads()) as pool:
        list(pool.map(decode, range(len(samples)), chunksize=64))
    keep = np.flatnonzero(ok)
    return DecodedSplit(
        images=torch.from_numpy(images[keep] if len(keep) < len(samples) else images),
        labels=torch.tensor([samples[i][1] for i in keep], dtype=torch.int64),
        positions=torch.from_numpy(keep.astype(np.int64)),
        skipped=sorted(skipped),
    )


def estimated_bytes(num_images: int, spec: InputSpec) -> int:
    return num_images * spec.channels * spec.image_size * spec.image_size


def memory_budget() -> int:
    """A quarter of physical memory: room for the model, the optimizer and the user."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return 2 * 1024 ** 3
