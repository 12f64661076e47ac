"""Every option of `Classifier.train`, declared once: default, check, reason, resumability.

`train()`'s signature and docstring, the settings printed before training, the
note about arguments a resumed run ignores and the settings recorded in each
checkpoint all come from OPTIONS, so a new option is one entry here (and, if
the loop uses it, the line that does). A backbone changes a default in its
registry entry (`defaults={"lr": 0.05, "batch_size": 64}`).
"""
import difflib
import inspect
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from ..data.input_spec import MAX_IMAGE_SIZE, InputSpec
from ..errors import CheckpointError, TrainingError
from ..i18n import tr
from ..models import ModelSpec, create_model
from .callbacks import Callback

OPTIMIZERS = ("SGD", "Adam", "AdamW", "Adagrad")
# Adaptive optimizers want a much smaller step than SGD with momentum.
ADAPTIVE_LR = {"Adam": 1e-3, "AdamW": 1e-3, "Adagrad": 1e-2}


@dataclass
class Context:
    """What defaults and checks may depend on: the backbone, the data, the options so far."""

    spec: ModelSpec
    num_classes: int
    train_size: int
    data_is_gray: bool = False
    data_side: int = 224
    start: Optional[InputSpec] = None  # input of the checkpoint being fine-tuned or resumed
    class_names: Tuple[str, ...] = ()
    values: Dict[str, Any] = field(default_factory=dict)
    reasons: Dict[str, str] = field(default_factory=dict)

    def has_batch_norm(self) -> bool:
        with torch.device("meta"):  # shapes only: no memory, no initialisation time
            model = create_model(self.spec.name, self.num_classes, self.spec.channels or 1)
        return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())

    def base(self, name: str):
        """The backbone's default for an option, else the library's."""
        option = OPTIONS_BY_NAME[name]
        return self.spec.defaults.get(name, option.default if option.base is None else option.base)


@dataclass(frozen=True)
class Option:
    name: str
    default: Any  # what train()'s signature shows; None: chosen for the backbone and data
    help: str
    # check(name, value, context) -> the value to use, or raises an error that says why
    check: Optional[Callable[[str, Any, Context], Any]] = None
    choose: Optional[Callable[[Context], Tuple[Any, Optional[str]]]] = None  # unset -> (value, why)
    recorded: bool = True  # saved in checkpoints as part of the recipe
    resumable: bool = False  # resume=True may change it (others keep the run's values)
    shown: bool = True  # printed with the settings before training
    base: Any = None  # what `choose` starts from for a backbone whose entry names no default
    adapts: bool = False  # `choose` adapts the backbone's default to the data (else it is kept)


# ----------------------------------------------------------------------- checks

def _invalid(name: str, value, expected: str) -> TrainingError:
    return TrainingError(f"{name}={value!r} is not valid: expected {expected}.")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def whole_number(minimum: Optional[int] = None, maximum: Optional[int] = None):
    if minimum is not None and maximum is not None:
        expected = f"a whole number from {minimum} to {maximum}"
    elif minimum is not None:
        expected = f"a whole number of at least {minimum}"
    else:
        expected = "a whole number, e.g. 0"

    def check(name, value, context):
        if not _is_number(value) or int(value) != value or (minimum is not None and value < minimum) \
                or (maximum is not None and value > maximum):
            raise _invalid(name, value, expected)
        return int(value)
    return check


def between(low: float, high: float):
    expected = (f"a number of {low} or more" if high == float("inf") else
                f"a number from {low} up to (not including) {high}")

    def check(name, value, context):
        if not _is_number(value) or not low <= value < high:
            raise _invalid(name, value, expected)
        return float(value)
    return check


def positive_number(name, value, context):
    if not _is_number(value) or not value > 0:
        raise _invalid(name, value, "a number above 0")
    return float(value)


def yes_or_no(name, value, context):
    if not isinstance(value, bool):
        raise _invalid(name, value, "True or False")
    return value


def folder_or_file(name, value, context):
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise _invalid(name, value, "a path, e.g. 'checkpoints/my_run'")
    return value


def optional(check):
    def check_unless_none(name, value, context):
        return None if value is None else check(name, value, context)
    return check_unless_none


