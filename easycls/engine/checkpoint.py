"""The one checkpoint format: its meta is built, written, read and checked here only.

A checkpoint is a plain dict that loads with `torch.load(path, weights_only=True)`:
no pickled objects, so opening a checkpoint someone sent you cannot run their code.

    state_dict   the weights (never wrapped: no "module." prefixes)
    meta         CheckpointMeta.to_dict(): format_version, easycls_version, backbone,
                 num_classes, classes, the input spec (in_channels, image_size, mean,
                 std, resize, crop_pct), epoch, best, recipe (train()'s recorded options)
    optimizer, scheduler, rng, scaler, progress   training state, for resume=True
    launch       the torchrun launch that wrote it (None alone): a restart continues it

Files of other versions load: missing fields take their defaults and unknown ones
are named in a note. Every field is checked, so a damaged file is refused with the
field named instead of failing later in a resize or a matrix product.
"""
import hashlib
import math
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from torch import nn

from ..data.input_spec import MAX_IMAGE_SIZE, RESIZE_MODES, InputSpec
from ..errors import BackboneError, CheckpointError, PathNotFoundError
from ..i18n import tr
from ..log import logger
from ..models import create_model, find_head, get_spec
from ..version import __version__
from .openmmlab import MMEDU_INPUT, convert_openmmlab, looks_like_openmmlab

FORMAT_VERSION = 1
# The format version that added a field: files of earlier versions are not said to lack it.
INTRODUCED_IN = {"crop_pct": 1}
TRAINING_STATE = ("optimizer", "scheduler", "rng", "scaler", "progress", "launch")
META_FIELDS = ("format_version", "easycls_version", "backbone", "num_classes", "classes",
               "in_channels", "image_size", "mean", "std", "resize", "crop_pct", "epoch", "best",
               "recipe", "source")


@dataclass
class CheckpointMeta:
    backbone: str
    classes: List[str]
    input: InputSpec
    epoch: int = 0  # epochs completed
    best: Dict[str, float] = field(default_factory=dict)  # best validation metrics so far
    recipe: Dict[str, Any] = field(default_factory=dict)  # train()'s recorded options
    source: Optional[str] = None  # for imported checkpoints: where they came from
    easycls_version: str = __version__
    format_version: int = FORMAT_VERSION

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict:
        """Plain values only, as written into the file (and returned to users)."""
        spec = self.input
        meta = {"format_version": self.format_version, "easycls_version": self.easycls_version,
                "backbone": self.backbone, "num_classes": self.num_classes,
                "classes": list(self.classes), "in_channels": spec.channels,
                "image_size": spec.image_size, "mean": list(spec.mean), "std": list(spec.std),
                "resize": spec.resize, "crop_pct": spec.crop_pct, "epoch": self.epoch,
                "best": dict(self.best), "recipe": dict(self.recipe)}
        if self.source is not None:
            meta["source"] = self.source
        return meta


@dataclass
class Checkpoint:
    """A checkpoint file read and checked: weights, meta, and any training state."""

    path: str
    state_dict: Dict[str, torch.Tensor]
    meta: CheckpointMeta
    training: Dict[str, Any] = field(default_factory=dict)

    def missing_training_state(self) -> List[str]:
        return [key for key in ("optimizer", "scheduler", "rng") if key not in self.training]


# --------------------------------------------------------------------- writing

def unwrap(model: nn.Module) -> nn.Module:
    """The network inside DistributedDataParallel, DataParallel or torch.compile wrappers."""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif type(model).__name__ == "OptimizedModule":  # torch.compile
            model = model._orig_mod
        else:
            return model


def checkpoint_dict(model: nn.Module, meta: CheckpointMeta,
                    training: Optional[Dict[str, Any]] = None) -> dict:
    """What a checkpoint file holds; `training` adds the state resume=True needs."""
    state = {"state_dict": unwrap(model).state_dict(), "meta": meta.to_dict()}
    state.update({key: value for key, value in (training or {}).items() if value is not None})
    return state


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


# --------------------------------------------------------------------- reading

