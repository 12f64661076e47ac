"""The Classifier facade: holds the state of one model and delegates the work."""
import difflib
from pathlib import Path
from typing import List, Optional, Union

import torch

from .data.doctor import check_dataset
from .data.folder import FolderDataset, read_dataset
from .engine import options as train_options
from .engine.checkpoint import (Checkpoint, check_backbone, model_from_checkpoint,
                                read_checkpoint)
from .engine.device import resolve_device
from .engine.session import train_session
from .errors import (CheckpointError, DatasetError, EasyclsError, SettingError,
                     TrainingInterrupted)
from .i18n import tr
from .inference import Predictor, predict_inputs
from .log import in_notebook, logger, verbosity
from .models import create_model, get_spec, list_models
from .process import is_main_process
from .results import check_lang, check_output, format_results, shown

DEFAULT_SAVE_FOLD = "checkpoints/cls_model"


class Classifier:
    """An image classifier: pick a backbone, load a data set, train, infer.

    Example:
        >>> from easycls import Classifier as cls
        >>> model = cls('LeNet')
        >>> model.load_dataset('dataset/hand_gray')
        FolderDataset('dataset/hand_gray', classes=['paper', 'rock', 'scissors'], sizes={'train': 300, 'val': 90, 'test': 90})
        >>> model.save_fold = 'checkpoints/lesson'
        >>> history = model.train(epochs=1)      # 10 or more for a good model
        >>> result = model.inference('demo/rock.png')
        >>> sorted(result)
        ['image', 'pred_class', 'pred_label', 'pred_score', 'topk']
    """

    def __init__(self, backbone: str = "LeNet", num_classes: Optional[int] = None,
                 device: str = "auto"):
        self.spec = get_spec(backbone)
        self.num_classes = num_classes
        self.device = device
        self.save_fold = DEFAULT_SAVE_FOLD
        self.dataset: Optional[FolderDataset] = None
        self.net = None
        self.meta: Optional[dict] = None  # the meta of the weights in self.net, as plain values
        self.last_results = None
        self._predictor: Optional[Predictor] = None
        self._loaded: Optional[Checkpoint] = None  # from load_checkpoint: train() starts from it

    # What users set on a model, and what the model keeps; any other name set on it is
    # almost surely a typo (model.save_folder = ...) that would silently change nothing.
    SETTINGS = ("num_classes", "device", "save_fold")
    STATE = ("spec", "dataset", "net", "meta", "last_results")

    def __setattr__(self, name: str, value) -> None:
        if name == "backbone":
            raise SettingError(f"The backbone is chosen when the model is made: "
                               f"model = Classifier({value!r}). This model stays {self.backbone}.")
        if not name.startswith("_") and name not in self.SETTINGS + self.STATE:
            close = difflib.get_close_matches(name, self.SETTINGS, n=1)
            hint = f" Did you mean model.{close[0]}?" if close else ""
            raise SettingError(f"Classifier has no setting {name!r}, so setting it would change "
                               f"nothing.{hint} Its settings are {', '.join(self.SETTINGS)}; "
                               f"training options go to train(), e.g. model.train(epochs=10, "
                               f"lr=0.01).")
        object.__setattr__(self, name, value)

    @property
    def backbone(self) -> str:
        """The backbone's name as sota() spells it; it is fixed when the model is made.

        Example:
            >>> cls('resnet18').backbone
            'ResNet18'
        """
        return self.spec.name

    @property
    def num_classes(self) -> Optional[int]:
        """The number you set; unset, the loaded data set's (or the loaded weights') count.

        Example:
            >>> model = cls('LeNet')
            >>> print(model.num_classes)
            None
            >>> dataset = model.load_dataset('dataset/hand_gray')
            >>> model.num_classes
            3
        """
        if self._num_classes is not None:
            return self._num_classes
        if self.dataset is not None:
            return len(self.dataset.classes)
        return len(self.meta["classes"]) if self.meta else None

    @num_classes.setter
    def num_classes(self, value: Optional[int]) -> None:
        self._num_classes = value

    def __repr__(self) -> str:
        classes = self.meta["classes"] if self.meta else (self.dataset.classes if self.dataset else None)
        return f"Classifier(backbone={self.backbone!r}, num_classes={self.num_classes!r}, classes={classes!r})"

    @classmethod
    def from_checkpoint(cls, checkpoint: Union[str, Path], device: str = "auto") -> "Classifier":
        """A model of the backbone a checkpoint was trained with, its weights loaded.

        Example:
            >>> model = cls.from_checkpoint('checkpoints/lenet_hand_gray.pth')
            >>> model
            Classifier(backbone='LeNet', num_classes=3, classes=['paper', 'rock', 'scissors'])
        """
        state = read_checkpoint(checkpoint)
        model = cls(state.meta.backbone, device=device)
        model._loaded = model._adopt_checkpoint(state, None)
        return model

    @staticmethod
    def sota(details: bool = False) -> Union[List[str], List[dict]]:
        """The backbones you can use, e.g. ['LeNet', 'MobileNet', 'ResNet18', ...].

        details=True prints and returns, for each, its default input, parameters and FLOPs.

        Example:
            >>> cls.sota()
            ['LeNet', ..., 'ResNet18', 'ResNet34', 'ResNet50', 'EfficientNetB0']
            >>> table = cls.sota(details=True)
            >>> table[0]['name'], table[0]['image_size'], table[0]['parameters']
            ('LeNet', 32, 61750)
        """
        if not details:
            return list_models()
        from .models.summary import backbone_table, format_backbone_table

        table = backbone_table()
        logger.info(format_backbone_table(table))
        return shown(table)

    def load_dataset(self, path: Union[str, Path], check: Optional[str] = "quick") -> FolderDataset:
        """Read an ImageNet-style data set folder, fix its classes and check it.

        check='quick' (default) reads every image header, 'full' decodes every
        image, None only reads the folder structure. Problems are printed;
        those that would train on wrong labels stop here with an explanation.

        Example:
            >>> model = cls('LeNet')
            >>> dataset = model.load_dataset('dataset/hand_gray', check='full')
            >>> dataset.classes, dataset.sizes()
            (['paper', 'rock', 'scissors'], {'train': 300, 'val': 90, 'test': 90})
        """
        wanted = _checked_num_classes(self._num_classes)
        if check not in (None, "quick", "full"):
            raise DatasetError(f"check={check!r} is not valid: use 'quick' (read image headers, "
                               f"the default), 'full' (decode every image) or None (skip).")
        if check is None:
            dataset = read_dataset(path, num_classes=wanted)
        else:
            dataset = self._checked_dataset(path, check, wanted)
        self.dataset = dataset
        sizes = ", ".join(f"{name} {count}" for name, count in dataset.sizes().items())
        logger.info(f"Data set '{path}': {len(dataset.classes)} classes "
                    f"({', '.join(dataset.classes)}); images: {sizes}.")
        return dataset

    @staticmethod
    def _checked_dataset(path, check: str, num_classes: Optional[int]) -> FolderDataset:
        report = check_dataset(path, check=check, num_classes=num_classes, write_lists=True,
                               verbose=False)
        for line in report.notes:
            logger.info(line)
        for line in report.warnings:
            logger.warning(f"Warning: {line}")
        if report.exception is not None and len(report.errors) == 1:
            raise report.exception
        if len(report.errors) == 1:
            raise DatasetError(report.errors[0])
        if report.errors:
            raise DatasetError(f"'{path}' has {len(report.errors)} problems:\n- "
                               + "\n- ".join(report.errors)
                               + f"\nRun easycls.check_dataset('{path}') for the full report.")
        return report.dataset

    def train(self, epochs: Optional[int] = None, *more, **options) -> List[dict]:
        """Train on the loaded data set; write log.json and checkpoints into save_fold.

        Unset options get the backbone's defaults, printed before training starts.
        `checkpoint=` starts from saved weights (fine-tuning), as does a
        load_checkpoint() before train(); `resume=True` continues the interrupted
        run in save_fold. Returns the train and val records written to log.json.
        Ctrl-C saves the progress and raises TrainingInterrupted (a KeyboardInterrupt)
        whose message says how to continue; the model keeps the weights reached.

        Example:
            >>> model = cls('LeNet')
            >>> dataset = model.load_dataset('dataset/hand_gray')
            >>> history = model.train(epochs=1, lr=0.01, save_fold='checkpoints/one_epoch')
            >>> history[-1]['mode'], history[-1]['epoch'], sorted(history[-1])
            ('val', 1, ['accuracy_top-1', 'epoch', 'iter', 'lr', 'mode'])
        """
        dataset = self._require_dataset()
        given = train_options.check_call({"epochs": epochs, **options}, more)
        save_fold = train_options.run_setting(given, "save_fold") or self.save_fold
        device = resolve_device(given.get("device", self.device))
        try:
            with verbosity(train_options.run_setting(given, "verbose")):
                outcome = train_session(self.spec, dataset, given, save_fold=save_fold,
                                        device=device, loaded=self._loaded)
        except TrainingInterrupted as stop:  # Ctrl-C: the model keeps what it learned so far
            self._adopt(stop.outcome, save_fold, device)
            raise
        self._adopt(outcome, save_fold, device)
        return outcome.history

    def _adopt(self, outcome, save_fold, device) -> None:
        """Make a run's trained network the model's, for inference and the next run."""
        self.save_fold = save_fold
        self.net, self.meta = outcome.network, outcome.meta.to_dict()
        self._predictor = Predictor(self.net, outcome.meta, device)
        self._loaded = None

    def load_checkpoint(self, checkpoint: Union[str, Path], device: Optional[str] = None) -> dict:
        """Restore weights, classes and preprocessing from a checkpoint file.

        A train() after this starts from these weights (fine-tuning).

        Example:
            >>> model = cls('LeNet')
            >>> meta = model.load_checkpoint('checkpoints/lenet_hand_gray.pth')
            >>> meta['classes'], meta['image_size'], meta['in_channels']
            (['paper', 'rock', 'scissors'], 32, 1)
        """
        self._loaded = self._use_checkpoint(checkpoint, device)
        return self.meta

    def _use_checkpoint(self, checkpoint, device) -> Checkpoint:
        """Read a checkpoint and make it the model that inference uses."""
        state = read_checkpoint(checkpoint)
        check_backbone(state, self.backbone)
        return self._adopt_checkpoint(state, device)

    def _adopt_checkpoint(self, state: Checkpoint, device) -> Checkpoint:
        self.net = model_from_checkpoint(state)
        self.meta = state.meta.to_dict()
        self._predictor = Predictor(self.net, state.meta, resolve_device(device or self.device))
        return state

    def inference(self, image, show: bool = True, checkpoint: Optional[Union[str, Path]] = None,
                  device: Optional[str] = None, save_fold: Union[str, Path] = "cls_result",
                  color_order: Optional[str] = None, recursive: bool = False, every: int = 1,
                  max_frames: Optional[int] = None):
        """Classify images with the given checkpoint (or the model just trained).

        `image`: a file, a folder (recursive=True: with its sub-folders), a PIL image,
        a numpy array or a list of these. Colour numpy arrays are read as RGB (PIL,
        matplotlib); pass color_order='bgr' for cv2.imread() pictures and OpenCV camera
        frames. `show=True` writes annotated copies into save_fold. Returns one result dict,
        or a list of them for a folder or list. A checkpoint given here is for
        inference only: train() does not start from it.

        A video file (.mp4, .avi, .mov, .mkv, .webm, ...), a camera number (0 is the first
        camera) or a cv2.VideoCapture returns a generator of one result per frame, with
        'frame' (its number) and 'time' (seconds into the video) added; every=N classifies
        every N-th frame, max_frames=N stops after N results. show=True writes an annotated
        .mp4 of the same size and fps into save_fold (camera_0.mp4 for camera 0). The video
        or camera is released when the loop ends or is left with break.

        Example:
            >>> model = cls('LeNet')
            >>> result = model.inference('demo/rock.png', checkpoint='checkpoints/lenet_hand_gray.pth')
            >>> result['pred_class'], round(result['pred_score'], 2)    # and cls_result/rock.png
            ('rock', 1.0)
            >>> results = model.inference('demo/many_pictures', show=False)
            >>> [r['pred_class'] for r in results][:4]
            ['paper', 'paper', 'paper', 'rock']
            >>> import cv2
            >>> model.inference(cv2.imread('demo/scissors.png'), color_order='bgr')['pred_class']
            'scissors'
            >>> for result in model.inference(0, show=False):  # doctest: +SKIP
            ...     print(result['frame'], result['pred_class'])    # the camera, until you stop
        """
        if checkpoint is not None:
            self._use_checkpoint(checkpoint, device)
        elif device is not None:
            predictor = self._require_predictor()
            self._predictor = Predictor(predictor.model, predictor.meta, resolve_device(device))
        return self.fast_inference(image, show=show, save_fold=save_fold, color_order=color_order,
                                   recursive=recursive, every=every, max_frames=max_frames)

    def fast_inference(self, image, show: bool = False, save_fold: Union[str, Path] = "cls_result",
                       color_order: Optional[str] = None, recursive: bool = False, every: int = 1,
                       max_frames: Optional[int] = None):
        """Classify images with the loaded model, without reading a checkpoint again.

        Takes the same `image`, `color_order`, `recursive`, `every` and `max_frames` as
        inference(); a video or camera gives a generator of per-frame results.

        Example:
            >>> model = cls.from_checkpoint('checkpoints/lenet_hand_gray.pth')
            >>> import numpy as np
            >>> from PIL import Image
            >>> picture = np.asarray(Image.open('demo/paper.png'))    # RGB, as PIL gives it
            >>> model.fast_inference(picture)['pred_class']
            'paper'
        """
        from .video import is_video_source, refuse_frame_options, video_results

        predictor = self._require_predictor()
        if is_video_source(image):  # the latest frame's result is the model's last result
            return video_results(predictor, image, every, max_frames, save_fold if show else None,
                                 color_order, on_result=lambda r: setattr(self, "last_results", r))
        refuse_frame_options(image, every, max_frames)
        results, items = predict_inputs(predictor, image, color_order, recursive)
        if show and is_main_process():
            from .visualize import save_annotated

            rows = [results] if isinstance(results, dict) else results
            save_annotated(items, rows, save_fold, display=in_notebook())
        self.last_results = results
        return results

    def evaluate(self, split: Union[str, Path] = "test", checkpoint: Optional[Union[str, Path]] = None,
                 topk=None, batch_size: Optional[int] = None, out: Optional[Union[str, Path]] = None,
                 lang: Optional[str] = None) -> dict:
        """Accuracy, per-class precision / recall / F1 and the confusion matrix on labelled pictures.

        split: 'test' (the loaded data set's test split, else its val split), 'val',
        'train', or a folder (a data set, a split folder, or one sub-folder per class).
        checkpoint: evaluate that file instead of the model's weights (the model is not
        changed). out='result.csv' or '.json' writes one row per picture. lang: 'en' or 'zh'
        (None: as easycls.set_language chose). Prints a report and returns it as a dict; pass it to easycls.plot_confusion_matrix or plot_gallery.

        Example:
            >>> model = cls.from_checkpoint('checkpoints/lenet_hand_gray.pth')
            >>> dataset = model.load_dataset('dataset/hand_gray')
            >>> report = model.evaluate('test', out='test_predictions.csv')
            >>> report['accuracy_top-1'], report['f1_score']['rock'], report['num_images']
            (100.0, 100.0, 90)
        """
        from .evaluation import evaluate_predictor, evaluation_samples, format_report, write_predictions

        if checkpoint is not None:
            state = read_checkpoint(checkpoint)
            predictor = Predictor(model_from_checkpoint(state), state.meta, resolve_device(self.device))
        else:
            predictor = self._require_predictor()
        lang = check_lang(lang)
        if out is not None:
            check_output(out, "evaluate()")
        classes = predictor.classes
        topk = (train_options.default_topk(len(classes)) if topk is None
                else train_options.checked_topk(topk, len(classes), error=EasyclsError))
        if batch_size is not None:
            train_options.whole_number(1)("batch_size", batch_size, None)
        samples, split, source = evaluation_samples(split, self.dataset, classes)
        report = evaluate_predictor(predictor, samples, split, source, topk, batch_size)
        logger.info(format_report(report, lang))
        if out is not None and is_main_process():
            logger.info(f"Wrote one row per picture to '{write_predictions(report, out)}'.")
        return shown(report)

    def find_label_issues(self, folds: int = 5, epochs: Optional[int] = None, split: str = "train",
                          out=None, save=None, move_to=None, seed: int = 0):
        """The pictures of the loaded data set whose label looks wrong, most suspicious first
        (k-fold quick models of this backbone, ranked by cleanlab). The data set is never
        changed; move_to= copies the suspects into a folder to review.

        Example:
            >>> model = cls('LeNet')
            >>> dataset = model.load_dataset('dataset/hand_gray')
            >>> suspects = model.find_label_issues(folds=2, epochs=1, split='val', save='suspects.png')
            >>> sorted(suspects[0])
            ['given', 'given_label', 'image', 'score', 'suggested', 'suggested_label']
        """
        from .labels import find_label_issues

        return find_label_issues(self._require_dataset(), self.backbone, folds=folds,
                                 epochs=epochs, split=split, out=out, save=save,
                                 move_to=move_to, seed=seed, device=self.device)

    def cam(self, image, target_class=None, method: str = "gradcam", target_layer: Optional[str] = None,
            show: bool = True, save_fold: Union[str, Path] = "cam_result",
            color_order: Optional[str] = None, recursive: bool = False):
        """Class activation maps: where in the picture the model looked for a class.

        `image` takes what inference() takes. target_class: a class name or number
        (default: the predicted class); method: 'gradcam', 'gradcam++', 'layercam' or
        'eigencam'; target_layer: a layer name (default: the backbone's last
        convolutional block). show=True saves heat-map overlays into save_fold.
        Returns a result dict (a list for a folder or list) with the map as 'cam'.

        Example:
            >>> model = cls.from_checkpoint('checkpoints/lenet_hand_gray.pth')
            >>> result = model.cam('demo/rock.png', target_class='rock')   # cam_result/rock.png
            >>> result['cam'].shape, result['method'], result['pred_class']
            ((32, 32), 'gradcam', 'rock')
        """
        from .visualize.cam import cam_inputs

        results = cam_inputs(self._require_predictor(), self.spec, image, target_class=target_class,
                             method=method, target_layer=target_layer, color_order=color_order,
                             recursive=recursive, save_fold=save_fold if show else None,
                             display=in_notebook())
        self.last_results = results
        return shown(results)

    def convert(self, checkpoint: Optional[Union[str, Path]] = None, backend: str = "onnx",
                out_file: Optional[Union[str, Path]] = None) -> str:
        """Export the model (or a checkpoint) for use without easycls: 'onnx' or 'torchscript'.

        The file takes float pictures in [0, 1] (batch x channels x size x size, any
        batch), normalises them itself and outputs class probabilities; the class names
        and the input spec travel with it. Returns the file's path.

        Example:
            >>> model = cls.from_checkpoint('checkpoints/lenet_hand_gray.pth')
            >>> model.convert(backend='onnx', out_file='hand_gray.onnx')
            'hand_gray.onnx'
            >>> easycls.onnx_predict('hand_gray.onnx', 'demo/rock.png')['pred_class']
            'rock'
            >>> model.convert(backend='torchscript', out_file='hand_gray.pt')
            'hand_gray.pt'
        """
        from .export import export_model

        if checkpoint is not None:
            state = read_checkpoint(checkpoint)
            net, meta = model_from_checkpoint(state), state.meta
        else:
            predictor = self._require_predictor()
            net, meta = predictor.model, predictor.meta
        path = export_model(net, meta, backend, out_file, source=checkpoint)
        logger.info(f"Exported {meta.backbone} ({len(meta.classes)} classes) to '{path}'.")
        return str(path)

    def app(self, host: str = "127.0.0.1", port: Optional[int] = None, share: bool = False,
            lang: Optional[str] = None, block: Optional[bool] = None):
        """A web page to try the model: a picture (upload, drop, paste, webcam) or many,
        the top classes as bars, the annotated picture and the model's card.

        Listens on 127.0.0.1 (this computer only) unless host='0.0.0.0'; port None takes
        7860 or the next free one; share=True also makes a public link through gradio's
        servers. In a notebook the page is shown inline and this returns at once; in a
        script it serves until Ctrl-C (block=False returns at once there too). Returns
        the gradio Blocks (demo.close() stops it). Needs pip install easycls[app].

        Example:
            >>> demo = model.app()
        """
        from .app import launch_app

        return launch_app(self._require_predictor(), host=host, port=port, share=share,
                          lang=check_lang(lang),
                          block=block)

    def summary(self, image_size: Optional[int] = None) -> dict:
        """Parameters, FLOPs, input spec and a per-block table of the network, printed
        and returned as a dict (the trained or loaded network, else a fresh one).

        Example:
            >>> info = cls('ResNet18', num_classes=3).summary()
            >>> info['parameters'], info['flops']
            (11178051, 3627125760)
        """
        from .models.summary import format_summary, summarize

        if self.net is not None:
            net, channels, size = self.net, self.meta["in_channels"], self.meta["image_size"]
        else:
            channels = self.spec.channels or 1  # LeNet follows the data: gray unless trained on colour
            with torch.device("meta"):  # counting needs shapes only
                net = create_model(self.backbone, self.num_classes or 10, channels)
            size = self.spec.image_size
        info = summarize(net, self.backbone, channels, image_size or size)
        logger.info(format_summary(info))
        return shown(info)

    def print_result(self, result=None, lang: Optional[str] = None) -> None:
        """Print a table of the given results (default: the last ones), in 'en' or 'zh'
        (None: as easycls.set_language chose).

        Returns nothing, so that a notebook cell shows the table only.

        Example:
            >>> model = cls.from_checkpoint('checkpoints/lenet_hand_gray.pth')
            >>> result = model.fast_inference('demo/rock.png')
            >>> model.print_result(result)
            image     class  score   top-k
            --------------------------------------------------
            rock.png  rock   0.9989  scissors 0.00, paper 0.00
            >>> model.print_result(lang='zh')
            图片      类别  置信度  前k个
            -------------------------------------------------
            rock.png  rock  0.9989  scissors 0.00, paper 0.00
        """
        result = self.last_results if result is None else result
        if result is None:
            raise EasyclsError("There are no results to print yet: call model.inference(...) "
                               "first, or pass its result: model.print_result(result).")
        table = format_results(result, lang)
        if is_main_process():
            print(table)

    def _require_dataset(self) -> FolderDataset:
        if self.dataset is None:
            raise DatasetError(tr("No data set is loaded. Call model.load_dataset('path/to/dataset') "
                                  "before model.train()."))
        wanted, found = self._num_classes, len(self.dataset.classes)
        if wanted is not None and wanted != found:
            raise DatasetError(tr(
                "The model is set to {wanted} classes, but the loaded data set has {found}: "
                "{names}. Remove `model.num_classes = {wanted}`, or set it to {found}.",
                wanted=wanted, found=found, names=", ".join(self.dataset.classes)))
        return self.dataset

    def _require_predictor(self) -> Predictor:
        if self._predictor is None:
            raise CheckpointError(tr(
                "This model has no weights yet. Load a checkpoint first, e.g. "
                "model.load_checkpoint('checkpoints/cls_model/best_accuracy_top-1.pth'), pass "
                "one (inference(..., checkpoint=...), evaluate(checkpoint=...)), or train the "
                "model with model.train()."))
        return self._predictor


Classifier.train.__signature__ = train_options.signature(Classifier.train)
if Classifier.train.__doc__:  # python -OO strips docstrings
    Classifier.train.__doc__ += "\n" + train_options.docstring_table()


def _checked_num_classes(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise DatasetError(f"num_classes={value!r} is not valid: expected a whole number of at "
                           f"least 2, or leave it unset to take it from classes.txt.")
    return value