def _optimizer(name, value, context):
    for known in OPTIMIZERS:
        if isinstance(value, str) and value.lower() == known.lower():
            return known
    raise TrainingError(f"Unknown optimizer {value!r}. Choose one of {', '.join(OPTIMIZERS)} "
                        f"(case does not matter).")


def _cache(name, value, context):
    if value is True or value is False or value == "auto":
        return value
    raise TrainingError(f"cache={value!r} is not valid: use 'auto' (decode into memory when it "
                        f"fits in the memory this process can have), True or False (read files "
                        f"every epoch).")


CALLBACK_HOOKS = {hook: inspect.signature(method) for hook, method in vars(Callback).items()
                  if hook.startswith("on_")}
# Keras' hook names, and easycls's for the same moment.
KERAS_HOOKS = {"on_train_begin": "on_run_start", "on_train_end": "on_run_end",
               "on_epoch_begin": "on_epoch_start", "on_batch_end": "on_step_end",
               "on_train_batch_end": "on_step_end"}


def _callbacks(name, value, context):
    callbacks = list(value) if isinstance(value, (list, tuple)) else [value]
    for callback in callbacks:
        kind = callback.__name__ if isinstance(callback, type) else type(callback).__name__
        if isinstance(callback, type):
            raise TrainingError(f"callbacks: {kind} is a class; pass an object made from it: "
                                f"callbacks=[{kind}()].")
        keras = [hook for hook in KERAS_HOOKS if hasattr(callback, hook)]
        if keras:
            raise TrainingError(
                f"callbacks: {kind} has Keras's hook {keras[0]}(), which easycls never calls. "
                f"Name it {KERAS_HOOKS[keras[0]]}: easycls's hooks are "
                f"{', '.join(CALLBACK_HOOKS)}, each called with the run first, e.g. "
                f"on_epoch_end(self, run, epoch, metrics).")
        hooks = [hook for hook in CALLBACK_HOOKS if hasattr(callback, hook)]
        if not hooks:
            raise TrainingError(
                f"callbacks: {callback!r} is not a callback. Pass objects with methods such "
                f"as on_epoch_end(self, run, epoch, metrics), e.g. an instance of a subclass "
                f"of easycls.Callback.")
        for hook in hooks:
            wanted = list(CALLBACK_HOOKS[hook].parameters)[1:]
            try:
                inspect.signature(getattr(callback, hook)).bind(*wanted)
            except TypeError:
                raise TrainingError(
                    f"callbacks: {kind}.{hook}{inspect.signature(getattr(callback, hook))} cannot "
                    f"take easycls's arguments ({', '.join(wanted)}). Write it as "
                    f"def {hook}(self, {', '.join(wanted)}): ...") from None
            except ValueError:  # no signature to read (a built-in): trust it
                pass
    return callbacks


def _class_weight(name, value, context):
    n = context.num_classes
    if isinstance(value, str) and value.lower() == "balanced":
        return "balanced"
    if isinstance(value, (list, tuple)) and len(value) == n and all(
            _is_number(w) and w >= 0 for w in value) and any(w > 0 for w in value):
        return [float(w) for w in value]
    raise _invalid(name, value, f"'balanced' (each class weighs in inverse to its number of "
                                f"training pictures) or a list of {n} weights of 0 or more, one "
                                f"per class in the order of classes.txt")


def _pretrained(name, value, context):
    value = yes_or_no(name, value, context)
    if value and not context.spec.pretrained_available:
        context.spec.builder(num_classes=context.num_classes, pretrained=True)  # says why not
    return value


def _batch_size(name, value, context):
    value = whole_number(1)(name, value, context)
    if value == 1 and context.has_batch_norm():
        raise TrainingError(f"batch_size=1 cannot train {context.spec.name}: its batch "
                            f"normalisation needs at least 2 pictures per step. Use "
                            f"batch_size=2 or more, or leave it unset.")
    if value > context.train_size:
        context.reasons[name] = tr("you asked for {value}, but there are only {count} "
                                   "training images", value=value, count=context.train_size)
        return context.train_size
    return value