def read_checkpoint(path) -> Checkpoint:
    """Load and check a checkpoint file, with a clear error for anything else."""
    obj = _load(path)
    if looks_like_openmmlab(obj):
        imported = convert_openmmlab(obj, path)
        meta = CheckpointMeta(imported.backbone, imported.classes, MMEDU_INPUT,
                              epoch=imported.epoch, source=f"OpenMMLab/MMEdu checkpoint {path}")
        logger.info(f"'{path}' is an MMEdu/OpenMMLab checkpoint: loaded as {meta.backbone} with "
                    f"classes {', '.join(meta.classes)} (MMEdu's test preprocessing: shorter "
                    f"side 256, centre crop 224, ImageNet normalisation).")
        return Checkpoint(str(path), imported.state_dict, meta)
    if not isinstance(obj, dict) or not isinstance(obj.get("state_dict"), dict) or \
            not isinstance(obj.get("meta"), dict) or "backbone" not in obj["meta"] or \
            "classes" not in obj["meta"]:
        keys = ", ".join(map(str, list(obj)[:8])) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(
            f"'{path}' is not an easycls checkpoint: expected a dict with 'state_dict' and "
            f"'meta' (with backbone and classes), found {keys}. Use a latest.pth or "
            f"best_accuracy_top-1.pth written by easycls training.")
    meta, notes = _meta_from_dict(obj["meta"], obj["state_dict"], path)
    for note in notes:
        logger.warning(f"Note: {note}")
    training = {key: obj[key] for key in TRAINING_STATE if key in obj}
    return Checkpoint(str(path), obj["state_dict"], meta, training)


def _load(path):
    if not isinstance(path, (str, os.PathLike)):
        raise CheckpointError(f"The checkpoint must be given as a file path (a string), got "
                              f"{type(path).__name__} {path!r}, e.g. "
                              f"'checkpoints/cls_model/best_accuracy_top-1.pth'.")
    if os.path.isdir(path):
        found = sorted(p.name for p in Path(path).glob("*.pth"))
        raise CheckpointError(f"'{path}' is a folder; give one checkpoint file in it" + (
            f", e.g. '{Path(path) / found[0]}'. Its .pth files: {', '.join(found)}." if found
            else ", a .pth file (it holds none)."))
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        found = sorted(p.name for p in Path(folder).glob("*.pth")) if os.path.isdir(folder) else []
        hint = (tr(" .pth files in that folder: {names}.", names=", ".join(found)) if found else
                tr(" Train first (model.train()) or check the path."))
        raise PathNotFoundError(tr("Checkpoint '{path}' does not exist.", path=path) + hint)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" not in str(exc).lower():  # not a pickled object, just not a checkpoint
            raise CheckpointError(f"'{path}' is not a readable PyTorch checkpoint (it may be "
                                  f"truncated or another kind of file).") from exc
        raise CheckpointError(
            f"'{path}' stores Python objects that would have to run code to load, so easycls "
            f"refuses it (a .pth file can hide arbitrary code). easycls checkpoints hold only "
            f"tensors and plain values. If you trust the file's author, re-save its weights "
            f"with torch.save(model.state_dict(), ...) and train from them. Detail: {exc}") from exc
    except (RuntimeError, EOFError, OSError, ValueError, IndexError, KeyError) as exc:
        # A KeyError from a text file is a byte value, e.g. 544502645: no help to anyone.
        detail = "" if isinstance(exc, KeyError) else f" ({type(exc).__name__}: {exc})"
        raise CheckpointError(f"'{path}' is not a readable PyTorch checkpoint (it may be "
                              f"truncated or another kind of file){detail}.") from exc


def _upgrade(raw: dict, version: int) -> dict:
    """The meta of an older format in today's terms."""
    meta = dict(raw)
    if version < 1:  # easycls 0.1.0 wrote no format_version
        if meta.get("resize") == "stretch-bilinear":
            meta["resize"] = "stretch"
        if isinstance(meta.get("recipe"), dict):
            recipe = dict(meta["recipe"])
            if "seed" in recipe:
                recipe["random_seed"] = recipe.pop("seed")
            for moved in ("backbone", "mean", "std", "cache"):  # kept elsewhere (or not a setting)
                recipe.pop(moved, None)
            meta["recipe"] = recipe
    return meta


