"""Finding and replacing the classification head of any registered model."""
from typing import Tuple

from torch import nn


def find_head(model: nn.Module) -> Tuple[str, nn.Linear]:
    """Name and module of the last Linear layer, the one that outputs class scores."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = (name, module)
    if last is None:
        raise TypeError(f"{type(model).__name__} has no Linear layer to use as its head.")
    return last


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Swap the head for a freshly initialised one with `num_classes` outputs."""
    name, old = find_head(model)
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], nn.Linear(old.in_features, num_classes))
    return model