def _channels(name, value, context):
    spec, start = context.spec, context.start
    if value not in (1, 3) or not isinstance(value, int) or isinstance(value, bool):
        raise TrainingError(f"channels={value!r} is not valid: use 1 (grayscale) or 3 (RGB).")
    if start is not None and value != start.channels:
        raise TrainingError(f"channels={value} does not fit the checkpoint, whose first layer "
                            f"takes {start.channels} channel(s). Leave channels unset.")
    if spec.channels and value != spec.channels:
        raise TrainingError(f"{spec.name} takes {spec.channels}-channel images, not "
                            f"channels={value}; gray pictures are repeated into 3 channels "
                            f"automatically. Leave channels unset, or use LeNet for 1 channel.")
    return value


def _image_size(name, value, context):
    value = whole_number(1, MAX_IMAGE_SIZE)(name, value, context)
    spec = context.spec
    if value < spec.min_image_size:
        raise TrainingError(f"image_size={value} is too small for {spec.name}: it needs at "
                            f"least {spec.min_image_size} px. Leave image_size unset for the "
                            f"default, or pass {spec.min_image_size} or more.")
    return value


def _warmup_epochs(name, value, context):
    value = whole_number(0)(name, value, context)
    epochs = context.values["epochs"]
    if value >= epochs > 1 or (value and epochs == 1):
        context.reasons[name] = tr("not {value}: the lr must also come down within the "
                                   "{epochs} epoch(s)", value=value, epochs=epochs)
        return epochs - 1
    return value


def _topk(name, value, context):
    return checked_topk(value, context.num_classes)


def checked_topk(value, num_classes: int, error=TrainingError) -> Tuple[int, ...]:
    """The k's of top-k accuracy, sorted, with top-1 always among them."""
    values = (value,) if isinstance(value, int) else tuple(value) if isinstance(
        value, (list, tuple)) else ()
    n = num_classes
    if not values or any(isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n
                         for k in values):
        raise error(f"topk={value!r} is not valid for {n} classes: give whole numbers "
                    f"from 1 to {n}, e.g. topk=(1, {min(5, n)}).")
    return tuple(sorted(set(values) | {1}))  # top-1 is always reported


def default_topk(num_classes: int) -> Tuple[int, ...]:
    return (1, 5) if num_classes > 5 else (1,)


# ---------------------------------------------------------------------- defaults
# A chooser picks an unset option's value and says why. A backbone's own default
# (its registry entry's `defaults`) is taken as it is, except by the choosers that
# adapt it to the data (batch_size, lr): those start from it.

def _choose_batch_size(context):
    # A tiny data set in big batches gets only a handful of updates per epoch:
    # keep at least ~8 steps an epoch, down to batches of 8.
    base = size = context.base("batch_size")
    while size > 8 and context.train_size < 8 * size:
        size //= 2
    if size == base:
        return size, tr("{backbone} default", backbone=context.spec.name)
    return size, tr("{backbone} default {base}, halved until your {count} training images give "
                    "at least 8 steps an epoch", backbone=context.spec.name, base=base,
                    count=context.train_size)


def _choose_lr(context):
    optimizer, pretrained = context.values["optimizer"], context.values["pretrained"]
    fine_tune, name = (0.2, tr(", /5 for fine-tuning")) if pretrained else (1.0, "")
    # The backbone's lr is meant for its own optimizer; another one starts from the usual step.
    own = context.spec.defaults.get("lr") if optimizer == context.base("optimizer") else None
    if optimizer != "SGD":
        if own is not None:
            return own * fine_tune, tr("{backbone} default", backbone=context.spec.name) + name
        return ADAPTIVE_LR[optimizer] * fine_tune, tr("usual {optimizer} step",
                                                      optimizer=optimizer) + name
    base_lr = OPTIONS_BY_NAME["lr"].base if own is None else own
    base_batch, batch = context.base("batch_size"), context.values["batch_size"]
    scaled = tr(", scaled to batch {batch}", batch=batch) if batch != base_batch else ""
    return base_lr * batch / base_batch * fine_tune, tr(
        "{backbone} default {lr} at batch {batch}", backbone=context.spec.name, lr=base_lr,
        batch=base_batch) + scaled + name