def _meta_from_dict(raw: dict, state_dict: dict, path):
    """(CheckpointMeta, notes): every field checked; missing ones defaulted, unknown ones named."""
    bad = _FieldCheck(path)
    version = raw.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        bad.field("format_version", version, "a whole number of 0 or more")
    notes = []
    if version > FORMAT_VERSION:
        notes.append(f"'{path}' was written by a newer easycls (checkpoint format {version}; "
                     f"this is {__version__}, format {FORMAT_VERSION}): reading the fields it "
                     f"knows. Upgrade easycls (pip install -U easycls) if anything looks wrong.")
    meta = _upgrade(raw, version)
    unknown = sorted(set(map(str, meta)) - set(META_FIELDS))
    if unknown:
        notes.append(f"'{path}' has meta field(s) this easycls ({__version__}) does not know: "
                     f"{', '.join(unknown)}; they are ignored.")

    try:
        spec = get_spec(meta["backbone"])
    except BackboneError as exc:
        raise CheckpointError(f"'{path}' names a backbone this easycls cannot build: {exc}") from None
    classes = meta["classes"]
    if not isinstance(classes, (list, tuple)) or not classes or not all(
            isinstance(c, str) and c.strip() for c in classes) or len(set(classes)) != len(classes):
        bad.field("classes", classes, "a list of distinct, non-empty class names")
    if "num_classes" in meta and meta["num_classes"] != len(classes):
        bad.field("num_classes", meta["num_classes"], f"{len(classes)}, the number of classes "
                                                      f"listed ({', '.join(classes)})")

    defaults = _defaults(spec, state_dict)
    missing = [name for name in defaults
               if name not in meta and INTRODUCED_IN.get(name, 0) <= version]
    if missing:
        notes.append(f"'{path}' lacks meta field(s) {', '.join(missing)}; using "
                     + ", ".join(f"{name}={defaults[name]!r}" for name in missing) + ".")
    value = {name: meta.get(name, defaults[name]) for name in defaults}
    channels = value["in_channels"]
    if channels not in (1, 3) or isinstance(channels, bool):
        bad.field("in_channels", channels, "1 or 3")
    size = value["image_size"]
    if isinstance(size, bool) or not isinstance(size, int) or \
            not spec.min_image_size <= size <= MAX_IMAGE_SIZE:
        bad.field("image_size", size, f"a whole number from {spec.min_image_size} to "
                                      f"{MAX_IMAGE_SIZE} (pixels)")
    for name, positive in (("mean", False), ("std", True)):
        numbers = value[name]
        if not isinstance(numbers, (list, tuple)) or len(numbers) != channels or not all(
                _finite(x) and (x > 0 or not positive) for x in numbers):
            bad.field(name, numbers, f"{channels} finite number(s)" + (", above 0" if positive else ""))
    if value["resize"] not in RESIZE_MODES:
        bad.field("resize", value["resize"], " or ".join(repr(m) for m in RESIZE_MODES))
    if not _finite(value["crop_pct"]) or not 0 < value["crop_pct"] <= 1:
        bad.field("crop_pct", value["crop_pct"], "a number above 0 and at most 1")
    epoch = value["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        bad.field("epoch", epoch, "a whole number of 0 or more")
    best = value["best"]
    if not isinstance(best, dict) or not all(isinstance(k, str) and _finite(v) for k, v in best.items()):
        bad.field("best", best, "a dict of metric names and numbers")
    recipe = meta.get("recipe", {})
    if not isinstance(recipe, dict):
        bad.field("recipe", recipe, "a dict of training options")
    source = meta.get("source")
    return CheckpointMeta(
        backbone=spec.name, classes=list(classes),
        input=InputSpec(size, channels, tuple(float(x) for x in value["mean"]),
                        tuple(float(x) for x in value["std"]), value["resize"],
                        float(value["crop_pct"])),
        epoch=epoch, best={k: float(v) for k, v in best.items()}, recipe=dict(recipe),
        source=str(source) if source is not None else None,
        easycls_version=str(meta.get("easycls_version", "unknown")),
        format_version=FORMAT_VERSION), notes


def _defaults(spec, state_dict: dict) -> dict:
    channels = spec.channels or _first_conv_channels(state_dict) or 3
    mean, std = spec.stats_for(channels)
    return {"in_channels": channels, "image_size": spec.image_size, "mean": list(mean),
            "std": list(std), "resize": "stretch", "crop_pct": 1.0, "epoch": 0, "best": {}}


def _first_conv_channels(state_dict: dict) -> Optional[int]:
    for tensor in state_dict.values():
        if isinstance(tensor, torch.Tensor) and tensor.ndim == 4 and tensor.is_floating_point():
            return int(tensor.shape[1])
    return None


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class _FieldCheck:
    def __init__(self, path):
        self.path = path

    def field(self, name: str, value, expected: str):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise CheckpointError(
            f"'{self.path}' has an invalid meta['{name}']: {shown}, expected {expected}. The "
            f"file may have been edited or damaged; use a checkpoint written by easycls "
            f"training, or train again.")


# ---------------------------------------------------------------- into a model

def check_backbone(checkpoint: Checkpoint, backbone: str) -> None:
    saved, wanted = checkpoint.meta.backbone, get_spec(backbone).name
    if saved != wanted:
        raise CheckpointError(
            f"'{checkpoint.path}' was trained with backbone {saved}, but this model is "
            f"{wanted}. Create the model with Classifier('{saved}') to use this checkpoint, "
            f"or pick a checkpoint trained with {wanted}.")


def model_from_checkpoint(checkpoint: Checkpoint) -> nn.Module:
    """Build the saved backbone and load its weights exactly."""
    meta = checkpoint.meta
    with torch.device("meta"):  # shapes only, to name the head before building for real
        head = find_head(create_model(meta.backbone, meta.num_classes, meta.input.channels))[0]
    outputs = checkpoint.state_dict.get(f"{head}.weight")
    if isinstance(outputs, torch.Tensor) and outputs.ndim == 2 and len(outputs) != meta.num_classes:
        raise CheckpointError(
            f"'{checkpoint.path}' lists {meta.num_classes} classes ({', '.join(meta.classes)}) "
            f"but its last layer has {len(outputs)} outputs; the file may have been edited. "
            f"Use a checkpoint written by easycls training.")
    model = create_model(meta.backbone, meta.num_classes, meta.input.channels)
    try:
        model.load_state_dict(checkpoint.state_dict)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"The weights in '{checkpoint.path}' do not fit a {meta.backbone} "
                              f"with {meta.num_classes} classes and {meta.input.channels} input "
                              f"channel(s); the file may have been edited. Detail: {exc}") from exc
    return model


