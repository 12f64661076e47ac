"""easycls: beginner-friendly image classification on PyTorch.

    >>> from easycls import Classifier as cls
    >>> model = cls('LeNet')
"""
from . import datasets
from .checkpoints import publish, pth_info
from .classifier import Classifier
from .compat.mmedu import MMClassification
from .data.doctor import DatasetReport, check_dataset
from .engine.callbacks import Callback, TensorBoardLogger
from .engine.log_json import read_log
from .errors import (AppError, AppUnavailableError, BackboneError, CheckpointError,
                     DatasetError, EasyclsError, ExportError, ExportUnavailableError, ImageError,
                     LabelCheckUnavailableError, PathNotFoundError, SettingError, TrainingError,
                     TrainingInterrupted, WeightsUnavailableError)
from .export import onnx_predict
from .i18n import set_language
from .labels import find_label_issues
from .version import __version__
from .visualize import plot_confusion_matrix, plot_gallery, plot_log, show_dataset
from .visualize.suspects import plot_suspects

__all__ = ["Classifier", "MMClassification", "Callback", "TensorBoardLogger", "check_dataset", "DatasetReport", "read_log", "__version__",
           "plot_log", "plot_confusion_matrix", "plot_gallery", "show_dataset", "pth_info", "publish",
           "onnx_predict", "ExportError", "ExportUnavailableError", "find_label_issues",
           "plot_suspects", "LabelCheckUnavailableError", "EasyclsError", "BackboneError",
           "DatasetError", "CheckpointError", "ImageError", "TrainingError",
           "PathNotFoundError", "SettingError", "TrainingInterrupted",
           "WeightsUnavailableError", "AppError", "AppUnavailableError", "set_language"]