def _choose_weight_decay(context):
    if context.values["optimizer"] in ("SGD", "AdamW"):
        return 5e-4, None
    return 0.0, tr("none with {optimizer}: its decay would fight the adaptive steps; AdamW "
                   "decays the weights properly", optimizer=context.values["optimizer"])


def _choose_channels(context):
    spec = context.spec
    if context.start is not None:
        return context.start.channels, tr("same as the checkpoint being fine-tuned")
    if spec.channels:
        return spec.channels, tr("{backbone} takes RGB; gray images are repeated 3 times",
                                 backbone=spec.name)
    if context.data_is_gray:
        return 1, tr("your images are grayscale")
    return 3, tr("your images are in colour")


def _choose_image_size(context):
    spec = context.spec
    if context.start is not None:
        return context.start.image_size, tr("same as the checkpoint")
    if spec.sizes_from_data:  # a network for small pictures: taken at their own size
        low, high = spec.sizes_from_data
        size = min(high, max(low, context.data_side))
        return size, tr("the median side of your images is {side} px; {backbone} takes "
                        "{low} to {high}", side=context.data_side, backbone=spec.name,
                        low=low, high=high)
    if context.values["pretrained"] or not spec.pretrained_available:
        return spec.image_size, tr("{backbone} default", backbone=spec.name)
    # From scratch, enlarging tiny pictures to 224 px multiplies the work by up to
    # 60 without adding detail; 32-px steps keep the network's strides whole.
    size = min(spec.image_size, max(64, -(-context.data_side // 32) * 32))
    if size == spec.image_size:
        return size, tr("{backbone} default", backbone=spec.name)
    return size, tr("your images are about {side} px; {backbone}'s usual {size} would only add "
                    "work when training from scratch", side=context.data_side,
                    backbone=spec.name, size=spec.image_size)


# Unset, epochs show the model about this many pictures in all, within the bounds: a
# classroom set of 180 pictures then gets 56 passes instead of 10, while 10 passes stay
# the floor (2,520 rps28 pictures reach 100% with LeNet in 10) and 100, MMEdu's default,
# the ceiling.
PICTURES_SEEN, MIN_EPOCHS, MAX_EPOCHS = 10_000, 10, 100


def _choose_epochs(context):
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(PICTURES_SEEN / max(1, context.train_size))))
    return epochs, tr("your {count} training images, {seen:,} pictures in all over the "
                      "epochs; at least {low}, at most {high}", count=context.train_size,
                      seen=epochs * context.train_size, low=MIN_EPOCHS, high=MAX_EPOCHS)


def _choose_topk(context):
    n = context.num_classes
    return default_topk(n), tr("top-1 always") + (
        tr("; top-5 too, with more than 5 classes") if n > 5 else "")


AUGMENTS = (False, "shift", "shift+flip")
# What a dict may set, with its default (None: flip is decided like an unset augment).
AUGMENT_SETTINGS = {"flip": None, "shift": 0.0625, "scale": 0.0, "rotate": 0.0}
AUGMENT_LIMITS = {"shift": (0.5, "a fraction of the side from 0 to 0.5"),
                  "scale": (0.5, "a number from 0 to 0.5 (0.1: zoom by 0.9 to 1.1)"),
                  "rotate": (180, "a number of degrees from 0 to 180 (10: turn by -10 to 10)")}
AUGMENT_EXAMPLE = "augment={'flip': False, 'rotate': 10, 'scale': 0.1}"
# Class names that a mirror changes the meaning of: digits, letters, number words, sides.
MIRROR_SENSITIVE_WORDS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                          "nine", "ten", "left", "right", "digit", "letter", "number", "arrow"}


def _augment(name, value, context):
    if value is True:  # what True always meant, so runs recorded with it resume the same
        return "shift+flip"
    if value in AUGMENTS or (isinstance(value, str) and value.lower() in AUGMENTS):
        return value.lower() if isinstance(value, str) else value
    pairs = _augment_pairs(value)
    if pairs is not None:
        return _augment_dict(name, pairs, context)
    raise _invalid(name, value, "'shift' (random shifts), 'shift+flip' (shifts and left-right "
                                "mirrors), True (the same as 'shift+flip'), False (none) or a "
                                "dict of flip, shift, scale and rotate, e.g. " + AUGMENT_EXAMPLE
                                + "; leave it unset to let easycls decide from the class names")


