"""Decode every image of a split once into one uint8 tensor, in parallel threads.

Pillow releases the GIL while decoding and resizing, so threads use every core
without the start-up cost (and Windows pitfalls) of worker processes.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable, List, Sequence, Tuple

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


CHUNK = 256  # images per task: few enough tasks to be cheap, enough to share the work


def decode_split(samples: Sequence[Tuple[str, int]], spec: InputSpec, threads: int = 0,
                 progress: Callable[[int], None] = lambda done: None,
                 what: str = "the images") -> DecodedSplit:
    """Decode (path, label) samples; unreadable files are skipped and reported, not fatal.

    `progress(n)` is called (in this thread) as each n images are decoded. Ctrl-C stops
    the decoding threads and raises KeyboardInterrupt with a message saying so.
    """
    images = np.empty((len(samples), *spec.shape), dtype=np.uint8)
    ok = np.zeros(len(samples), dtype=bool)
    skipped, stop = [], threading.Event()

    def decode(chunk: range) -> int:
        for index in chunk:
            if stop.is_set():
                break
            try:
                images[index] = load_for_model(samples[index][0], spec)
                ok[index] = True
            except EasyclsError as exc:
                skipped.append((samples[index][0], str(exc)))
        return len(chunk)

    pool = ThreadPoolExecutor(threads or default_threads())
    done = 0
    try:
        futures = [pool.submit(decode, range(start, min(start + CHUNK, len(samples))))
                   for start in range(0, len(samples), CHUNK)]
        for future in as_completed(futures):
            count = future.result()
            done += count
            progress(count)
    except KeyboardInterrupt:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise KeyboardInterrupt(f"Stopped while reading {what} ({done} of {len(samples)} "
                                f"decoded): nothing was trained or written.") from None
    finally:
        pool.shutdown(wait=True)
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
