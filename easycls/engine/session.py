"""One call to train(): a new run (from scratch or from saved weights) or a resumed one.

Turns train()'s options into a recipe, a model, batches and the callbacks that
write the run's files, then lets the Trainer loop.
"""
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from torch import nn

from ..data.folder import FolderDataset
from ..data.images import survey_images
from ..errors import CheckpointError, TrainingError, TrainingInterrupted
from ..log import live_bar_class, logger
from ..models import ModelSpec, create_model, find_head, get_spec
from ..process import is_main_process
from .callbacks import (CheckpointSaver, EarlyStopping, EpochSummary, LogJsonWriter,
                        ProgressBar, TensorBoardLogger)
from .accel import Acceleration
from .checkpoint import (Checkpoint, CheckpointMeta, check_backbone, load_matching_weights,
                         model_from_checkpoint, read_checkpoint)
from .distributed import World, check_batch_size, plain_batch_norm, process_group
from .options import (Context, Recipe, ignored_on_resume, recipe_from_record, resolve_recipe,
                      run_setting)
from .run_folder import check_save_fold, claimed, prepare_save_fold
from .trainer import Trainer, seed_everything
from .training_data import prepare_training_data


@dataclass
class TrainingOutcome:
    history: List[dict]  # the train and val records of this call
    network: nn.Module  # the trained network (unwrapped)
    meta: CheckpointMeta  # its meta after the last completed epoch


def train_session(spec: ModelSpec, dataset: FolderDataset, given: Dict[str, Any], *,
                  save_fold: Path, device: torch.device,
                  loaded: Optional[Checkpoint] = None) -> TrainingOutcome:
    """Run train() with the options the user `given` (checked by name already).

    `loaded` is a checkpoint from load_checkpoint(): a new run starts from its weights
    unless `checkpoint=` names another file.
    """
    folder = Path(save_fold)
    with process_group(device, run_setting(given, "distributed")) as (world, device):
        if run_setting(given, "resume"):
            return _resumed(spec, dataset, given, folder, device, world)
        restarted = _restart_of_this_launch(folder, world)
        if restarted is not None:
            logger.warning(f"torchrun restarted the processes after a failure: continuing from "
                           f"'{restarted.path}' after epoch {restarted.meta.epoch}.")
            return _resumed(spec, dataset, given, folder, device, world, restarted)
        start = loaded
        if "checkpoint" in given:
            start = read_checkpoint(given["checkpoint"])
            check_backbone(start, spec.name)
        elif loaded is not None:
            logger.info(f"Starting from the weights loaded from '{loaded.path}' (use a new "
                        f"Classifier to train from scratch).")
        return _new(spec, dataset, given, folder, device, start, world)


def _restart_of_this_launch(folder: Path, world: World) -> Optional[Checkpoint]:
    """latest.pth, when torchrun restarted this launch's processes after it was saved (an
    earlier launch's run in the same folder is not continued unasked). Rank 0 decides for
    all: a computer whose own processes did not fail may not know it was a restart."""
    if not world.distributed:
        return None

    def saved_by_this_launch():
        path = folder / "latest.pth"
        if not world.restarted or world.launch is None or not path.is_file():
            return None
        state = read_checkpoint(path)
        return state if (state.training or {}).get("launch") == world.launch else None

    return world.from_main(saved_by_this_launch)


def _new(spec, dataset, given, folder, device, start: Optional[Checkpoint],
         world: World) -> TrainingOutcome:
    train = dataset.splits["train"]
    gray, side = survey_images([path for path, _ in train])
    context = Context(spec, len(dataset.classes), len(train), gray, side,
                      start=start.meta.input if start else None, class_names=tuple(dataset.classes))
    recipe = resolve_recipe(context, given)
    check_batch_size(recipe.batch_size, world)
    extras = _run_extras(given)
    seed_everything(recipe.random_seed)
    model = create_model(spec.name, len(dataset.classes), recipe.channels,
                         pretrained=recipe.pretrained)
    if start is not None:
        _load_start_weights(model, start, dataset.classes)
    check_save_fold(folder)
    logger.info(recipe.describe())
    with _claim(folder):
        return _fit(_trainer(model, dataset, recipe, folder, device, extras, world, new_run=True),
                    folder)