def _augment_pairs(value) -> Optional[dict]:
    """A dict, or the command line's 'rotate=10,scale=0.1' (one text or a list of them)."""
    if isinstance(value, dict):
        return value
    texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    if texts and all(isinstance(text, str) and "=" in text for text in texts):
        return {key.strip(): _typed(text) for key, text in (text.split("=", 1) for text in texts)}
    return None


def _typed(text: str):
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "false", "no"):
        return lowered in ("true", "yes")
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _augment_dict(name, given: dict, context) -> dict:
    """Every setting of a dict augment, checked, the missing ones at their defaults."""
    def wrong(problem: str) -> TrainingError:
        return TrainingError(f"{name}={given!r} is not valid: {problem}. A dict may set flip "
                             f"(True or False), shift (0 to 0.5 of the side, default 0.0625), "
                             f"scale (0 to 0.5) and rotate (0 to 180 degrees), e.g. "
                             f"{AUGMENT_EXAMPLE}.")
    for key in given:
        if key not in AUGMENT_SETTINGS:
            close = difflib.get_close_matches(str(key), list(AUGMENT_SETTINGS), n=1)
            raise wrong(f"it has no setting {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    settings, why = {}, None
    for key, default in AUGMENT_SETTINGS.items():
        value = given.get(key, default)
        if key == "flip":
            if value is None:
                value, why = _mirror_decision(context)
            elif not isinstance(value, bool):
                raise wrong(f"flip={value!r} must be True or False")
        else:
            high, expected = AUGMENT_LIMITS[key]
            if not _is_number(value) or not 0 <= value <= high:
                raise wrong(f"{key}={value!r} must be {expected}")
            value = float(value)
        settings[key] = value
    words = _augment_words(settings) + (f": {why}" if why else "")
    context.reasons[name] = "; ".join(filter(None, [context.reasons.get(name), words]))
    return settings


def _augment_words(settings: dict) -> str:
    """What a dict augment does, in words."""
    parts = [tr("shifts up to {share:.0%} of the side", share=settings["shift"])
             if settings["shift"] else tr("no shifts")]
    if settings["scale"]:
        parts.append(tr("zoom by {low:g} to {high:g}", low=round(1 - settings["scale"], 4),
                        high=round(1 + settings["scale"], 4)))
    if settings["rotate"]:
        parts.append(tr("turns of up to {degrees:g} degrees either way",
                        degrees=settings["rotate"]))
    parts.append(tr("left-right mirrors") if settings["flip"] else tr("no mirrors"))
    return ", ".join(parts)


def augment_settings(value) -> Optional[dict]:
    """A checked augment as BatchAugment's flip, shift, scale and rotate (None: no augmentation)."""
    if not value:
        return None
    if isinstance(value, dict):
        return dict(value)
    return dict(AUGMENT_SETTINGS, flip=value == "shift+flip")


def mirror_sensitive(names) -> bool:
    """Whether the classes look like digits, letters or sides, which a mirror changes."""
    def sensitive(name: str) -> bool:
        words = {w for w in name.lower().replace("_", " ").replace("-", " ").split() if w}
        return len(name.strip()) == 1 or name.strip().isdigit() or bool(words & MIRROR_SENSITIVE_WORDS)
    names = list(names)
    return bool(names) and sum(map(sensitive, names)) * 2 >= len(names)


def _shown_classes(context) -> str:
    return ", ".join(list(context.class_names)[:4]) + (", ..." if len(context.class_names) > 4 else "")


def _mirror_decision(context) -> Tuple[bool, str]:
    """Whether an augment dict without flip mirrors, and why: as an unset augment would."""
    augment = context.base("augment")
    if isinstance(augment, dict) and "flip" in augment:  # a backbone's own choice
        return augment["flip"] is True, tr("the {backbone} default", backbone=context.spec.name)
    if augment is not True and not isinstance(augment, dict):
        return str(augment).lower() == "shift+flip", tr("the {backbone} default",
                                                        backbone=context.spec.name)
    if mirror_sensitive(context.class_names):
        return False, tr("the class names ({names}) look like digits, letters or sides, which a "
                         "mirror changes; 'flip': True mirrors anyway",
                         names=_shown_classes(context))
    return True, tr("the class names do not look like digits, letters or sides")


def _choose_augment(context):
    augment = context.base("augment")
    if augment is not True:  # a backbone's own choice, taken as it is
        return _augment("augment", augment, context), None
    if mirror_sensitive(context.class_names):
        return "shift", tr("random shifts, no left-right mirror: the class names ({names}) look "
                           "like digits, letters or sides, which a mirror changes; "
                           "augment='shift+flip' mirrors anyway", names=_shown_classes(context))
    return "shift+flip", tr("random shift and horizontal flip of training images")


def _choose_warmup(context):
    return context.base("warmup_epochs"), tr("linear lr warm-up, then cosine decay to 0")


OPTIONS: List[Option] = [
    Option("epochs", None, "passes over the training images", whole_number(1), _choose_epochs,
           resumable=True),
    Option("pretrained", False, "start from torchvision's ImageNet weights", _pretrained),
    Option("batch_size", None, "images per training step", _batch_size, _choose_batch_size,
           base=32, adapts=True),
    Option("optimizer", "SGD", "'SGD' (with Nesterov momentum), 'Adam', 'AdamW' or 'Adagrad'",
           _optimizer),
    Option("lr", None, "learning rate at the peak of the schedule", positive_number, _choose_lr,
           base=0.05, adapts=True),  # SGD with momentum, at the base batch size
    Option("weight_decay", None, "L2 penalty on the weights", between(0, float("inf")),
           _choose_weight_decay),
    Option("warmup_epochs", 1, "epochs of linear lr warm-up before the cosine decay",
           _warmup_epochs, _choose_warmup),
    Option("grad_clip", None, "largest gradient norm one step may take (None: no limit)",
           optional(positive_number)),
    Option("label_smoothing", 0.0, "share of each target spread over the other classes",
           between(0, 0.5)),
    Option("class_weight", None, "'balanced' or one loss weight per class, for imbalanced data",
           optional(_class_weight)),
    Option("image_size", None, "side in pixels the pictures are resized to", _image_size,
           _choose_image_size),
    Option("channels", None, "1 (grayscale) or 3 (RGB)", _channels, _choose_channels),
    Option("augment", None, "'shift', 'shift+flip', False, or a dict of flip, shift, scale "
           "and rotate, e.g. {'rotate': 10} (command line: rotate=10,scale=0.1) (default: "
           "mirrors unless the class names are digits, letters or sides)", _augment,
           _choose_augment, base=True),
    Option("topk", None, "the k of the top-k accuracies reported", _topk, _choose_topk),
    Option("random_seed", 0, "seed of weights, order and augmentation",
           whole_number(0, 2**63 - 1)),
    Option("cache", "auto", "'auto', True (decode into memory once) or False (stream files)",
           _cache, recorded=False, resumable=True),
    Option("validate", True, "measure accuracy on the validation split after each epoch",
           yes_or_no, recorded=False, resumable=True, shown=False),
    Option("tensorboard", False, "also write TensorBoard logs into save_fold/tensorboard",
           yes_or_no, recorded=False, resumable=True, shown=False),
    Option("patience", None, "stop when val top-1 has not improved for this many epochs",
           optional(whole_number(1)), recorded=False, resumable=True, shown=False),
    Option("save_fold", None, "folder for log.json and checkpoints (default: model.save_fold)",
           folder_or_file, recorded=False, resumable=True, shown=False),
    Option("save_interval", None, "also keep epoch_N.pth every N epochs",
           optional(whole_number(1)), recorded=False, resumable=True, shown=False),
    Option("checkpoint", None, "a .pth file to fine-tune from", folder_or_file, recorded=False,
           shown=False),
    Option("resume", False, "go on with the interrupted run in save_fold", yes_or_no,
           recorded=False, resumable=True, shown=False),
    Option("device", None, "'auto', 'cpu', 'cuda', 'cuda:1' or 'mps' (default: the model's)",
           recorded=False, resumable=True, shown=False),
    Option("distributed", None, "train on the processes torchrun started (None: when started "
           "so; True: insist)", optional(yes_or_no), recorded=False, resumable=True, shown=False),
    Option("verbose", True, "progress bars and settings; False shows only warnings", yes_or_no,
           recorded=False, resumable=True, shown=False),
    Option("callbacks", None, "objects whose on_epoch_end(run, epoch, metrics) etc. are called",
           optional(_callbacks), recorded=False, resumable=True, shown=False),
]
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}


