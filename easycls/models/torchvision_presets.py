"""Backbones from torchvision, randomly initialised unless `pretrained=True`.

Pretrained weights come from torchvision's cache (`torch.hub.get_dir()`); they are
downloaded only when missing, and an offline machine gets a message that says
where to put the file instead of a bare network error.
"""
import os
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from ..errors import WeightsUnavailableError
from .heads import replace_head
from .registry import IMAGENET_MEAN, IMAGENET_STD, register


def _cached_weights_path(weights) -> str:
    filename = os.path.basename(urlparse(weights.url).path)
    return os.path.join(torch.hub.get_dir(), "checkpoints", filename)


def load_imagenet_state(torchvision_name: str) -> dict:
    """ImageNet state dict of a torchvision model, from the cache or downloaded once."""
    weights = torchvision.models.get_model_weights(torchvision_name).DEFAULT
    path = _cached_weights_path(weights)
    if os.path.isfile(path):
        return torch.load(path, map_location="cpu", weights_only=True)
    try:
        return weights.get_state_dict(progress=True)
    except Exception as exc:  # URLError, SSL errors, timeouts: all mean "could not fetch"
        raise WeightsUnavailableError(
            f"Pretrained ImageNet weights for {torchvision_name} are not on this computer "
            f"and could not be downloaded ({type(exc).__name__}: {exc}). Expected the file "
            f"{path}. Either connect to the internet once and train again, copy the file "
            f"from {weights.url} into {os.path.dirname(path)}, or train from scratch with "
            f"pretrained=False.") from exc


def _torchvision_builder(torchvision_name: str):
    def build(num_classes: int, channels: int = 3, pretrained: bool = False) -> nn.Module:
        if channels != 3:
            raise ValueError(f"{torchvision_name} takes 3-channel input, got channels={channels}.")
        if not pretrained:
            return torchvision.models.get_model(torchvision_name, weights=None,
                                                num_classes=num_classes)
        model = torchvision.models.get_model(torchvision_name, weights=None)
        model.load_state_dict(load_imagenet_state(torchvision_name))
        return replace_head(model, num_classes)

    build.__name__ = torchvision_name
    return build


_PRESETS = [
    # name users type, torchvision name, default SGD lr at the default batch, batch, aliases,
    # the last block before pooling (class activation maps' default layer)
    ("MobileNet", "mobilenet_v2", 0.05, 32, ("MobileNetV2", "MobileNet_V2"), "features.18"),
    ("MobileNetV3", "mobilenet_v3_small", 0.05, 32, ("MobileNetV3Small",), "features.12"),
    ("ResNet18", "resnet18", 0.05, 32, (), "layer4"),
    ("ResNet34", "resnet34", 0.05, 32, (), "layer4"),
    ("ResNet50", "resnet50", 0.05, 32, (), "layer4"),
    # From scratch on 400 pictures, lr 0.05 left EfficientNet near chance on two seeds (34%,
    # 23% after 3 epochs); 0.02 reached 50% and 43%.
    ("EfficientNetB0", "efficientnet_b0", 0.02, 32, ("EfficientNet", "EfficientNet_B0"),
     "features.8"),
]

for _name, _tv_name, _lr, _batch, _aliases, _cam_layer in _PRESETS:
    register(_name, image_size=224, channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD,
             cam_layer=_cam_layer, defaults={"lr": _lr, "batch_size": _batch}, aliases=_aliases,
             pretrained_available=True)(
        _torchvision_builder(_tv_name))
