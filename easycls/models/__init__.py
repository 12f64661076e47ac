"""Backbones: `create_model(name, num_classes, channels)`, `list_models()`, `get_spec(name)`."""
from torch import nn

from . import lenet, fastnet, torchvision_presets  # noqa: F401  (registered on import, in this order)
from .heads import find_head, replace_head
from .registry import IMAGENET_MEAN, IMAGENET_STD, ModelSpec, get_spec, list_models


def create_model(name: str, num_classes: int, channels: int, pretrained: bool = False) -> nn.Module:
    """Build the named backbone with a `num_classes`-way head."""
    return get_spec(name).builder(num_classes=num_classes, channels=channels, pretrained=pretrained)


__all__ = ["create_model", "list_models", "get_spec", "ModelSpec", "find_head", "replace_head",
           "IMAGENET_MEAN", "IMAGENET_STD"]