# ----------------------------------------------------------------- the recipe

class Recipe:
    """The value of every option of one run, with the reason for each default chosen."""

    def __init__(self, backbone: str, values: Dict[str, Any], reasons: Dict[str, str],
                 input_spec: InputSpec):
        self.backbone, self.values, self.reasons = backbone, dict(values), dict(reasons)
        self.input_spec = input_spec

    def __getattr__(self, name: str):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes) -> "Recipe":
        return Recipe(self.backbone, {**self.values, **changes}, self.reasons, self.input_spec)

    def recorded(self) -> dict:
        """The options a checkpoint keeps, as plain values (it loads with weights_only=True)."""
        return {option.name: _plain(self.values[option.name]) for option in OPTIONS
                if option.recorded}

    def describe(self) -> str:
        shown = [option.name for option in OPTIONS if option.shown]
        width = max(map(len, shown)) + 1
        lines = [tr("easycls: training {backbone} with (pass any of these to train() to change "
                    "it):", backbone=self.backbone)]
        for name in shown:
            reason = self.reasons.get(name)
            lines.append(f"  {name:<{width}}= {self.values[name]!r}" + (f"  ({reason})" if reason else ""))
        return "\n".join(lines)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


# What other libraries call some options (Keras, Ultralytics, timm, OpenMMLab).
ELSEWHERE_NAMES = {"learning_rate": "lr", "lr0": "lr", "num_epochs": "epochs",
                   "max_epochs": "epochs", "epoch": "epochs", "seed": "random_seed",
                   "batch": "batch_size", "imgsz": "image_size", "img_size": "image_size",
                   "input_size": "image_size", "work_dir": "save_fold", "save_dir": "save_fold",
                   "project": "save_fold", "weights": "checkpoint", "resume_from": "resume",
                   "pretrain": "pretrained", "smoothing": "label_smoothing",
                   "warmup": "warmup_epochs", "wd": "weight_decay", "optim": "optimizer"}


