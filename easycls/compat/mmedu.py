"""MMEdu's `MMClassification` over `easycls.Classifier`: lesson code runs with only its
import line changed.

    from MMEdu import MMClassification as cls   ->   from easycls import MMClassification as cls

The methods, their argument names, positions and defaults are MMEdu 0.1.28's
(OpenXLab-Edu/OpenMMLab-Edu, MMEdu/MMEdu/Classification/Classification_Edu.py), and so
are the shapes it returns: `inference` a dict for one picture and a list for a folder
(`pred_label`, `pred_score`, `pred_class`, with `image` added), `print_result` the
Chinese-keyed list lessons index (`x[0]['标签']`), `train` the lines of its log.

The work is Classifier's. This class translates names and shapes, and holds which
Classifier is in use: a checkpoint of another backbone replaces it with one of that
backbone (MMEdu loaded such a file half into the wrong network). What changed on
purpose is listed in docs/mmedu.md.
"""
import difflib
import functools
import inspect
import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import torch

from ..classifier import DEFAULT_SAVE_FOLD, Classifier
from ..data.lists import read_classes_txt
from ..engine.checkpoint import read_checkpoint
from ..engine.log_json import read_log
from ..engine.options import ELSEWHERE_NAMES, OPTIONS_BY_NAME
from ..errors import (BackboneError, CheckpointError, EasyclsError, ImageError,
                      PathNotFoundError, SettingError, TrainingError, TrainingInterrupted)
from ..log import logger, verbosity
from ..process import is_main_process
from ..results import relative_names


class MMEduArgumentError(EasyclsError, TypeError):
    """An argument MMEdu's MMClassification (and easycls) does not have."""


class _MMEduDefault(float):
    """MMEdu's default number, shown as itself in help(). Left as it is, easycls chooses the
    value for the backbone and data instead; any number passed (the same one too) is used."""


MMEDU_LR = _MMEduDefault(0.01)
MMEDU_WEIGHT_DECAY = _MMEduDefault(0.001)

MMEDU_TRAIN = ("random_seed", "save_fold", "distributed", "validate", "device", "metric",
               "save_best", "optimizer", "epochs", "lr", "weight_decay", "checkpoint",
               "batch_size", "topk")
# Classifier.train's options MMEdu did not have: accepted here too, passed on as they are.
EASYCLS_TRAIN = tuple(name for name in OPTIONS_BY_NAME if name not in MMEDU_TRAIN)
INFERENCE_EXTRAS = ("color_order", "recursive")  # easycls's, beside MMEdu's own

# What MMEdu's class also had, and why this one does not.
MMEDU_INTERNALS = {
    "batch_infer": "batch_infer() was MMEdu's loop over an mmcv data loader; easycls has no "
                   "mmcv. Classify a folder with model.fast_inference(image='folder/').",
    "generate_txt": "generate_txt() was MMEdu's writer of val.txt; model.load_dataset(path) "
                    "writes classes.txt, val.txt and test.txt from the folders when they are "
                    "missing.",
    "cfg": "model.cfg was MMEdu's mmcv config; easycls has none. Pass settings to train(), e.g. "
           "model.train(epochs=10, lr=0.01, batch_size=32); help(model.train) lists them all.",
    "config": "model.config was the path of MMEdu's mmcv config file; easycls builds its "
              "networks by name (model.backbone).",
    "infer_model": "model.infer_model was MMEdu's mmcv network; the PyTorch network in use is "
                   "model.classifier.net.",
}
SETTINGS = ("num_classes", "save_fold", "checkpoint", "dataset_path")