def load_matching_weights(model: nn.Module, state_dict: Dict[str, torch.Tensor]) -> list:
    """Copy every weight whose name and shape match; return the names left as initialised."""
    own = model.state_dict()
    usable = {k: v for k, v in state_dict.items()
              if k in own and isinstance(v, torch.Tensor) and own[k].shape == v.shape}
    model.load_state_dict(usable, strict=False)
    return sorted(k for k in own if k not in usable)


# --------------------------------------------------------------- info, publish

def checkpoint_info(path) -> dict:
    """What a checkpoint holds, as plain values: its meta, whether it can resume, its size."""
    state = read_checkpoint(path)
    parameters = sum(t.numel() for name, t in state.state_dict.items() if t.is_floating_point()
                     and not name.endswith(("running_mean", "running_var")))
    return {"file": str(path), "size_bytes": os.path.getsize(path), **state.meta.to_dict(),
            "parameters": parameters, "resumable": not state.missing_training_state(),
            "training_state": sorted(state.training)}


def format_checkpoint_info(info: dict) -> str:
    spec = f"{info['in_channels']}x{info['image_size']}x{info['image_size']}"
    best = ", ".join(f"{k} {v:.2f}%" for k, v in info["best"].items()) or "none recorded"
    recipe = ", ".join(f"{k}={v!r}" for k, v in info["recipe"].items()) or "none recorded"
    lines = [f"Checkpoint '{info['file']}' ({info['size_bytes'] / 1e6:.1f} MB)",
             f"  backbone   {info['backbone']} ({info['parameters']:,} weights)",
             f"  classes    {info['num_classes']}: {', '.join(info['classes'])}",
             f"  input      {spec}, {info['resize']}, mean {info['mean']}, std {info['std']}",
             f"  trained    {info['epoch']} epoch(s); best validation: {best}",
             f"  settings   {recipe}",
             "  resume     " + ("yes (optimizer, schedule and random state saved)"
                                 if info["resumable"] else "no: weights only (fine-tune with "
                                                           "train(checkpoint=...))"),
             f"  imported   from {info['source']}" if info.get("source") else
             f"  written by easycls {info['easycls_version']}, format {info['format_version']}"]
    return "\n".join(lines)


def publish_checkpoint(path, out) -> Path:
    """Weights and meta only (no optimizer or resume state), saved as OUT-<sha256[:8]>.pth:
    the name says which file it is, as OpenMMLab's publish_model.py does."""
    state = read_checkpoint(path)
    out = Path(out)
    if out.suffix != ".pth":
        out = out.with_name(out.name + ".pth")
    out.parent.mkdir(parents=True, exist_ok=True)
    written = save_atomic({"state_dict": state.state_dict, "meta": state.meta.to_dict()},
                          out.with_name(f".{out.stem}.unpublished.pth"))
    digest = hashlib.sha256(written.read_bytes()).hexdigest()[:8]
    final = out.with_name(f"{out.stem}-{digest}.pth")
    os.replace(written, final)
    return final