def check_call(options: Dict[str, Any], positional: tuple = ()) -> Dict[str, Any]:
    """The options given to train(), by name; a misspelt one is explained."""
    if positional:
        raise TrainingError(f"train() takes only epochs without its name; got {len(positional)} "
                            f"more value(s) ({', '.join(map(repr, positional))}). Name them, e.g. "
                            f"train({options.get('epochs') or 10}, batch_size=32, lr=0.01).")
    unknown = [name for name in options if name not in OPTIONS_BY_NAME]
    if unknown:
        name = unknown[0]
        close = ([ELSEWHERE_NAMES[name.lower()]] if name.lower() in ELSEWHERE_NAMES else
                 difflib.get_close_matches(name, list(OPTIONS_BY_NAME), n=1))
        hint = f" Did you mean {close[0]}=?" if close else ""
        raise TrainingError(f"train() has no option {name!r}.{hint} Its options are: "
                            f"{', '.join(OPTIONS_BY_NAME)}.")
    return {name: value for name, value in options.items() if value is not None}


def run_setting(given: Dict[str, Any], name: str, context: Optional[Context] = None):
    """A run option (not part of the recipe): the given value, checked, or its default."""
    option = OPTIONS_BY_NAME[name]
    value = given.get(name, option.default)
    return option.check(name, value, context) if option.check and value is not None else value


