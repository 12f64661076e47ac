"""Setting up a training run: a new one (from scratch or from saved weights) or a resumed one."""
from pathlib import Path
from typing import List, Optional, Tuple

from ..data.folder import FolderDataset
from ..data.images import survey_images
from ..errors import CheckpointError
from ..models import ModelSpec, create_model, find_head
from .checkpoint import check_backbone, load_matching_weights, model_from_checkpoint, read_checkpoint
from .recipe import default_recipe, recipe_from_meta
from .run_folder import prepare_save_fold
from .trainer import Trainer, seed_everything

# (checkpoint dict, its path): weights a new run starts from.
Start = Tuple[dict, object]


def new_run(spec: ModelSpec, dataset: FolderDataset, folder: Path, device, *,
            start: Optional[Start], settings: dict, **trainer_options) -> Trainer:
    """A Trainer for a fresh run; `settings` are train()'s recipe keywords."""
    gray, side = survey_images([path for path, _ in dataset.splits["train"]])
    recipe = default_recipe(spec, len(dataset.classes), train_size=len(dataset.splits["train"]),
                            data_is_gray=gray, data_side=side,
                            fixed_input=start[0]["meta"] if start else None, **settings)
    seed_everything(recipe.seed)
    model = create_model(spec.name, len(dataset.classes), recipe.channels,
                         pretrained=recipe.pretrained)
    if start:
        _load_start_weights(model, *start, dataset.classes)
    prepare_save_fold(folder)
    print(recipe.describe())
    return Trainer(model, dataset, recipe, folder, device, **trainer_options)


def resumed_run(spec: ModelSpec, dataset: FolderDataset, folder: Path, device, *, epochs: int,
                **trainer_options) -> Trainer:
    """A Trainer that goes on from folder/latest.pth with the settings it was started with."""
    path = folder / "latest.pth"
    state = read_checkpoint(path)
    check_backbone(state, spec.name, path)
    missing = [key for key in ("optimizer", "scheduler", "rng") if key not in state]
    missing += ["meta['recipe']"] if "recipe" not in state["meta"] else []
    if missing:
        raise CheckpointError(
            f"Cannot resume from '{path}': it has weights but not the training state "
            f"({', '.join(missing)}). Start a new run from its weights instead: "
            f"model.train(epochs=..., checkpoint='{path}', save_fold=<another folder>).")
    if list(state["meta"]["classes"]) != list(dataset.classes):
        raise CheckpointError(
            f"Cannot resume '{path}': it was trained on classes "
            f"{', '.join(state['meta']['classes'])}, but the loaded data set has "
            f"{', '.join(dataset.classes)}. Load the same data set, or start a new run "
            f"with checkpoint='{path}' to fine-tune instead.")
    recipe = recipe_from_meta(state["meta"]["recipe"], "resumed run")
    recipe.epochs = epochs
    model = model_from_checkpoint(state, path)
    print(f"Resuming '{path}' after epoch {state['meta']['epoch']} of {epochs}, with the "
          f"settings it was started with.")
    trainer = Trainer(model, dataset, recipe, folder, device, **trainer_options)
    trainer.resume_from(state)
    return trainer


def _load_start_weights(model, start: dict, path, classes: List[str]) -> None:
    """Load a checkpoint's weights for fine-tuning; a head for other classes starts fresh."""
    state = dict(start["state_dict"])
    same_classes = list(start["meta"]["classes"]) == list(classes)
    if not same_classes:
        head = find_head(model)[0]
        state = {k: v for k, v in state.items() if not k.startswith(head + ".")}
        print(f"Fine-tuning from '{path}': its classes ({', '.join(start['meta']['classes'])}) "
              f"differ from this data set's ({', '.join(classes)}), so the last layer starts "
              f"fresh; all other weights are loaded.")
    fresh = load_matching_weights(model, state)
    if same_classes and fresh:
        raise CheckpointError(f"'{path}' is missing weights for {', '.join(fresh[:5])}; it "
                              f"does not fit this backbone.")
    if same_classes:
        print(f"Continuing training from the weights in '{path}'.")
