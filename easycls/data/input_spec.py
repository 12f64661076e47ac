"""What a model expects as input, and how a picture of any size is made to fit it.

The same InputSpec prepares training, validation and inference pictures, and it
is saved in every checkpoint, so a checkpoint alone is enough to classify the
way validation did (also for imported MMEdu/OpenMMLab checkpoints, which crop).
"""
from dataclasses import dataclass
from typing import Tuple

# How a picture becomes image_size x image_size:
#   stretch      resize both sides to image_size (aspect ratio not kept; nothing cut off)
#   center-crop  resize the shorter side to image_size / crop_pct, then cut the centre
RESIZE_MODES = ("stretch", "center-crop")
# The largest side a model may take: training, checkpoints and inference agree on it.
MAX_IMAGE_SIZE = 4096


@dataclass(frozen=True)
class InputSpec:
    image_size: int
    channels: int  # 1 (grayscale) or 3 (RGB)
    mean: Tuple[float, ...]  # per channel, on the 0-1 scale
    std: Tuple[float, ...]
    resize: str = "stretch"
    crop_pct: float = 1.0  # center-crop only: the crop's share of the resized shorter side

    @property
    def shape(self) -> Tuple[int, int, int]:
        return self.channels, self.image_size, self.image_size

    def resized_shorter_side(self) -> int:
        """The shorter side a picture is resized to before cropping."""
        return max(self.image_size, int(round(self.image_size / self.crop_pct)))
