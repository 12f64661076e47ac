"""Augmentation and normalisation applied to whole uint8 batches on the training device.

Working on batches (not one PIL image at a time in DataLoader workers) is what
lets a small model train at the speed of its own arithmetic on a CPU.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch.nn import functional as F


class BatchAugment:
    """Random shift (replicated border) and horizontal flip, one draw per image; and, when
    asked, a random zoom by a factor in [1 - scale, 1 + scale] and a rotation by an angle in
    [-rotate, rotate] degrees (positive: counter-clockwise).

    Shifts and flips alone are equivalent in distribution to torchvision's RandomCrop(size,
    padding=pad, padding_mode='edge') followed by RandomHorizontalFlip(), done with one
    gather per batch instead of per-image Python calls. With a zoom or a rotation, the four
    become one affine matrix per image and one bilinear `grid_sample` per batch (border
    pixels repeated, as the shifts do).
    """

    def __init__(self, image_size: int, shift_fraction: float = 0.0625, flip: bool = True,
                 scale: float = 0.0, rotate: float = 0.0):
        self.image_size = image_size
        self.max_shift = max(1, int(round(image_size * shift_fraction))) if shift_fraction > 0 else 0
        self.flip = flip
        self.scale, self.rotate = float(scale), float(rotate)

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
        flipped = (torch.rand(total, generator=generator) < 0.5)[mine] if self.flip else None
        if self.scale or self.rotate:
            zoom = 1 + self.scale * (2 * torch.rand(total, generator=generator) - 1) \
                if self.scale else torch.ones(total)
            degrees = self.rotate * (2 * torch.rand(total, generator=generator) - 1) \
                if self.rotate else torch.zeros(total)
            return warp(images, dx[:, 0], dy[:, 0], flipped, zoom[mine], degrees[mine])
        rows = (torch.arange(height)[None] + dy).clamp_(0, height - 1)
        cols = (torch.arange(width)[None] + dx).clamp_(0, width - 1)
        if flipped is not None:
            cols = torch.where(flipped[:, None], cols.flip(1), cols)
        device = images.device
        rows, cols = rows.to(device), cols.to(device)
        batch = torch.arange(n, device=device)[:, None, None, None]
        channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
        return images[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def warp(images: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor,
         flipped: Optional[torch.Tensor], zoom: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Each image shifted by (dx, dy) pixels, mirrored where `flipped`, zoomed by `zoom` (2:
    twice as large) and turned `degrees` counter-clockwise about its centre, in one bilinear
    `grid_sample` (border pixels repeated). uint8 in, uint8 out (rounded).

    Output pixel p takes the input at shift + R(angle) (flip(p) / zoom), in pixels from the
    centre, which is what the integer gather does when zoom is 1 and the angle 0.
    """
    n, _, height, width = images.shape
    angle = torch.deg2rad(degrees.double())
    cos, sin = torch.cos(angle) / zoom.double(), torch.sin(angle) / zoom.double()
    mirror = torch.ones(n, dtype=torch.float64) if flipped is None else 1 - 2 * flipped.double()
    # In pixels (x right, y down), input = M @ output + t; the grid wants it in [-1, 1] units.
    sx, sy = width / 2, height / 2
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = cos * mirror
    theta[:, 0, 1] = -sin * sy / sx
    theta[:, 1, 0] = sin * mirror * sx / sy
    theta[:, 1, 1] = cos
    theta[:, 0, 2] = dx.double() / sx
    theta[:, 1, 2] = dy.double() / sy
    work = images if images.is_floating_point() else images.float()
    grid = F.affine_grid(theta.to(work.device, work.dtype), list(images.shape), align_corners=False)
    out = F.grid_sample(work, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if images.is_floating_point():
        return out
    info = torch.iinfo(images.dtype)
    return out.round_().clamp_(info.min, info.max).to(images.dtype)


class Normalize:
    """uint8 batch -> float batch, (x / 255 - mean) / std in one multiply-add."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device=None):
        std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -mean_t / std_t

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, images.float(), self.scale)