class MMClassification:
    """MMEdu's image classifier, with easycls's checks, speed and messages.

    Example (MMEdu's tutorial, unchanged but for the import):
        >>> from easycls import MMClassification as cls
        >>> model = cls(backbone='LeNet')
        >>> model.num_classes = 3
        >>> model.load_dataset(path='dataset/hand_gray')
        >>> model.save_fold = 'checkpoints/cls_model/hand_gray'
        >>> log = model.train(epochs=10, validate=True)
        >>> result = model.inference(image='demo/rock.png', show=True,
        ...                          checkpoint='checkpoints/cls_model/hand_gray/latest.pth')
        >>> x = model.print_result(result)      # x[0]['标签'], x[0]['置信度'], x[0]['预测结果']

    `model.classifier` is the easycls.Classifier doing the work (evaluate, cam, summary, ...).
    """

    def __init__(self, backbone: str = "LeNet", num_classes: int = -1,
                 dataset_path: Optional[str] = None, **kwargs):
        _refuse_unknown("MMClassification", kwargs, ("backbone", "num_classes", "dataset_path"))
        _refuse_config_file(backbone)
        object.__setattr__(self, "classifier", Classifier(backbone))
        self._num_classes: Optional[int] = None
        self.num_classes = num_classes
        self.dataset_path = dataset_path
        self.save_fold = None  # the folder train() writes into; None: checkpoints/cls_model
        self.checkpoint = None  # the checkpoint file inference uses when given none
        self._weights_from: Optional[str] = None  # the file whose weights classifier holds
        self._dataset_from: Optional[str] = None  # the folder classifier's data set came from
        self._device = "cpu"
        self._last = None  # the last results, in MMEdu's shape

    # ------------------------------------------------------------------ attributes

    def __setattr__(self, name: str, value) -> None:
        if name == "backbone":
            raise SettingError(f"The backbone is chosen when the model is made: model = "
                               f"MMClassification(backbone={value!r}). This model is "
                               f"{self.backbone}.")
        if name == "classifier":
            raise SettingError("model.classifier is the easycls.Classifier this model works "
                               "through; make a new MMClassification(backbone=...) instead.")
        if not name.startswith("_") and name not in SETTINGS:
            if name in MMEDU_INTERNALS:
                raise SettingError(MMEDU_INTERNALS[name])
            if name in OPTIONS_BY_NAME:
                hint = f" Pass it to train(): model.train({name}={value!r})."
            else:
                close = difflib.get_close_matches(name, SETTINGS, n=1)
                hint = f" Did you mean model.{close[0]}?" if close else ""
            raise SettingError(f"MMClassification has no setting {name!r}, so setting it would "
                               f"change nothing.{hint} Its settings are "
                               f"{', '.join(SETTINGS)}.")
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str):  # only for names that are not attributes
        if name in MMEDU_INTERNALS:
            raise SettingError(MMEDU_INTERNALS[name])
        raise AttributeError(f"'MMClassification' object has no attribute {name!r}")

    @property
    def backbone(self) -> str:
        return self.classifier.backbone

    @property
    def num_classes(self) -> int:
        """The number you set; unset, the data set's (or the loaded weights') count, else -1."""
        count = self.classifier.num_classes
        return -1 if count is None else count

    @num_classes.setter
    def num_classes(self, value) -> None:
        unset = value is None or (value == -1 and not isinstance(value, bool))
        self._num_classes = None if unset else value  # checked against the data by Classifier
        self.classifier.num_classes = self._num_classes

    @property
    def chinese_res(self) -> Optional[List[dict]]:
        """The last results as print_result returns them (MMEdu's attribute)."""
        return None if self._last is None else _in_chinese(self._last)

    def __repr__(self) -> str:
        return f"MMClassification over {self.classifier!r}"

    # -------------------------------------------------------------------- methods

    @staticmethod
    def sota(*, details: bool = False) -> List[str]:
        """The backbones you can use, e.g. ['LeNet', 'MobileNet', 'ResNet18', ...]."""
        return Classifier.sota(details=details)

    def load_dataset(self, path, check=True, **kwargs) -> None:
        """Read an ImageNet-style data set folder (training_set, val_set, test_set,
        classes.txt, val.txt): missing lists are written from the folders, the classes are
        fixed once and every split is checked by class name.

        check=True decodes every picture (MMEdu's check for damaged files); False reads
        only their headers; easycls's 'quick', 'full' and None are accepted too.
        """
        _refuse_unknown("load_dataset", kwargs, ("path", "check"))
        mode = "full" if check is True else "quick" if check is False else check
        self.classifier.num_classes = self._num_classes
        self.classifier.load_dataset(path, check=mode)
        self.dataset_path = path
        self._dataset_from = _file_key(path)

    def train(self, random_seed=0, save_fold=None, distributed=False, validate=True, device="cpu",
              metric="accuracy", save_best="auto", optimizer="SGD", epochs=100, lr=MMEDU_LR,
              weight_decay=MMEDU_WEIGHT_DECAY, checkpoint=None, batch_size=None, topk=None,
              **options) -> List[dict]:
        """Train on the loaded data set (or dataset_path) and return the lines of log.json.

        MMEdu's arguments, in its order and with its defaults, with these differences:
        lr and weight_decay left at MMEdu's 0.01 and 0.001 are chosen by easycls for the
        backbone, optimizer and batch size (printed with the reason; any value you pass is
        used, 0.01 too); topk=None reports top-1, and top-5 too with more than 5 classes;
        train(save_fold=...) wins over model.save_fold. Every option of
        easycls.Classifier.train is accepted as well (image_size, pretrained, resume, ...;
        help(easycls.Classifier.train) says what each does).
        Each call trains a fresh network, from `checkpoint` when given (the network the
        checkpoint names).

        Example:
            >>> log = model.train(epochs=10, validate=True)
            >>> log = model.train(epochs=5, checkpoint='checkpoints/cls_model/hand_gray/latest.pth')
        """
        unknown = {name: value for name, value in options.items() if name not in EASYCLS_TRAIN}
        _refuse_unknown("train", unknown, MMEDU_TRAIN, EASYCLS_TRAIN, ELSEWHERE_NAMES)
        _check_distributed(distributed)
        _note_metric(metric, save_best)
        _suggest_gpu(device)
        dataset = self._dataset_for_training()
        backbone = self.backbone
        if checkpoint is not None:
            with verbosity(False):  # a look at its backbone; Classifier.train reads it for real
                backbone = read_checkpoint(checkpoint).meta.backbone
            _note_other_backbone(checkpoint, backbone, self.backbone)
        model = Classifier(backbone, num_classes=self._num_classes)
        model.dataset = dataset
        folder = self._run_folder(save_fold)
        given = dict(random_seed=random_seed, validate=validate, device=device,
                     optimizer=optimizer, epochs=epochs, checkpoint=checkpoint,
                     batch_size=batch_size, topk=topk, save_fold=folder)
        if lr is not MMEDU_LR:
            given["lr"] = lr
        if weight_decay is not MMEDU_WEIGHT_DECAY:
            given["weight_decay"] = weight_decay
        try:
            history = model.train(**given, **options)
        except TrainingInterrupted:  # Ctrl-C: the model keeps the weights reached, as Classifier's
            self._adopt_trained(model, folder, device)
            raise
        self._adopt_trained(model, folder, device)
        return _log_lines(folder, history)

    def load_checkpoint(self, checkpoint=None, device="cpu", **kwargs) -> None:
        """Load a checkpoint for fast_inference (and for inference without checkpoint=).

        A checkpoint of another backbone builds that backbone, with a one-line note.
        """
        _refuse_unknown("load_checkpoint", _without_class_path(kwargs), ("checkpoint", "device"))
        path = checkpoint if checkpoint is not None else self.checkpoint
        if path is None:
            raise CheckpointError("load_checkpoint() needs the checkpoint file, e.g. "
                                  "model.load_checkpoint(checkpoint='checkpoints/cls_model/"
                                  "best_accuracy_top-1.pth').")
        _suggest_gpu(device)
        self._load(path, device)

    def inference(self, device="cpu", checkpoint=None, image=None, show=True,
                  save_fold="cls_result", **kwargs):
        """Classify a picture, a folder of pictures, a numpy array (RGB) or a PIL image.

        Uses `checkpoint`, else model.checkpoint, else the network just trained or loaded.
        show=True saves annotated copies into save_fold. Returns
        {'pred_label', 'pred_score', 'pred_class', 'image'} for one picture and a list of
        them, in sorted file order, for a folder.

        Example:
            >>> result = model.inference(image='demo/rock.png', checkpoint='checkpoints/cls_model/hand_gray/latest.pth')
        """
        extras = _extras("inference", kwargs,
                         ("device", "checkpoint", "image", "show", "save_fold"))
        _check_device_argument(device, image)
        if image is None:
            raise ImageError("inference() needs the picture to classify: model.inference("
                             "image='demo/rock.png', checkpoint='...pth'). image may also be a "
                             "folder, a numpy array (RGB) or a PIL image.")
        _suggest_gpu(device)
        if checkpoint is not None:
            self._load(checkpoint, device)
        else:
            self._ensure_weights(device)
        self._device = device
        results = self.classifier.inference(image, show=show, device=device, save_fold=save_fold,
                                            **extras)
        return self._remember(results)

    def fast_inference(self, image, show=False, save_fold="cls_result", verbose=True, **kwargs):
        """Classify with the checkpoint loaded by load_checkpoint() (or model.checkpoint, or
        the network just trained), without reading it again. Returns what inference returns.

        verbose=False shows only warnings, for loops over many calls.
        """
        extras = _extras("fast_inference", kwargs, ("image", "show", "save_fold", "verbose"))
        if not isinstance(verbose, bool):
            raise MMEduArgumentError(f"verbose={verbose!r} is not valid: use True (messages) or "
                                     f"False (only warnings).")
        with verbosity(verbose):
            self._ensure_weights(self._device)
            results = self.classifier.fast_inference(image, show=show, save_fold=save_fold,
                                                     **extras)
        return self._remember(results)

    def print_result(self, res=None) -> List[dict]:
        """Print 分类结果如下： and the results as MMEdu's Chinese-keyed list, and return it:
        [{'标签': 1, '置信度': 0.69, '预测结果': 'rock', '图片': 'rock.png'}, ...].

        res: what inference or fast_inference returned (default: the last results).
        """
        rows = self._last if res is None else res
        if rows is None:
            raise EasyclsError("There are no results to print yet: call model.inference(image="
                               "..., checkpoint=...) first, or pass its result: "
                               "model.print_result(result).")
        chinese = _in_chinese(rows)
        if is_main_process():
            print("分类结果如下：")
            print(chinese)
        return chinese

    def convert(self, checkpoint=None, backend="ONNX", out_file="convert_model.onnx",
                opset_version=11, ir_version=6, **kwargs) -> str:
        """Export a checkpoint (or the network in use) to ONNX ('ONNX', any case) or
        TorchScript ('torchscript'). The file carries its class names and input spec; an
        ONNX export also gets a .py beside it that classifies with easycls.onnx_predict.
        Returns the file's path.

        Example:
            >>> model.convert(checkpoint='checkpoints/cls_model/hand_gray/latest.pth', out_file='hand.onnx')
        """
        _refuse_unknown("convert", _without_class_path(kwargs),
                        ("checkpoint", "backend", "out_file", "opset_version", "ir_version"))
        if (opset_version, ir_version) != (11, 6):
            from ..export import ONNX_OPSET

            logger.warning(f"Note: easycls writes ONNX opset {ONNX_OPSET} with the IR version "
                           f"of the installed onnx; opset_version={opset_version!r} and "
                           f"ir_version={ir_version!r} are not used.")
        if checkpoint is None:
            self._ensure_weights(self._device)
            model = self.classifier
        else:
            model = Classifier.from_checkpoint(checkpoint, device="cpu")
            _note_other_backbone(checkpoint, model.backbone, self.backbone, switched=False)
        path = model.convert(backend=backend, out_file=out_file)
        if path.lower().endswith(".onnx") and is_main_process():
            _write_onnx_snippet(Path(path))
        return path

    def get_class(self, class_path) -> List[str]:
        """The class names in a classes.txt file, one per line (UTF-8 or GBK)."""
        notes: List[str] = []
        if not Path(class_path).is_file():
            raise PathNotFoundError(f"'{class_path}' is not a file; give the path of a "
                                    f"classes.txt (one class name per line).")
        classes = read_classes_txt(Path(class_path), notes)
        for note in notes:
            logger.info(note)
        return classes

    # ------------------------------------------------------------------- plumbing

    def _load(self, path, device) -> None:
        """Make a Classifier of the checkpoint's own backbone the one in use."""
        model = Classifier.from_checkpoint(path, device=device)
        _note_other_backbone(path, model.backbone, self.backbone)
        self._use(model)
        self.checkpoint = path
        self._weights_from = _file_key(path)
        self._device = device

    def _use(self, model: Classifier) -> None:
        model.dataset = self.classifier.dataset
        model.num_classes = self._num_classes
        object.__setattr__(self, "classifier", model)

    def _ensure_weights(self, device) -> None:
        if self.checkpoint is not None and _file_key(self.checkpoint) != self._weights_from:
            self._load(self.checkpoint, device)  # model.checkpoint = '...' was set
        elif self.classifier.net is None:
            raise CheckpointError(
                "This model has no weights yet. Pass a checkpoint: model.inference(image=..., "
                "checkpoint='checkpoints/cls_model/best_accuracy_top-1.pth'); or set "
                "model.checkpoint = '...pth' or call model.load_checkpoint(checkpoint='...pth') "
                "first; or train it with model.train().")

    def _dataset_for_training(self):
        """The data set to train on: dataset_path's (loaded now if it is not the one
        loaded, as MMEdu's train did), else the one loaded; Classifier explains a missing one."""
        path = self.dataset_path
        if path is not None and (self.classifier.dataset is None
                                 or _file_key(path) != self._dataset_from):
            self.load_dataset(path)
        return self.classifier.dataset

    def _run_folder(self, save_fold):
        if save_fold is None:
            return self.save_fold if self.save_fold is not None else DEFAULT_SAVE_FOLD
        if self.save_fold is not None and _file_key(save_fold) != _file_key(self.save_fold):
            logger.info(f"Note: saving into {str(save_fold)!r} as train(save_fold=...) says, not "
                        f"into model.save_fold ({str(self.save_fold)!r}), which MMEdu used.")
        return save_fold

    def _adopt_trained(self, model: Classifier, folder, device) -> None:
        object.__setattr__(self, "classifier", model)
        self.save_fold = str(folder)
        latest = Path(folder) / "latest.pth"
        self.checkpoint = str(latest) if latest.is_file() else None
        self._weights_from = _file_key(latest) if latest.is_file() else None
        self._device = device

    def _remember(self, results):
        if isinstance(results, dict):
            shaped = _mmedu_result(results)
        elif isinstance(results, list):
            shaped = [_mmedu_result(row) for row in results]
        else:  # a video or camera: frame by frame, as Classifier gives them
            return self._frames(results)
        self._last = shaped
        return shaped

    def _frames(self, results):
        for row in results:
            self._last = dict(_mmedu_result(row), frame=row.get("frame"), time=row.get("time"))
            yield self._last


