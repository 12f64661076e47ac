"""One registry of backbones: the name users type, its builder, its input spec, its recipe.

`Classifier.sota()` is `list_models()`; nothing else keeps a second list.
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..errors import BackboneError
from ..i18n import tr

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """What a backbone expects and how it likes to be trained by default."""

    name: str
    builder: Callable
    image_size: int
    channels: int  # 0 means "follow the data": 1 for grayscale sets, 3 otherwise
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    # Training options whose default differs for this backbone (engine/options.py
    # names them all), e.g. {"lr": 0.05, "batch_size": 64}: lr is meant at that batch.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    aliases: Tuple[str, ...] = field(default_factory=tuple)
    pretrained_available: bool = False
    min_image_size: int = 32  # below this the network's strides and kernels run out of pixels
    # The layer class activation maps look at by default: the last one whose output still
    # has a spatial layout, where features are most about classes.
    cam_layer: str = ""
    # (smallest, largest): the default input side is the data's median picture side, kept
    # within these bounds, for networks built for small pictures; None: always image_size.
    sizes_from_data: Optional[Tuple[int, int]] = None
    # Train in channels_last memory on a CPU too: only where it measured faster there
    # (docs/benchmarks.md); GPUs always use it.
    channels_last_on_cpu: bool = False
    # Train in bfloat16 mixed precision on a CPU that has it natively (AVX512-BF16, AMX): only
    # where it measured faster and as accurate (docs/benchmarks.md); validation stays float32.
    bf16_on_cpu: bool = False

    def stats_for(self, channels: int) -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
        """Normalisation mean/std for the given channel count."""
        if len(self.mean) == channels:
            return tuple(self.mean), tuple(self.std)
        if channels == 1:  # grayscale input to an RGB-trained model: luminance-weighted average
            weights = (0.299, 0.587, 0.114)
            mean = sum(w * m for w, m in zip(weights, self.mean))
            std = sum(w * s for w, s in zip(weights, self.std))
            return (mean,), (std,)
        return (self.mean[0],) * channels, (self.std[0],) * channels


_REGISTRY: Dict[str, ModelSpec] = {}
_LOOKUP: Dict[str, str] = {}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def register(name: str, *, image_size: int, channels: int, mean, std, cam_layer: str,
             defaults=None, aliases=(), pretrained_available: bool = False,
             min_image_size: int = 32, sizes_from_data: Optional[Tuple[int, int]] = None,
             channels_last_on_cpu: bool = False, bf16_on_cpu: bool = False):
    """Decorator that adds a builder `fn(num_classes, channels, pretrained)` to the registry."""

    def decorate(builder):
        spec = ModelSpec(name, builder, image_size, channels, tuple(mean), tuple(std),
                         dict(defaults or {}), tuple(aliases), pretrained_available,
                         min_image_size, cam_layer, sizes_from_data, channels_last_on_cpu,
                         bf16_on_cpu)
        _REGISTRY[name] = spec
        for alias in (name, *aliases):
            _LOOKUP[_key(alias)] = name
        return builder

    return decorate


def no_pretrained_weights(name: str, why: str) -> BackboneError:
    """The error for pretrained=True on a backbone made to train from scratch."""
    return BackboneError(
        f"{name} has no pretrained weights: {why}. Call train() without pretrained=True, or "
        f"pick a backbone with ImageNet weights such as 'ResNet18' or 'MobileNet'.")


def list_models() -> List[str]:
    """The registered backbone names, in registration order."""
    return list(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The spec of a backbone, matching names case- and punctuation-insensitively."""
    if not isinstance(name, str):
        raise BackboneError(
            f"The backbone must be given by name as a string, got {type(name).__name__} "
            f"{name!r}. Choose one of: {', '.join(list_models())}.")
    canonical = _LOOKUP.get(_key(name))
    if canonical is None:
        raise BackboneError(
            tr("Unknown backbone {name!r}. easycls offers: {names} (case does not matter). Pick "
               "one of these, e.g. Classifier('LeNet').", name=name, names=", ".join(list_models())))
    return _REGISTRY[canonical]