def resolve_recipe(context: Context, given: Dict[str, Any]) -> Recipe:
    """Every recorded and shown option: the given value checked, else the default with its reason."""
    for option in OPTIONS:
        if not (option.recorded or option.shown):
            continue
        if option.name in given:
            value = given[option.name]
        elif option.choose is not None and (option.adapts or option.name not in context.spec.defaults):
            value, reason = option.choose(context)
            if reason:
                context.reasons.setdefault(option.name, reason)
        else:
            value = context.base(option.name)
            if option.name in context.spec.defaults:
                context.reasons[option.name] = tr("{backbone} default", backbone=context.spec.name)
        context.values[option.name] = (option.check(option.name, value, context)
                                       if option.check else value)
    return Recipe(context.spec.name, context.values, context.reasons, _input_spec(context))


def _input_spec(context: Context) -> InputSpec:
    values, start = context.values, context.start
    if start is not None:  # the weights were learned on this input: keep its statistics
        return InputSpec(values["image_size"], start.channels, start.mean, start.std,
                         start.resize, start.crop_pct)
    mean, std = context.spec.stats_for(values["channels"])
    return InputSpec(values["image_size"], values["channels"], mean, std)


def recipe_from_record(context: Context, record: dict, input_spec: InputSpec,
                       source: str) -> Tuple[Recipe, List[str]]:
    """The recipe a checkpoint recorded, for resuming it; missing options take their
    defaults and unknown ones are named, so files of other easycls versions resume."""
    notes = []
    known = [option.name for option in OPTIONS if option.recorded]
    unknown = sorted(str(name) for name in record if name not in known)
    if unknown:
        notes.append(f"{source} records setting(s) this easycls does not know: "
                     f"{', '.join(unknown)}; they are ignored.")
    missing = [name for name in known if name not in record]
    given = {name: record[name] for name in known if name in record}
    # The input spec is what the weights were trained on; the record only repeats it.
    given.update(image_size=input_spec.image_size, channels=input_spec.channels)
    try:
        recipe = resolve_recipe(context, given)
    except TrainingError as exc:
        raise CheckpointError(
            f"{source} records training settings this easycls cannot use ({exc}) Start a new "
            f"run from its weights instead: model.train(epochs=..., checkpoint={source}, "
            f"save_fold=<another folder>).") from None
    if missing:
        notes.append(f"{source} does not record {', '.join(missing)}; using "
                     + ", ".join(f"{name}={recipe.values[name]!r}" for name in missing) + ".")
    return Recipe(recipe.backbone, recipe.values, {}, input_spec), notes


def ignored_on_resume(given: Dict[str, Any], recipe: Recipe) -> List[str]:
    """Options given to a resumed train() that differ from the run's own and are not changed."""
    return [option.name for option in OPTIONS
            if option.name in given and not option.resumable and (
                option.name not in recipe.values
                or not _same(given[option.name], recipe.values[option.name]))]


def _same(given, value) -> bool:
    if isinstance(value, dict):  # an augment dict: the keys given say what they say
        given = _augment_pairs(given)
        return isinstance(given, dict) and all(
            key in value and _comparable(setting) == value[key] for key, setting in given.items())
    return _comparable(given) == _comparable(value)


def _comparable(value):
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value.lower() if isinstance(value, str) else value


def signature(function) -> inspect.Signature:
    """`function(self, epochs=10, *, <every other option>=<default>)`, for help() and notebooks."""
    self_parameter = list(inspect.signature(function).parameters.values())[0]
    parameters = [self_parameter]
    for option in OPTIONS:
        kind = (inspect.Parameter.POSITIONAL_OR_KEYWORD if option.name == "epochs"
                else inspect.Parameter.KEYWORD_ONLY)
        parameters.append(inspect.Parameter(option.name, kind, default=option.default))
    return inspect.Signature(parameters)


def docstring_table(indent: str = "        ") -> str:
    """The options as a docstring section: name, what it does, default."""
    width = max(len(option.name) for option in OPTIONS) + 2
    lines = [f"{indent}Options (unset ones are chosen for the backbone and data, and printed):"]
    for option in OPTIONS:
        default = "chosen" if option.default is None and option.choose else repr(option.default)
        lines.append(f"{indent}    {option.name:<{width}}{option.help} [{default}]")
    return "\n".join(lines)
