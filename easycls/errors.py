"""Exceptions raised by easycls.

Each subclasses a built-in as well, so `except ValueError` or
`except FileNotFoundError` in user code keeps working.
"""


class EasyclsError(Exception):
    """Base class of every error easycls raises on purpose."""


class BackboneError(EasyclsError, ValueError):
    """An unknown backbone name, or a backbone used in a way it cannot be."""


class DatasetError(EasyclsError, ValueError):
    """The data set on disk does not match what training needs."""


class CheckpointError(EasyclsError, ValueError):
    """A checkpoint file that cannot be used for the request."""


class ImageError(EasyclsError, ValueError):
    """An input image that cannot be read or understood."""


class TrainingError(EasyclsError, RuntimeError):
    """Training cannot start or cannot go on."""


class PathNotFoundError(EasyclsError, FileNotFoundError):
    """A path the user gave does not exist."""


class WeightsUnavailableError(EasyclsError, RuntimeError):
    """Pretrained weights were asked for but cannot be had (usually: offline)."""


class SettingError(EasyclsError, AttributeError):
    """An attribute of the model that does not exist (usually a misspelt setting)."""


class ExportError(EasyclsError, ValueError):
    """An export that cannot be done as asked (unknown backend, a file name for the other kind)."""


class ExportUnavailableError(EasyclsError, ImportError):
    """The optional packages an ONNX export or onnx_predict needs are not installed."""


class LabelCheckUnavailableError(EasyclsError, ImportError):
    """cleanlab, which ranks the suspected label errors, is not installed."""


class AppUnavailableError(EasyclsError, ImportError):
    """gradio, which makes the web page, is not installed."""


class AppError(EasyclsError, OSError):
    """The web page cannot be served as asked (usually: the port is taken)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training after its progress was saved; the message says how to go on.

    A KeyboardInterrupt, so that `except Exception` does not swallow it and a script
    stops, as it would at any other Ctrl-C. `.history` holds the records train() would
    have returned.
    """
