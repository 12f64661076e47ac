"""Training settings: best-practice defaults per backbone, each with its reason.

Everything a user may change is a keyword of `Classifier.train`; what was not
given is chosen here and printed once, with why, so a student sees the choice.
"""
from dataclasses import asdict, dataclass, field
from typing import Dict, Optional, Tuple

from ..errors import TrainingError

OPTIMIZERS = ("SGD", "Adam", "AdamW", "Adagrad")
# Adaptive optimizers want a much smaller step than SGD with momentum.
ADAPTIVE_LR = {"Adam": 1e-3, "AdamW": 1e-3, "Adagrad": 1e-2}


@dataclass
class Recipe:
    backbone: str
    epochs: int
    batch_size: int
    lr: float
    optimizer: str
    weight_decay: float
    image_size: int
    channels: int
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    augment: bool
    topk: Tuple[int, ...]
    seed: int
    pretrained: bool
    cache: object
    reasons: Dict[str, str] = field(default_factory=dict, compare=False)

    def to_meta(self) -> dict:
        """Plain values only (the checkpoint must load with weights_only=True)."""
        meta = asdict(self)
        meta.pop("reasons")
        meta["mean"], meta["std"], meta["topk"] = list(self.mean), list(self.std), list(self.topk)
        return meta

    def describe(self) -> str:
        shown = ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "image_size",
                 "channels", "augment", "topk", "pretrained", "cache", "seed")
        lines = [f"easycls: training {self.backbone} with (pass any of these to train() to "
                 f"change it):"]
        for name in shown:
            value = getattr(self, name)
            reason = self.reasons.get(name)
            lines.append(f"  {name:<13}= {value!r}" + (f"  ({reason})" if reason else ""))
        return "\n".join(lines)


def default_topk(num_classes: int) -> Tuple[int, ...]:
    return (1, 5) if num_classes > 5 else (1,)


def check_topk(topk, num_classes: int) -> Tuple[int, ...]:
    values = (topk,) if isinstance(topk, int) else tuple(topk)
    if not values or any(not isinstance(k, int) or k < 1 or k > num_classes for k in values):
        raise TrainingError(f"topk={topk!r} is not valid for {num_classes} classes: give whole "
                            f"numbers from 1 to {num_classes}, e.g. topk=(1, "
                            f"{min(5, num_classes)}).")
    return tuple(sorted(set(values) | {1}))  # top-1 is always reported


def check_optimizer(name: str) -> str:
    for known in OPTIMIZERS:
        if isinstance(name, str) and name.lower() == known.lower():
            return known
    raise TrainingError(f"Unknown optimizer {name!r}. Choose one of {', '.join(OPTIMIZERS)} "
                        f"(case does not matter).")


def check_positive(name: str, value, kind=int):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or \
            (kind is int and int(value) != value):
        wanted = "a whole number of at least 1" if kind is int else "a number above 0"
        raise TrainingError(f"{name}={value!r} is not valid: expected {wanted}.")
    return kind(value)


