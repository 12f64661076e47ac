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
    images = np.empty((len(samples), *spec.shape), dtype=np.uint8)  # MemoryError: caller streams
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
    for row, index in enumerate(keep):  # close the gaps in place: no second copy of the cache
        if row != index:
            images[row] = images[index]
    return DecodedSplit(
        images=torch.from_numpy(images[:len(keep)]),
        labels=torch.tensor([samples[i][1] for i in keep], dtype=torch.int64),
        positions=torch.from_numpy(keep.astype(np.int64)),
        skipped=sorted(skipped),
    )


def estimated_bytes(num_images: int, spec: InputSpec) -> int:
    return num_images * spec.channels * spec.image_size * spec.image_size


def memory_budget() -> int:
    """Bytes the decoded images may take: half of what this process can still get, counting
    the free memory, a container's limit and the process's own limit."""
    room = [value for value in (_available_memory(), _container_room(), _process_room())
            if value is not None]
    return min(room) // 2 if room else 2 * 1024 ** 3


def _available_memory():
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:  # no /proc (macOS): a quarter of the physical memory, as a guess
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return None


def _read_number(path: str):
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _container_room():
    """A cgroup's memory limit minus its use (Docker, Kubernetes, JupyterHub)."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_number(limit_file), _read_number(usage_file)
        if limit is not None and usage is not None and limit < 1 << 60:
            return max(0, limit - usage)
    return None


def _process_room():
    """The address space `ulimit -v` leaves this process."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, ValueError, OSError):
        return None
    if limit == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            used = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        used = 0
    return max(0, limit - used)