def _resumed(spec, dataset, given, folder, device, world: World,
             state: Optional[Checkpoint] = None) -> TrainingOutcome:
    """Go on from folder/latest.pth with the settings the run was started with (read on
    rank 0, whose computer has it, and handed to the others)."""
    path = folder / "latest.pth"
    if state is None:
        state = world.from_main(lambda: read_checkpoint(path))
    check_backbone(state, spec.name)
    missing = state.missing_training_state() + ([] if state.meta.recipe else ["meta['recipe']"])
    if missing:
        raise CheckpointError(
            f"Cannot resume from '{path}': it has weights but not the training state "
            f"({', '.join(missing)}). Start a new run from its weights instead: "
            f"model.train(epochs=..., checkpoint='{path}', save_fold=<another folder>).")
    if state.meta.classes != list(dataset.classes):
        raise CheckpointError(
            f"Cannot resume '{path}': it was trained on classes {', '.join(state.meta.classes)}, "
            f"but the loaded data set has {', '.join(dataset.classes)}. Load the same data "
            f"set, or start a new run with checkpoint='{path}' to fine-tune instead.")
    context = Context(spec, len(dataset.classes), len(dataset.splits["train"]),
                      start=state.meta.input, class_names=tuple(dataset.classes))
    recipe, notes = recipe_from_record(context, state.meta.recipe, state.meta.input, repr(str(path)))
    if "epochs" in given:
        recipe = recipe.replace(epochs=run_setting(given, "epochs"))
    check_batch_size(recipe.batch_size, world)
    for note in notes:
        logger.warning(f"Note: {note}")
    ignored = ignored_on_resume(given, recipe)
    if ignored:
        logger.warning(f"Note: resume=True goes on with the settings the run started with; "
                       f"ignoring {', '.join(ignored)}.")
    extras = _run_extras(given)
    model = model_from_checkpoint(state)
    if state.meta.epoch >= recipe.epochs:
        logger.info(f"Nothing to do: '{path}' has already trained {state.meta.epoch} epochs "
                    f"and epochs={recipe.epochs}. Pass a larger epochs= to train further.")
        return TrainingOutcome([], model, state.meta)
    logger.info(f"Resuming '{path}' after epoch {state.meta.epoch} of {recipe.epochs}, with "
                f"the settings it was started with.")
    with _claim(folder):
        trainer = _trainer(model, dataset, recipe, folder, device, extras, world, new_run=False)
        try:
            note = trainer.resume_from(state.training, state.meta)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError, AttributeError) as exc:
            raise CheckpointError(
                f"Cannot resume from '{path}': its training state is damaged "
                f"({type(exc).__name__}: {exc}). Start a new run from its weights instead: "
                f"model.train(epochs=..., checkpoint='{path}', save_fold=<another folder>).") from exc
        if note:
            logger.warning(note)
        return _fit(trainer, folder)


def _claim(folder: Path):
    """The main process holds save_fold while it trains; the others write nothing there."""
    return claimed(folder) if is_main_process() else contextlib.nullcontext()


def _run_extras(given) -> dict:
    """The run options that are not part of the recipe, checked."""
    extras = {name: run_setting(given, name)
              for name in ("validate", "save_interval", "cache", "verbose", "callbacks", "patience",
                           "tensorboard")}
    if extras["tensorboard"]:
        TensorBoardLogger.summary_writer()  # a missing package is said before any decoding
    if extras["patience"] is not None and not extras["validate"]:
        raise TrainingError(f"patience={extras['patience']} stops training when validation "
                            f"stops improving, but validate=False turns validation off. Remove "
                            f"patience, or train with validate=True.")
    return extras


def _trainer(model, dataset, recipe: Recipe, folder: Path, device, extras, world: World, *,
             new_run: bool) -> Trainer:
    generator = torch.Generator().manual_seed(recipe.random_seed)
    data = prepare_training_data(dataset, recipe, device, validate=extras["validate"],
                                 cache=extras["cache"], generator=generator, world=world)
    if new_run and is_main_process():  # only now: a data problem leaves the earlier run in place
        prepare_save_fold(folder)
    callbacks: List = []
    if is_main_process():
        callbacks += [LogJsonWriter(folder), CheckpointSaver(folder, extras["save_interval"])]
        bar_class = live_bar_class()
        if extras["verbose"] and bar_class is not None:  # cleared before the epoch's line
            callbacks.append(ProgressBar(bar_class))
        callbacks.append(EpochSummary())
        if extras["tensorboard"]:
            callbacks.append(TensorBoardLogger(folder / "tensorboard"))
    if extras["patience"] is not None:
        callbacks.append(EarlyStopping(extras["patience"]))
    callbacks += extras["callbacks"] or []
    spec = get_spec(recipe.backbone)
    accel = Acceleration.for_device(device, channels_last_on_cpu=spec.channels_last_on_cpu,
                                    bf16_on_cpu=spec.bf16_on_cpu)
    return Trainer(model, data, recipe, device, generator, callbacks, world, accel)


def _fit(trainer: Trainer, folder: Path) -> TrainingOutcome:
    try:
        history = trainer.fit()
    except TrainingInterrupted as stop:
        epochs, where = trainer.recipe.epochs, repr(str(folder))
        interrupted = TrainingInterrupted(
            f"{stop} To continue exactly from there:\n    model.train(epochs={epochs}, resume=True, "
            f"save_fold={where})" if trainer.resumable else
            f"{stop} Start again with:\n    model.train(epochs={epochs}, save_fold={where})")
        # The weights reached so far are the model's, as after a finished run.
        interrupted.outcome = TrainingOutcome(trainer.history, plain_batch_norm(trainer.network),
                                              trainer.meta(trainer.completed_epochs))
        interrupted.history = trainer.history
        raise interrupted from None
    return TrainingOutcome(history, plain_batch_norm(trainer.network),
                           trainer.meta(trainer.completed_epochs))


def _load_start_weights(model, start: Checkpoint, classes: List[str]) -> None:
    """Load a checkpoint's weights for fine-tuning; a head for other classes starts fresh."""
    state = dict(start.state_dict)
    same_classes = start.meta.classes == list(classes)
    if not same_classes:
        head = find_head(model)[0]
        state = {k: v for k, v in state.items() if not k.startswith(head + ".")}
        logger.info(f"Fine-tuning from '{start.path}': its classes "
                    f"({', '.join(start.meta.classes)}) differ from this data set's "
                    f"({', '.join(classes)}), so the last layer starts fresh; all other weights "
                    f"are loaded.")
    fresh = load_matching_weights(model, state)
    if same_classes and fresh:
        raise CheckpointError(f"'{start.path}' is missing weights for {', '.join(fresh[:5])}; it "
                              f"does not fit this backbone.")
    if same_classes:
        logger.info(f"Continuing training from the weights in '{start.path}'.")