def default_recipe(spec, num_classes: int, *, train_size: int, data_is_gray: bool, data_side: int,
                   epochs, batch_size=None, lr=None, optimizer="SGD", weight_decay=None,
                   image_size=None, channels=None, augment=True, topk=None, seed=0,
                   pretrained=False, cache="auto", fixed_input: Optional[dict] = None) -> Recipe:
    """Fill every unset setting from the backbone's spec and the data.

    `fixed_input` (image_size, channels, mean, std from a checkpoint being
    fine-tuned) wins over defaults: the weights were learned on that input.
    """
    reasons = {}
    optimizer = check_optimizer(optimizer)
    epochs = check_positive("epochs", epochs)
    if batch_size is None:
        batch_size, reasons["batch_size"] = _default_batch_size(spec, train_size)
    batch_size = check_positive("batch_size", batch_size)
    if batch_size > train_size:
        reasons["batch_size"] = f"you asked for {batch_size}, but there are only {train_size} training images"
        batch_size = train_size
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TrainingError(f"random_seed={seed!r} is not valid: expected a whole number, e.g. 0.")
    if pretrained and not spec.pretrained_available:
        spec.builder(num_classes=num_classes, pretrained=True)  # raises its own explanation

    if fixed_input:
        saved = fixed_input["in_channels"]
        if channels is not None and channels != saved:
            raise TrainingError(f"channels={channels} does not fit the checkpoint, whose first "
                                f"layer takes {saved} channel(s). Leave channels unset.")
        channels, reasons["channels"] = saved, "same as the checkpoint being fine-tuned"
        mean, std = tuple(fixed_input["mean"]), tuple(fixed_input["std"])
        if image_size is None:
            image_size, reasons["image_size"] = fixed_input["image_size"], "same as the checkpoint"
    else:
        if channels is None:
            if spec.channels:
                channels = spec.channels
                reasons["channels"] = f"{spec.name} takes RGB; gray images are repeated 3 times"
            else:
                channels = 1 if data_is_gray else 3
                reasons["channels"] = ("your images are grayscale" if data_is_gray
                                       else "your images are in colour")
        if image_size is None:
            image_size, reasons["image_size"] = _default_image_size(spec, pretrained, data_side)
        mean, std = spec.stats_for(channels)
    image_size = check_positive("image_size", image_size)
    if image_size < spec.min_image_size:
        raise TrainingError(f"image_size={image_size} is too small for {spec.name}: it needs at "
                            f"least {spec.min_image_size} px. Leave image_size unset for the "
                            f"default, or pass {spec.min_image_size} or more.")
    if channels not in (1, 3):
        raise TrainingError(f"channels={channels!r} is not valid: use 1 (grayscale) or 3 (RGB).")
    if spec.channels and channels != spec.channels:
        raise TrainingError(f"{spec.name} takes {spec.channels}-channel images, not "
                            f"channels={channels}; gray pictures are repeated into 3 channels "
                            f"automatically. Leave channels unset, or use LeNet for 1 channel.")

    if lr is None:
        if optimizer == "SGD":
            lr = spec.lr * batch_size / spec.batch_size * (0.2 if pretrained else 1.0)
            reasons["lr"] = (f"{spec.name} default {spec.lr} at batch {spec.batch_size}, scaled "
                             f"to batch {batch_size}" + (", /5 for fine-tuning" if pretrained else ""))
        else:
            lr = ADAPTIVE_LR[optimizer] * (0.2 if pretrained else 1.0)
            reasons["lr"] = f"usual {optimizer} step"
        reasons["lr"] += "; warm-up 1 epoch, then cosine decay"
    lr = check_positive("lr", lr, float)
    if weight_decay is None:
        weight_decay = 5e-4 if optimizer in ("SGD", "AdamW") else 0.0
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise TrainingError(f"weight_decay={weight_decay!r} is not valid: expected a number of 0 "
                            f"or more, e.g. 5e-4.")
    if topk is None:
        topk = default_topk(num_classes)
        reasons["topk"] = "top-1 always" + ("; top-5 too, with more than 5 classes"
                                            if num_classes > 5 else "")
    topk = check_topk(topk, num_classes)
    if augment:
        reasons["augment"] = "random shift and horizontal flip of training images"
    return Recipe(spec.name, epochs, batch_size, lr, optimizer, float(weight_decay), image_size,
                  channels, tuple(mean), tuple(std), bool(augment), topk, int(seed),
                  bool(pretrained), cache, reasons)


def _default_batch_size(spec, train_size: int):
    # A tiny data set in big batches gets only a handful of updates per epoch:
    # keep at least ~8 steps an epoch, down to batches of 8.
    size = spec.batch_size
    while size > 8 and train_size < 8 * size:
        size //= 2
    if size == spec.batch_size:
        return size, f"{spec.name} default"
    return size, (f"{spec.name} default {spec.batch_size}, halved until your {train_size} "
                  f"training images give at least 8 steps an epoch")


def _default_image_size(spec, pretrained: bool, data_side: int):
    if pretrained or not spec.pretrained_available:
        return spec.image_size, f"{spec.name} default"
    # From scratch, enlarging tiny pictures to 224 px multiplies the work by up to
    # 60 without adding detail; 32-px steps keep the network's strides whole.
    size = min(spec.image_size, max(64, -(-data_side // 32) * 32))
    if size == spec.image_size:
        return size, f"{spec.name} default"
    return size, (f"your images are about {data_side} px; {spec.name}'s usual {spec.image_size} "
                  f"would only add work when training from scratch")


def recipe_from_meta(meta: dict, reasons_note: str) -> Recipe:
    """The recipe a checkpoint was trained with (for resuming it)."""
    values = dict(meta)
    values["mean"], values["std"] = tuple(values["mean"]), tuple(values["std"])
    values["topk"] = tuple(values["topk"])
    return Recipe(**values, reasons={"epochs": reasons_note})