# ------------------------------------------------------------------- helpers

def _file_key(path) -> Optional[str]:
    try:
        return os.path.abspath(os.fspath(path))
    except TypeError:
        return None


def _refuse_unknown(method: str, given: Dict[str, object], valid: Iterable[str],
                    extras: Iterable[str] = (), elsewhere: Optional[Dict[str, str]] = None) -> None:
    """Our clear error for an argument neither MMEdu nor easycls has, with the likely one."""
    valid, extras = list(valid), list(extras)
    for name in given:
        known = (elsewhere or {}).get(name.lower())
        close = [known] if known else difflib.get_close_matches(name, valid + extras, n=1)
        hint = f" Did you mean {close[0]}=?" if close else ""
        names = ", ".join(valid) + (f"; and easycls's {', '.join(extras)}" if extras else "")
        raise MMEduArgumentError(f"{method}() has no argument {name!r}.{hint} Its arguments "
                                 f"are {names}.")


def _without_class_path(kwargs: dict) -> dict:
    if "class_path" in kwargs:
        _note_class_path()
        kwargs = {name: value for name, value in kwargs.items() if name != "class_path"}
    return kwargs


def _extras(method: str, kwargs: dict, mmedu: Iterable[str]) -> dict:
    """easycls's own keywords of inference/fast_inference; class_path noted; others refused."""
    kwargs = _without_class_path(kwargs)
    _refuse_unknown(method, {n: v for n, v in kwargs.items() if n not in INFERENCE_EXTRAS},
                    mmedu, INFERENCE_EXTRAS)
    return kwargs


