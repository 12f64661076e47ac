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
from torchvision.models.efficientnet import MBConv
from torchvision.models.mobilenetv2 import InvertedResidual as InvertedResidualV2
from torchvision.models.mobilenetv3 import InvertedResidual as InvertedResidualV3
from torchvision.models.resnet import BasicBlock, Bottleneck

from ..errors import WeightsUnavailableError
from .heads import find_head, replace_head
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


def _start_residual_blocks_at_zero(model: nn.Module) -> None:
    """Zero the last BatchNorm scale of every residual block.

    Each block then starts as the identity, so a deep network starts as a shallow one
    and grows its depth as it learns (Goyal et al. 2017, "Accurate, large minibatch
    SGD"). From scratch on a few hundred pictures this is what keeps ResNet50 from
    diverging and lifts MobileNet, MobileNetV3 and EfficientNet off chance in two
    epochs (docs/benchmarks.md).
    """
    for block in model.modules():
        if isinstance(block, (BasicBlock, Bottleneck)):
            last_norm = block.bn3 if isinstance(block, Bottleneck) else block.bn2
        elif isinstance(block, (InvertedResidualV2, InvertedResidualV3, MBConv)) and \
                block.use_res_connect:
            # the branch ends with its projection's norm; nothing after it is a BatchNorm
            last_norm = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)][-1]
        else:
            continue
        nn.init.zeros_(last_norm.weight)


def _start_head_like_any_linear_layer(model: nn.Module) -> None:
    """Give the head PyTorch's usual Linear init, which does not depend on the class count.

    torchvision draws EfficientNet's head from +-1/sqrt(classes): with 3 classes its first
    loss was about 4.3 instead of ln 3 = 1.1, and on 60 pictures it passed 15 in the first
    epoch and backed off twice.
    A head started near zero (std 0.01) cured that but slowed ResNet18 on 400 pictures
    from 56-67% to 50% in 2 epochs, as the backbone's gradients pass through the head.
    """
    find_head(model)[1].reset_parameters()


def _torchvision_builder(torchvision_name: str, zero_init: bool):
    def build(num_classes: int, channels: int = 3, pretrained: bool = False) -> nn.Module:
        if channels != 3:
            raise ValueError(f"{torchvision_name} takes 3-channel input, got channels={channels}.")
        if not pretrained:
            model = torchvision.models.get_model(torchvision_name, weights=None,
                                                 num_classes=num_classes)
            _start_head_like_any_linear_layer(model)
            if zero_init:
                _start_residual_blocks_at_zero(model)
            return model
        model = torchvision.models.get_model(torchvision_name, weights=None)
        model.load_state_dict(load_imagenet_state(torchvision_name))
        return replace_head(model, num_classes)

    build.__name__ = torchvision_name
    return build


# From scratch on 400 Fashion-MNIST pictures, 2 epochs at the default batch of 32, two seeds
# (chance 10%; docs/benchmarks.md): ResNet50 diverged to chance at lr 0.05 and reached 15-20%
# at 0.02; with its blocks started at zero, 40-45% at 0.02. Zero-started blocks lifted
# EfficientNetB0 from 21-31% (lr 0.02) to 56-57% at 0.05, MobileNetV3 from 23-33% to 45-57%
# at 0.1 and MobileNet from 51% to 53%. ResNet18 trains well as it is (56-67%; zero-started,
# 38-44%) and so does ResNet34 at lr 0.02 (56-59%; 28% at 0.05, zero-started 44-46%).
_PRESETS = [
    # name users type, torchvision name, SGD lr at batch 32, residual blocks start at zero,
    # aliases, the last block before pooling (class activation maps' default layer)
    ("MobileNet", "mobilenet_v2", 0.05, True, ("MobileNetV2", "MobileNet_V2"), "features.18"),
    ("MobileNetV3", "mobilenet_v3_small", 0.1, True, ("MobileNetV3Small",), "features.12"),
    ("ResNet18", "resnet18", 0.05, False, (), "layer4"),
    ("ResNet34", "resnet34", 0.02, False, (), "layer4"),
    ("ResNet50", "resnet50", 0.02, True, (), "layer4"),
    ("EfficientNetB0", "efficientnet_b0", 0.05, True, ("EfficientNet", "EfficientNet_B0"),
     "features.8"),
]

for _name, _tv_name, _lr, _zero_init, _aliases, _cam_layer in _PRESETS:
    register(_name, image_size=224, channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD,
             cam_layer=_cam_layer, defaults={"lr": _lr, "batch_size": 32}, aliases=_aliases,
             pretrained_available=True)(
        _torchvision_builder(_tv_name, _zero_init))
