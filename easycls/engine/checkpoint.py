"""Checkpoint files: plain dicts of tensors and Python values, written atomically.

Every file loads with `torch.load(path, weights_only=True)`: no pickled objects,
so opening a checkpoint someone sent you cannot run their code.
"""
import os
import pickle
from pathlib import Path
from typing import Dict

import torch
from torch import nn

from ..errors import CheckpointError, PathNotFoundError
from ..models import create_model, get_spec
from .openmmlab import convert_openmmlab, looks_like_openmmlab

META_KEYS = ("backbone", "num_classes", "classes", "in_channels", "image_size", "mean", "std")


def save_atomic(obj: dict, path) -> Path:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def read_checkpoint(path) -> dict:
    """Load and check an easycls checkpoint, with a clear error for anything else."""
    if not isinstance(path, (str, os.PathLike)):
        raise CheckpointError(f"The checkpoint must be given as a file path (a string), got "
                              f"{type(path).__name__} {path!r}, e.g. "
                              f"'checkpoints/cls_model/best_accuracy_top-1.pth'.")
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        found = sorted(p.name for p in Path(folder).glob("*.pth")) if os.path.isdir(folder) else []
        hint = (f" .pth files in that folder: {', '.join(found)}." if found else
                " Train first (model.train()) or check the path.")
        raise PathNotFoundError(f"Checkpoint '{path}' does not exist.{hint}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" not in str(exc).lower():  # not a pickled object, just not a checkpoint
            raise CheckpointError(f"'{path}' is not a readable PyTorch checkpoint (it may be "
                                  f"truncated or another kind of file).") from exc
        raise CheckpointError(
            f"'{path}' stores Python objects that would have to run code to load, so easycls "
            f"refuses it (a .pth file can hide arbitrary code). easycls checkpoints hold only "
            f"tensors and plain values. If you trust the file's author, re-save its weights "
            f"with torch.save(model.state_dict(), ...) and train from them. Detail: {exc}") from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"'{path}' is not a readable PyTorch checkpoint (it may be "
                              f"truncated or another kind of file): {exc}") from exc
    if looks_like_openmmlab(obj):
        converted = convert_openmmlab(obj, path)
        print(f"'{path}' is an MMEdu/OpenMMLab checkpoint: loaded as {converted['meta']['backbone']} "
              f"with classes {', '.join(converted['meta']['classes'])} (224 px, ImageNet "
              f"normalisation, as MMEdu trains).")
        return converted
    if not isinstance(obj, dict) or "state_dict" not in obj or "meta" not in obj or \
            any(key not in obj["meta"] for key in META_KEYS):
        keys = ", ".join(map(str, list(obj)[:8])) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(
            f"'{path}' is not an easycls checkpoint: expected a dict with 'state_dict' and "
            f"'meta' ({', '.join(META_KEYS)}), found {keys}. Use a latest.pth or "
            f"best_accuracy_top-1.pth written by easycls training.")
    return obj


def check_backbone(checkpoint: dict, backbone: str, path) -> None:
    saved = checkpoint["meta"]["backbone"]
    if get_spec(saved).name != get_spec(backbone).name:
        raise CheckpointError(
            f"'{path}' was trained with backbone {saved}, but this model is "
            f"{get_spec(backbone).name}. Create the model with Classifier('{saved}') to use "
            f"this checkpoint, or pick a checkpoint trained with {get_spec(backbone).name}.")


def model_from_checkpoint(checkpoint: dict, path) -> nn.Module:
    """Build the saved backbone and load its weights exactly."""
    meta = checkpoint["meta"]
    model = create_model(meta["backbone"], meta["num_classes"], meta["in_channels"])
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"The weights in '{path}' do not fit a {meta['backbone']} with "
                              f"{meta['num_classes']} classes and {meta['in_channels']} input "
                              f"channel(s); the file may have been edited. Detail: {exc}") from exc
    return model


def load_matching_weights(model: nn.Module, state_dict: Dict[str, torch.Tensor]) -> list:
    """Copy every weight whose name and shape match; return the names left as initialised."""
    own = model.state_dict()
    usable = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(usable, strict=False)
    return sorted(k for k in own if k not in usable)
