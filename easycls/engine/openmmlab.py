"""Checkpoints from MMEdu / OpenMMLab MMClassification: their weights and class names.

MMClassification's ResNet and MobileNetV2 are the same networks as torchvision's,
with other parameter names: `backbone.*` then `head.fc.*`, registered in the same
order. So a checkpoint maps onto ours position by position, and we accept the
mapping only when every tensor's shape agrees. Its preprocessing is MMEdu's test
pipeline: shorter side resized to 256, centre crop of 224, RGB with ImageNet
mean and std.
"""
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional

import torch

from ..data.input_spec import InputSpec
from ..errors import CheckpointError
from ..models import IMAGENET_MEAN, IMAGENET_STD, create_model

LOADABLE = ("ResNet18", "ResNet34", "ResNet50", "MobileNet")
MMEDU_INPUT = InputSpec(224, 3, IMAGENET_MEAN, IMAGENET_STD, "center-crop", crop_pct=224 / 256)


class Imported(NamedTuple):
    backbone: str
    state_dict: Dict[str, torch.Tensor]
    classes: List[str]
    epoch: int


def looks_like_openmmlab(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("meta"), dict) and (
        "CLASSES" in obj["meta"] or "mmcv_version" in obj["meta"] or
        "dataset_meta" in obj["meta"])


def _classes(meta: dict) -> Optional[list]:
    classes = meta.get("CLASSES") or (meta.get("dataset_meta") or {}).get("classes")
    return [str(c) for c in classes] if classes else None


def _matching_backbone(tensors: list, num_classes: int) -> Optional[tuple]:
    """(backbone name, our state-dict keys) whose shapes match `tensors` in order."""
    for name in LOADABLE:
        with torch.device("meta"):  # shapes only: no memory, no initialisation time
            ours = create_model(name, num_classes, 3).state_dict()
        if len(ours) == len(tensors) and all(
                mine.shape == theirs.shape for mine, theirs in zip(ours.values(), tensors)):
            return name, list(ours)
    return None


def convert_openmmlab(obj: dict, path) -> Imported:
    """The backbone, weights, classes and epoch of an OpenMMLab checkpoint, or a clear refusal."""
    meta = obj["meta"]
    classes = _classes(meta)
    if not classes:
        raise CheckpointError(
            f"'{path}' is an OpenMMLab/MMEdu checkpoint without its class names "
            f"(meta['CLASSES']), so its outputs cannot be named. Train the same data with "
            f"easycls to get a checkpoint that carries them.")
    state = obj.get("state_dict")
    tensors = [v for k, v in (state.items() if isinstance(state, dict) else ())
               if isinstance(k, str) and k.startswith(("backbone.", "head."))
               and isinstance(v, torch.Tensor)]
    found = _matching_backbone(tensors, len(classes))
    if found is None:
        raise CheckpointError(
            f"'{path}' is an OpenMMLab/MMEdu checkpoint (classes: {', '.join(classes)}), but "
            f"its network is not one easycls can load: MMEdu's ResNet18/34/50 and MobileNet "
            f"(V2) can be. MMEdu's LeNet is built differently (tanh, average pooling), so "
            f"retrain it with easycls: it takes seconds.")
    name, keys = found
    epoch = meta.get("epoch", 0)
    return Imported(name, OrderedDict(zip(keys, tensors)), classes,
                    epoch if isinstance(epoch, int) and epoch >= 0 else 0)