@functools.lru_cache(maxsize=1)
def _note_class_path() -> None:
    logger.info("Note: class_path is no longer needed (MMEdu dropped it in 0.1.6): the class "
                "names come from the checkpoint.")


@functools.lru_cache(maxsize=1)
def _suggest_gpu_once() -> None:
    logger.info("Note: this computer has a GPU; device='cuda' trains and classifies faster.")


def _suggest_gpu(device) -> None:
    if isinstance(device, str) and device.lower() == "cpu" and torch.cuda.is_available():
        _suggest_gpu_once()


def _refuse_config_file(backbone) -> None:
    if isinstance(backbone, (str, os.PathLike)) and str(backbone).lower().endswith(".py"):
        raise BackboneError(f"backbone={str(backbone)!r} is an MMEdu (mmcv) config file; easycls "
                            f"builds its networks by name: one of {', '.join(Classifier.sota())}.")


def _note_other_backbone(path, saved: str, wanted: str, switched: bool = True) -> None:
    if saved != wanted:
        now = f"this model is now a {saved}" if switched else f"exporting it as a {saved}"
        logger.warning(f"Note: '{path}' was trained with {saved}, not {wanted}: {now}, built as "
                       f"the checkpoint names it.")


def _check_device_argument(device, image) -> None:
    """inference()'s first argument is device (MMEdu's order): a picture there is explained."""
    if device is None or isinstance(device, torch.device):
        return
    picture = not isinstance(device, str) or (
        device.lower().split(":")[0] not in ("auto", "cpu", "cuda", "mps")
        and (os.path.exists(device) or "." in os.path.basename(device) or "/" in device))
    if picture and image is None:
        shown = repr(device) if isinstance(device, str) else f"a {type(device).__name__}"
        raise MMEduArgumentError(f"inference()'s first argument is device, in MMEdu's order, and "
                                 f"got {shown}, which looks like a picture. Name it: "
                                 f"model.inference(image=..., checkpoint=...).")


