"""Batches of uint8 images and labels, from memory or streamed from files.

Both sources yield the same thing, so the training loop and the evaluator do not
care which one they got: `Batch(images uint8 NxCxHxW, labels int64 N, positions
int64 N)`, where positions say which entries of the source's `samples` list the
images are (and so their file paths).
"""
import os
import sys
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import torch

from ..errors import EasyclsError
from .cache import DecodedSplit
from .images import load_for_model
from .input_spec import InputSpec

Sample = Tuple[str, int]


class Batch(NamedTuple):
    images: torch.Tensor
    labels: torch.Tensor
    positions: torch.Tensor


def _batch_slices(count: int, batch_size: int, drop_single: bool,
                  processes: int = 1) -> List[Tuple[int, int]]:
    # A final batch of one image breaks BatchNorm in training mode; it is dropped, and so
    # is one that would leave a process of several fewer than two images.
    slices = [(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
    if drop_single and len(slices) > 1 and slices[-1][1] - slices[-1][0] < 2 * processes:
        slices.pop()
    return slices


def share_of(count: int, rank: int, size: int) -> Tuple[int, int]:
    """(first, number) of the `count` images of a batch that process `rank` of `size` takes:
    contiguous, the first `count % size` processes one more."""
    base, extra = divmod(count, size)
    return rank * base + min(rank, extra), base + (1 if rank < extra else 0)


class _Batches:
    """What both sources share: the samples, epoch order, batch count, iteration."""

    def __init__(self, samples: Sequence[Sample], count: int, batch_size: int, shuffle: bool,
                 generator: Optional[torch.Generator], drop_single: bool):
        self.samples = list(samples)
        self.count, self.batch_size, self.shuffle = count, batch_size, shuffle
        self.generator, self.drop_single = generator, drop_single
        self.bad_files: List[str] = []  # found while iterating (decoded splits have none left)
        self.why_bad: Dict[str, str] = {}  # their errors, to report
        # (rank, processes): in a run on several processes each batch is shared out, and
        # this process gets only its part of it.
        self.share: Tuple[int, int] = (0, 1)

    def reason(self, path: str) -> str:
        return self.why_bad.get(path, "unreadable")

    def __len__(self) -> int:
        return len(self.slices())

    def slices(self) -> List[Tuple[int, int]]:
        """(start, stop) of each batch in the epoch's order: the batch of all processes."""
        return _batch_slices(self.count, self.batch_size, self.drop_single, self.share[1])

    def own_slices(self, skip: int = 0) -> List[Tuple[int, int]]:
        """(start, stop) of this process's part of each batch after the first `skip`."""
        rank, size = self.share
        own = []
        for start, stop in self.slices()[skip:]:
            first, number = share_of(stop - start, rank, size)
            own.append((start + first, start + first + number))
        return own

    def new_order(self) -> Optional[torch.Tensor]:
        """This epoch's order of the images (None: as stored)."""
        return torch.randperm(self.count, generator=self.generator) if self.shuffle else None

    def __iter__(self) -> Iterator[Batch]:
        return self.iterate(self.new_order())

    def iterate(self, order: Optional[torch.Tensor], skip: int = 0) -> Iterator[Batch]:
        raise NotImplementedError


class CachedBatches(_Batches):
    """Batches by indexing a decoded split; shuffled with the given generator."""

    def __init__(self, samples: Sequence[Sample], split: DecodedSplit, batch_size: int,
                 shuffle: bool, generator: torch.Generator = None, drop_single: bool = False):
        super().__init__(samples, len(split), batch_size, shuffle, generator, drop_single)
        self.images, self.labels, self.positions = split.images, split.labels, split.positions

    def place(self, device: torch.device, max_bytes: int) -> str:
        """Keep the images on the GPU when they fit (no copies per batch), else pin them."""
        if device.type != "cuda":
            return "memory"
        if self.images.numel() <= max_bytes:
            self.images, self.labels = self.images.to(device), self.labels.to(device)
            return "gpu"
        self.images, self.labels = self.images.pin_memory(), self.labels.pin_memory()
        return "pinned memory"

    def iterate(self, order: Optional[torch.Tensor], skip: int = 0) -> Iterator[Batch]:
        """The batches of one epoch in `order`, leaving out the first `skip` (for resuming)."""
        for start, stop in self.own_slices(skip):
            if start == stop:  # a small last validation batch leaves some processes none
                continue
            if order is None:
                yield Batch(self.images[start:stop], self.labels[start:stop],
                            self.positions[start:stop])
            else:
                index = order[start:stop]
                on_device = index.to(self.images.device)
                yield Batch(self.images[on_device], self.labels[on_device], self.positions[index])


class _FileDataset(torch.utils.data.Dataset):
    """Decodes one file per item; an unreadable file comes back with label -1 and its error."""

    def __init__(self, samples: Sequence[Sample], spec: InputSpec):
        self.samples, self.spec = samples, spec

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        try:
            return torch.from_numpy(load_for_model(path, self.spec)), label, ""
        except EasyclsError as exc:
            return torch.zeros(self.spec.shape, dtype=torch.uint8), -1, str(exc)


def default_workers() -> int:
    # Worker processes on Windows and macOS re-import the user's script, which then
    # needs an `if __name__ == '__main__'` guard; threads in the main process do not.
    if sys.platform != "linux":
        return 0
    return min(4, os.cpu_count() or 1)


class StreamedBatches(_Batches):
    """Batches decoded from files on the fly, for data sets larger than the memory budget."""

    def __init__(self, samples: Sequence[Sample], spec: InputSpec, batch_size: int,
                 shuffle: bool, generator: torch.Generator = None, drop_single: bool = False,
                 workers: int = None):
        super().__init__(samples, len(samples), batch_size, shuffle, generator, drop_single)
        self.dataset = _FileDataset(self.samples, spec)
        self.workers = default_workers() if workers is None else workers
        self.pin = False

    def place(self, device: torch.device, max_bytes: int) -> str:
        self.pin = device.type == "cuda"
        return "files"

    def iterate(self, order: Optional[torch.Tensor], skip: int = 0) -> Iterator[Batch]:
        order = (torch.arange(self.count) if order is None else order).tolist()
        batches = [order[a:b] for a, b in self.own_slices(skip) if a < b]
        if not batches:
            return
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=batches,
                                             num_workers=self.workers, pin_memory=self.pin)
        for indices, (images, labels, errors) in zip(batches, loader):
            positions = torch.tensor(indices, dtype=torch.int64)
            good = labels >= 0
            if not bool(good.all()):
                for i, g, error in zip(indices, good.tolist(), errors):
                    if not g:
                        self.bad_files.append(self.samples[i][0])
                        self.why_bad[self.samples[i][0]] = error
                images, labels, positions = images[good], labels[good], positions[good]
            if len(labels):
                yield Batch(images, labels, positions)
