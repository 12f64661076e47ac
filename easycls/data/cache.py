"""Decode every image of a split once into one uint8 tensor, in parallel threads.

Pillow releases the GIL while decoding and resizing, so threads use every core
without the start-up cost (and Windows pitfalls) of worker processes.
"""
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

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


@dataclass
class Sharing:
    """How the processes of one computer decode a split together, into one buffer they all
    map, instead of each holding a copy of its own."""

    rank: int  # among the processes of this computer
    size: int
    name: str  # the same for the processes of this computer in this run, no other
    gather: Callable[[object], list]  # every process's value (of all computers), in rank order


def decode_split(samples: Sequence[Tuple[str, int]], spec: InputSpec, threads: int = 0,
                 progress: Callable[[int], None] = lambda done: None,
                 what: str = "the images", sharing: Optional[Sharing] = None) -> DecodedSplit:
    """Decode (path, label) samples; unreadable files are skipped and reported, not fatal.

    `progress(n)` is called (in this thread) as each n images are decoded. Ctrl-C stops
    the decoding threads and raises KeyboardInterrupt with a message saying so. With
    `sharing`, each process decodes its part into a memory-mapped buffer they share.
    """
    if sharing is None:
        buffer = np.empty(len(samples) * (_image_bytes(spec) + 1), dtype=np.uint8)  # MemoryError: caller streams
        images, ok = _views(buffer, len(samples), spec)
        ok[:] = False
        skipped = _decode_into(images, ok, samples, range(len(samples)), spec, threads,
                               progress, what)
        keep = _close_gaps(images, ok)
    else:
        buffer = _shared_buffer(len(samples) * (_image_bytes(spec) + 1), sharing)
        images, ok = _views(buffer, len(samples), spec)
        mine = range(sharing.rank, len(samples), sharing.size)
        skipped = _decode_into(images, ok, samples, mine, spec, threads,
                               lambda done: progress(done * sharing.size), what)
        skipped = sorted({path: (path, why) for part in sharing.gather(skipped)
                          for path, why in part}.values())
        keep = np.flatnonzero(ok)  # every process has written its part of ok by now
        if sharing.rank == 0:
            _close_gaps(images, ok)
        sharing.gather(None)  # the others wait until the gaps are closed
    return DecodedSplit(
        images=torch.from_numpy(images[:len(keep)]),
        labels=torch.tensor([samples[i][1] for i in keep], dtype=torch.int64),
        positions=torch.from_numpy(keep.astype(np.int64)),
        skipped=sorted(skipped),
    )


def _image_bytes(spec: InputSpec) -> int:
    return int(np.prod(spec.shape))


def _views(buffer: np.ndarray, count: int, spec: InputSpec):
    """The images and their "decoded" flags, in one buffer."""
    size = count * _image_bytes(spec)
    return buffer[:size].reshape(count, *spec.shape), buffer[size:size + count].view(bool)


def _decode_into(images: np.ndarray, ok: np.ndarray, samples, indices: range, spec: InputSpec,
                 threads: int, progress: Callable[[int], None], what: str) -> list:
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
        futures = [pool.submit(decode, indices[start:start + CHUNK])
                   for start in range(0, len(indices), CHUNK)]
        for future in as_completed(futures):
            count = future.result()
            done += count
            progress(count)
    except KeyboardInterrupt:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise KeyboardInterrupt(f"Stopped while reading {what} ({done} of {len(indices)} "
                                f"decoded): nothing was trained or written.") from None
    finally:
        pool.shutdown(wait=True)
    return skipped


def _close_gaps(images: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Move the decoded images forward over the unreadable ones, in place: no second copy."""
    keep = np.flatnonzero(ok)
    for row, index in enumerate(keep):
        if row != index:
            images[row] = images[index]
    return keep


def _shared_buffer(size: int, sharing: Sharing) -> np.ndarray:
    """A zeroed buffer of `size` bytes mapped by every process of this computer. Its file is
    deleted as soon as all have mapped it, so nothing is left behind if they die."""
    path = Path(_shared_folder(size)) / f"easycls-{sharing.name}.u8"
    if sharing.rank == 0:
        buffer = np.memmap(path, dtype=np.uint8, mode="w+", shape=(max(1, size),))
    sharing.gather(None)
    if sharing.rank != 0:
        buffer = np.memmap(path, dtype=np.uint8, mode="r+", shape=(max(1, size),))
    sharing.gather(None)
    if sharing.rank == 0:
        path.unlink()
    return buffer


def _shared_folder(size: int) -> str:
    """Memory (/dev/shm) when it has room, else the temporary folder's disk, whose pages
    the processes share through the page cache all the same."""
    try:
        stats = os.statvfs("/dev/shm")
        if stats.f_bavail * stats.f_frsize > 1.1 * size:
            return "/dev/shm"
    except (AttributeError, OSError):  # no /dev/shm (Windows, macOS)
        pass
    return tempfile.gettempdir()


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
