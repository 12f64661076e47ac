"""The Classifier facade: holds the state of one model and delegates the work."""
from pathlib import Path
from typing import List, Optional, Union

from .data.doctor import check_dataset
from .data.folder import FolderDataset, read_dataset
from .engine.checkpoint import check_backbone, model_from_checkpoint, read_checkpoint
from .engine.device import resolve_device
from .engine.recipe import check_positive
from .engine.session import Start, new_run, resumed_run
from .errors import CheckpointError, DatasetError, EasyclsError
from .inference import Predictor, predict_inputs
from .models import get_spec, list_models
from .results import format_results

DEFAULT_SAVE_FOLD = "checkpoints/cls_model"


class Classifier:
    """An image classifier: pick a backbone, load a data set, train, infer.

    Example:
        >>> from easycls import Classifier as cls
        >>> model = cls('LeNet')
        >>> model.load_dataset('dataset/hand_gray')
        >>> history = model.train(epochs=10)
        >>> result = model.inference('demo/rock.png')
    """

    def __init__(self, backbone: str = "LeNet", num_classes: Optional[int] = None,
                 device: str = "auto"):
        self.spec = get_spec(backbone)
        self.backbone = self.spec.name
        self.num_classes = num_classes
        self.device = device
        self.save_fold = DEFAULT_SAVE_FOLD
        self.dataset: Optional[FolderDataset] = None
        self.net = None
        self.meta: Optional[dict] = None
        self.last_results = None
        self._predictor: Optional[Predictor] = None
        self._loaded = None  # (checkpoint, path) from load_checkpoint: train() starts from it

    def __repr__(self) -> str:
        classes = self.meta["classes"] if self.meta else (self.dataset.classes if self.dataset else None)
        return f"Classifier(backbone={self.backbone!r}, num_classes={self.num_classes!r}, classes={classes!r})"

    @staticmethod
    def sota() -> List[str]:
        """The backbones you can use, e.g. ['LeNet', 'MobileNet', 'ResNet18', ...]."""
        return list_models()

    def load_dataset(self, path: Union[str, Path], check: Optional[str] = "quick") -> FolderDataset:
        """Read an ImageNet-style data set folder, fix its classes and check it.

        check='quick' (default) reads every image header, 'full' decodes every
        image, None only reads the folder structure. Problems are printed;
        those that would train on wrong labels stop here with an explanation.

        Example:
            >>> model.load_dataset('dataset/hand_gray')
        """
        self.num_classes = _checked_num_classes(self.num_classes)
        if check not in (None, "quick", "full"):
            raise DatasetError(f"check={check!r} is not valid: use 'quick' (read image headers, "
                               f"the default), 'full' (decode every image) or None (skip).")
        if check is None:
            self.dataset = read_dataset(path, num_classes=self.num_classes)
        else:
            self.dataset = self._checked_dataset(path, check)
        self.num_classes = len(self.dataset.classes)
        sizes = ", ".join(f"{name} {count}" for name, count in self.dataset.sizes().items())
        print(f"Data set '{path}': {self.num_classes} classes ({', '.join(self.dataset.classes)}); "
              f"images: {sizes}.")
        return self.dataset

    def _checked_dataset(self, path, check: str) -> FolderDataset:
        report = check_dataset(path, check=check, num_classes=self.num_classes, write_lists=True,
                               verbose=False)
        for line in report.notes + [f"Warning: {w}" for w in report.warnings]:
            print(line)
        if report.exception is not None:
            raise report.exception
        if len(report.errors) == 1:
            raise DatasetError(report.errors[0])
        if report.errors:
            raise DatasetError(f"'{path}' has {len(report.errors)} problems:\n- "
                               + "\n- ".join(report.errors)
                               + f"\nRun easycls.check_dataset('{path}') for the full report.")
        return report.dataset

    def train(self, epochs: int = 10, batch_size: Optional[int] = None, lr: Optional[float] = None,
              optimizer: str = "SGD", validate: bool = True, random_seed: int = 0,
              device: Optional[str] = None, save_fold: Optional[Union[str, Path]] = None,
              checkpoint: Optional[Union[str, Path]] = None, resume: bool = False,
              topk=None, image_size: Optional[int] = None, channels: Optional[int] = None,
              augment: bool = True, pretrained: bool = False, cache="auto",
              weight_decay: Optional[float] = None, save_interval: Optional[int] = None,
              verbose: bool = True) -> List[dict]:
        """Train on the loaded data set; write log.json and checkpoints into save_fold.

        Unset settings get the backbone's defaults, printed before training starts.
        `checkpoint=` starts from saved weights (fine-tuning); `resume=True`
        continues the interrupted run in save_fold. Returns the log lines written.

        Example:
            >>> history = model.train(epochs=10, validate=True)
        """
        dataset = self._require_dataset()
        epochs = check_positive("epochs", epochs)
        if save_interval is not None:
            save_interval = check_positive("save_interval", save_interval)
        if save_fold is not None:
            self.save_fold = save_fold
        folder = Path(self.save_fold)
        run_device = resolve_device(device or self.device)
        options = dict(validate=validate, save_interval=save_interval, verbose=verbose)
        if resume:
            _note_ignored_on_resume(
                checkpoint=checkpoint is not None, batch_size=batch_size is not None,
                lr=lr is not None, optimizer=optimizer != "SGD", weight_decay=weight_decay is not None,
                image_size=image_size is not None, channels=channels is not None,
                augment=augment is not True, topk=topk is not None, random_seed=random_seed != 0,
                pretrained=pretrained is not False, cache=cache != "auto")
            trainer = resumed_run(self.spec, dataset, folder, run_device, epochs=epochs, **options)
        else:
            settings = dict(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                            weight_decay=weight_decay, image_size=image_size, channels=channels,
                            augment=augment, topk=topk, seed=random_seed, pretrained=pretrained,
                            cache=cache)
            trainer = new_run(self.spec, dataset, folder, run_device,
                              start=self._starting_weights(checkpoint), settings=settings, **options)
        history = trainer.run()
        self.net, self.meta = trainer.model, trainer.meta(trainer.completed_epochs)
        self._predictor = Predictor(self.net, self.meta, run_device)
        self._loaded = None
        if trainer.best and not trainer.interrupted:
            print("Best validation: " + ", ".join(f"{k} {v:.2f}%" for k, v in trainer.best.items())
                  + f". Checkpoints in '{folder}'.")
        return history

    def _starting_weights(self, checkpoint) -> Optional[Start]:
        """The checkpoint to start from: the one given, else the one loaded, else none."""
        if checkpoint is not None:
            start = read_checkpoint(checkpoint)
            check_backbone(start, self.backbone, checkpoint)
            return start, checkpoint
        if self._loaded is not None:
            print(f"Starting from the weights loaded from '{self._loaded[1]}' (use a new "
                  f"Classifier to train from scratch).")
        return self._loaded

    def load_checkpoint(self, checkpoint: Union[str, Path], device: Optional[str] = None) -> dict:
        """Restore backbone weights, classes and preprocessing from a checkpoint file.

        Example:
            >>> model.load_checkpoint('checkpoints/hand_gray/best_accuracy_top-1.pth')
        """
        state = read_checkpoint(checkpoint)
        check_backbone(state, self.backbone, checkpoint)
        self.net = model_from_checkpoint(state, checkpoint)
        self.meta = state["meta"]
        self._loaded = (state, checkpoint)
        self._predictor = Predictor(self.net, self.meta, resolve_device(device or self.device))
        return self.meta

    def inference(self, image, show: bool = True, checkpoint: Optional[Union[str, Path]] = None,
                  device: Optional[str] = None, save_fold: Union[str, Path] = "cls_result"):
        """Classify images with the given checkpoint (or the model just trained).

        `image`: a file, a folder, a PIL image, a numpy array (RGB) or a list of these.
        Returns one result dict, or a list of them for a folder or list.

        Example:
            >>> result = model.inference('demo/rock.png', checkpoint='checkpoints/lenet_hand_gray.pth')
        """
        if checkpoint is not None:
            self.load_checkpoint(checkpoint, device=device)
        elif device is not None:
            self._predictor = Predictor(self._require_predictor().model, self.meta,
                                        resolve_device(device))
        return self.fast_inference(image, show=show, save_fold=save_fold)

    def fast_inference(self, image, show: bool = False, save_fold: Union[str, Path] = "cls_result"):
        """Classify images with the loaded model, without reading a checkpoint again."""
        predictor = self._require_predictor()
        results, items = predict_inputs(predictor, image)
        if show:
            from .visualize import in_notebook, save_annotated

            rows = [results] if isinstance(results, dict) else results
            written = save_annotated(items, rows, save_fold, display=in_notebook())
            print(f"Saved {len(written)} annotated picture(s) in '{save_fold}'.")
        self.last_results = results
        return results

    def print_result(self, result=None, lang: str = "en"):
        """Print a table of the given results (default: the last ones) and return them."""
        result = self.last_results if result is None else result
        if result is None:
            raise EasyclsError("There are no results to print yet: call model.inference(...) "
                               "first, or pass its result: model.print_result(result).")
        print(format_results(result, lang))
        return result

    def _require_dataset(self) -> FolderDataset:
        if self.dataset is None:
            raise DatasetError("No data set is loaded. Call model.load_dataset('path/to/dataset') "
                               "before model.train().")
        if self.num_classes is not None and self.num_classes != len(self.dataset.classes):
            raise DatasetError(
                f"The model is set to {self.num_classes} classes, but the loaded data set has "
                f"{len(self.dataset.classes)}: {', '.join(self.dataset.classes)}. Remove "
                f"`model.num_classes = {self.num_classes}`, or set it to "
                f"{len(self.dataset.classes)}.")
        return self.dataset

    def _require_predictor(self) -> Predictor:
        if self._predictor is None:
            raise CheckpointError(
                "This model has no weights yet. Pass a checkpoint, e.g. "
                "model.inference(image, checkpoint='checkpoints/cls_model/best_accuracy_top-1.pth'), "
                "call model.load_checkpoint(...) first, or train it with model.train().")
        return self._predictor


def _note_ignored_on_resume(**changed: bool) -> None:
    ignored = [name for name, was_changed in changed.items() if was_changed]
    if ignored:
        print(f"Note: resume=True goes on with the settings the run started with; "
              f"ignoring {', '.join(ignored)}.")


def _checked_num_classes(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise DatasetError(f"num_classes={value!r} is not valid: expected a whole number of at "
                           f"least 2, or leave it unset to take it from classes.txt.")
    return value