def _check_distributed(distributed) -> None:
    if not isinstance(distributed, bool):
        raise TrainingError(f"distributed={distributed!r} is not valid: use True or False.")
    launched = any(name in os.environ for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    if distributed and not launched:
        raise TrainingError("train(distributed=True): training on several GPUs at once is not "
                            "supported by easycls yet (it is planned, through torchrun). Leave "
                            "distributed out to train on one device (device='cuda': one GPU).")


def _note_metric(metric, save_best) -> None:
    names = [metric] if isinstance(metric, str) else list(metric or [])
    if any(not isinstance(name, str) or name.lower() != "accuracy" for name in names):
        logger.warning(f"Note: metric={metric!r}: easycls measures accuracy after each epoch; "
                       f"precision, recall and F1 per class come from model.classifier.evaluate() "
                       f"after training.")
    if save_best != "auto" and not (isinstance(save_best, str)
                                    and save_best.lower().startswith("accuracy")):
        logger.warning(f"Note: save_best={save_best!r} changes nothing: easycls always keeps "
                       f"best_accuracy_top-1.pth (and one per top-k it reports).")


def _log_lines(folder, history: List[dict]) -> List[dict]:
    """This run's lines of log.json (its first line, the settings, then train and val lines),
    as MMEdu returned its log; the records alone where this process wrote no log."""
    log = Path(folder) / "log.json"
    if not log.is_file():
        return history
    records = read_log(log)
    starts = [index for index, record in enumerate(records) if "mode" not in record]
    return records[starts[-1]:] if starts else history


def _mmedu_result(row: dict) -> dict:
    if "error" in row:
        return {"image": row.get("image"), "error": row["error"]}
    return {"pred_label": row["pred_label"], "pred_score": row["pred_score"],
            "pred_class": row["pred_class"], "image": row.get("image")}


def _in_chinese(rows) -> List[dict]:
    items = [rows] if isinstance(rows, dict) else rows
    if not isinstance(items, (list, tuple)) or not all(
            isinstance(r, dict) and ("pred_class" in r or "error" in r or "预测结果" in r)
            for r in items):
        raise EasyclsError(f"print_result takes what inference returns (a result dict or a list "
                           f"of them), got {type(rows).__name__} {str(rows)[:60]!r}.")
    names = relative_names([r.get("image") if "预测结果" not in r else None for r in items])
    chinese = []
    for row, name in zip(items, names):
        if "预测结果" in row:  # already MMEdu's shape
            chinese.append(dict(row))
        elif "error" in row:
            chinese.append({"图片": name, "错误": row["error"]})
        else:
            entry = {"标签": int(row["pred_label"]), "置信度": float(row["pred_score"]),
                     "预测结果": row["pred_class"]}
            if row.get("image"):
                entry["图片"] = name
            chinese.append(entry)
    return chinese


SNIPPET_MARK = "# Written by easycls's model.convert"
SNIPPET = '''{mark}: classify pictures with {name}.
# Needs: pip install easycls[export]. The file holds its class names and input spec.
import os

import numpy as np

import easycls

onnx_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), {name!r})
# A random picture as an example; put a picture's path instead, e.g. image = 'cat.jpg',
# or a folder of pictures (one result each).
image = np.random.randint(0, 256, (400, 400, 3), dtype=np.uint8)
result = easycls.onnx_predict(onnx_file, image)
print(result)
'''


def _write_onnx_snippet(onnx_file: Path) -> None:
    """MMEdu wrote a .py beside the .onnx that runs it; ours uses easycls.onnx_predict.
    A .py of that name that easycls did not write is left alone."""
    script = onnx_file.with_suffix(".py")
    if script.exists():
        try:
            ours = script.read_text(encoding="utf-8").startswith(SNIPPET_MARK)
        except (OSError, UnicodeDecodeError):
            ours = False
        if not ours:
            logger.info(f"Note: '{script}' exists and is not easycls's, so the example script "
                        f"for '{onnx_file.name}' was not written.")
            return
    script.write_text(SNIPPET.format(mark=SNIPPET_MARK, name=onnx_file.name), encoding="utf-8")
    logger.info(f"Wrote '{script}': python {script} classifies a picture with it.")


def _train_signature() -> inspect.Signature:
    """MMEdu's arguments in its order, then Classifier.train's other options by keyword, so
    help(model.train) shows them all."""
    own = [p for p in inspect.signature(MMClassification.train).parameters.values()
           if p.kind is not p.VAR_KEYWORD]
    more = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                              default=OPTIONS_BY_NAME[name].default) for name in EASYCLS_TRAIN]
    return inspect.Signature(own + more, return_annotation=List[dict])


MMClassification.train.__signature__ = _train_signature()
