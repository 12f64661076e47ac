"""Augmentation and normalisation applied to whole uint8 batches on the training device.

Working on batches (not one PIL image at a time in DataLoader workers) is what
lets a small model train at the speed of its own arithmetic on a CPU.
"""
from typing import Optional, Sequence, Tuple

import torch


class BatchAugment:
    """Random shift (replicated border) and horizontal flip, one draw per image.

    Equivalent in distribution to torchvision's RandomCrop(size, padding=pad,
    padding_mode='edge') followed by RandomHorizontalFlip(), done with one
    gather per batch instead of per-image Python calls.
    """

    def __init__(self, image_size: int, shift_fraction: float = 0.0625, flip: bool = True):
        self.image_size = image_size
        self.max_shift = max(1, int(round(image_size * shift_fraction)))
        self.flip = flip

    def __call__(self, images: torch.Tensor, generator: torch.Generator,
                 part_of: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """`part_of=(first, total)`: the images are entries first.. of a batch of `total` whose
        other parts other processes augment; the draws are made for the whole batch, so every
        process's generator stays in step and each image gets the draw it would get alone."""
        n, _, height, width = images.shape
        first, total = part_of or (0, n)
        mine = slice(first, first + n)
        shift = self.max_shift
        dy = torch.randint(-shift, shift + 1, (total, 1), generator=generator)[mine]
        dx = torch.randint(-shift, shift + 1, (total, 1), generator=generator)[mine]
        rows = (torch.arange(height)[None] + dy).clamp_(0, height - 1)
        cols = (torch.arange(width)[None] + dx).clamp_(0, width - 1)
        if self.flip:
            flipped = (torch.rand(total, generator=generator) < 0.5)[mine]
            cols = torch.where(flipped[:, None], cols.flip(1), cols)
        device = images.device
        rows, cols = rows.to(device), cols.to(device)
        batch = torch.arange(n, device=device)[:, None, None, None]
        channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
        return images[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


class Normalize:
    """uint8 batch -> float batch, (x / 255 - mean) / std in one multiply-add."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device=None):
        std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -mean_t / std_t

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, images.float(), self.scale)
