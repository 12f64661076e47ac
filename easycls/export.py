"""Exporting a trained network for use without easycls: ONNX or TorchScript.

The exported graph is the network with its input normalisation in front and a
softmax behind it:

    input   'images'         float32, batch x channels x size x size, values in [0, 1]
                             (RGB, or gray for 1 channel), already resized (and for
                             resize='center-crop' cropped) as the input spec says
    output  'probabilities'  float32, batch x classes, each row summing to 1

Any batch size works. The class names and the input spec travel with the file:
in the ONNX model's metadata_props, and for TorchScript inside the file
(extra file 'easycls.json') and beside it as <name>.json. `onnx_predict` runs an
ONNX file with onnxruntime alone, preparing pictures exactly as inference does.
"""
import contextlib
import copy
import inspect
import io
import json
import os
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

import numpy as np
import torch
from torch import nn

from .data.input_spec import InputSpec
from .engine.checkpoint import CheckpointMeta, unwrap
from .errors import (ExportError, ExportUnavailableError, ImageError,
                     PathNotFoundError)
from .log import logger
from .process import is_main_process
from .version import __version__

BACKENDS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
# Names that say "the other kind of file": refused rather than silently made into model.pt.onnx.
# .pth is easycls's checkpoint suffix, so an export never overwrites a checkpoint by its name.
OTHER_SUFFIXES = {"onnx": (".pt", ".pth", ".torchscript", ".ptl", ".jit"),
                  "torchscript": (".onnx", ".pth")}
ONNX_OPSET = 17  # onnxruntime >= 1.12 runs it; every layer easycls builds has an opset-17 form
DYNAMO_OPSET = 18  # the lowest opset torch's newer (torch.export-based) exporter writes
INPUT_NAME, OUTPUT_NAME = "images", "probabilities"
METADATA_FILE = "easycls.json"  # the extra file inside a TorchScript export
INSTALL_HINT = "pip install easycls[export]  (or: pip install onnx onnxruntime)"
BATCH_SIZE = 64  # pictures per onnxruntime call in onnx_predict

# torch announces that torch.jit and its TorchScript-based ONNX exporter are deprecated;
# a student exporting a model can do nothing about it, easycls can (see _onnx_bytes).
_DEPRECATION_NOTES = (r"You are using the legacy TorchScript-based ONNX export",
                      r"The feature will be removed", r"`torch\.jit\.\w+` is deprecated")


# --------------------------------------------------------------------- exporting

class ExportedClassifier(nn.Module):
    """The network as exported: [0, 1] pictures in, class probabilities out."""

    def __init__(self, net: nn.Module, spec: InputSpec):
        super().__init__()
        self.net = net
        std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
        mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.register_buffer("scale", 1.0 / std)
        self.register_buffer("shift", -mean / std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * self.scale + self.shift).float().softmax(dim=1)


def export_model(net: nn.Module, meta: CheckpointMeta, backend: str = "onnx",
                 out_file: Optional[Union[str, Path]] = None,
                 source: Optional[Union[str, Path]] = None) -> Path:
    """Write `net` (with its meta) as an ONNX or TorchScript file and return its path.

    backend: 'onnx' or 'torchscript' (any case). out_file: the file to write; by default
    the checkpoint `source` with the backend's suffix, else model.onnx / model.pt in the
    current folder. A name without a suffix (or with an unrelated one) gets the
    backend's suffix added. The user's network is not touched: a CPU copy is exported.
    Only the main process of a multi-process run writes.
    """
    backend = _checked_backend(backend)
    path = _out_path(backend, out_file, source)
    if not is_main_process():
        return path
    wrapper = ExportedClassifier(_cpu_copy(net), meta.input).eval()
    example = torch.rand(2, *meta.input.shape)  # batch 2: nothing gets fixed to a batch of 1
    path.parent.mkdir(parents=True, exist_ok=True)
    if backend == "onnx":
        data = _onnx_bytes(wrapper, example, meta)
        _write_atomic(path, lambda temporary: temporary.write_bytes(data))
    else:
        _save_torchscript(wrapper, example, meta, path)
    return path


def export_metadata(meta: CheckpointMeta) -> Dict[str, object]:
    """What an export carries about itself, as plain values (JSON-ready)."""
    spec = meta.input
    colour = "gray" if spec.channels == 1 else "RGB"
    how = (f"resized so that the shorter side is {spec.resized_shorter_side()} px, then the "
           f"centre {spec.image_size}x{spec.image_size} cut out" if spec.resize == "center-crop"
           else f"resized to {spec.image_size}x{spec.image_size} (aspect ratio not kept)")
    return {
        "classes": list(meta.classes),
        "input": {"image_size": spec.image_size, "channels": spec.channels,
                  "mean": list(spec.mean), "std": list(spec.std), "resize": spec.resize,
                  "crop_pct": spec.crop_pct},
        "backbone": meta.backbone,
        "easycls_version": __version__,
        "input_format": (f"'{INPUT_NAME}': float32 batch x {spec.channels} x {spec.image_size} x "
                         f"{spec.image_size}, {colour}, values in [0, 1] (pixel / 255), {how}; "
                         f"mean/std normalisation is inside the model. '{OUTPUT_NAME}': "
                         f"float32 batch x {meta.num_classes}, softmax probabilities in the "
                         f"order of 'classes'."),
        "meta": meta.to_dict(),
    }


def _checked_backend(backend) -> str:
    name = backend.strip().lower() if isinstance(backend, str) else None
    if name not in BACKENDS:
        raise ExportError(f"backend={backend!r} is not one easycls exports to: use 'onnx' (runs "
                          f"with onnxruntime on any computer, also without PyTorch) or "
                          f"'torchscript' (runs with torch.jit.load).")
    return name


def _out_path(backend: str, out_file, source) -> Path:
    suffix = SUFFIXES[backend]
    if out_file is None:
        if source is None:
            return Path(f"model{suffix}")
        path = Path(source).with_suffix(suffix)
        if path.suffix == Path(source).suffix:  # the checkpoint is already called *.pt
            path = Path(source).with_suffix(f".{backend}{suffix}")
        return path
    if not isinstance(out_file, (str, os.PathLike)) or not str(out_file).strip():
        raise ExportError(f"out_file={out_file!r} is not a file name: give a path such as "
                          f"'model{suffix}', or leave it out for the default.")
    path = Path(out_file)
    if path.is_dir() or str(out_file).endswith(("/", os.sep)):
        raise ExportError(f"out_file='{out_file}' is a folder; give a file name in it, e.g. "
                          f"'{path / ('model' + suffix)}'.")
    given = path.suffix.lower()
    if given in OTHER_SUFFIXES[backend]:
        other = "an easycls checkpoint" if given == ".pth" else "the other export format"
        raise ExportError(
            f"out_file='{out_file}' ends in {path.suffix}, the name of {other}, but "
            f"backend='{backend}' writes a {suffix} file. Use out_file="
            f"'{path.with_suffix(suffix)}'" + ("" if given == ".pth" else
            f", or backend='{'torchscript' if backend == 'onnx' else 'onnx'}' for a "
            f"{path.suffix} file") + ".")
    if given != suffix:
        path = path.with_name(path.name + suffix)
        logger.info(f"Note: '{out_file}' has no {suffix} ending; writing '{path}'.")
    if source is not None and path.resolve() == Path(source).resolve():
        raise ExportError(f"out_file='{out_file}' is the checkpoint being exported; writing it "
                          f"would replace the checkpoint. Choose another name.")
    return path


def _cpu_copy(net: nn.Module) -> nn.Module:
    """A frozen CPU copy in eval mode: the user's network keeps its mode, device and weights."""
    net = copy.deepcopy(unwrap(net)).to("cpu").eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


@contextlib.contextmanager
def _quiet_torch_deprecations():
    with warnings.catch_warnings():
        for note in _DEPRECATION_NOTES:
            warnings.filterwarnings("ignore", message=note)
        yield


def _import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ExportUnavailableError(f"Exporting to ONNX needs the 'onnx' package, which is not "
                                     f"installed. Install it with: {INSTALL_HINT}") from exc
    return onnx


def _onnx_bytes(wrapper: nn.Module, example: torch.Tensor, meta: CheckpointMeta) -> bytes:
    """The ONNX model, with easycls's metadata, checked by onnx.checker."""
    onnx = _import_onnx()
    # The TorchScript-based exporter (dynamo=False) is the one used while torch has it:
    # in torch 2.14 it takes 0.3 s for a MobileNet where the torch.export-based one takes
    # ~10 s, prints a page of progress, needs onnxscript, and cannot write opset 17 (it
    # writes 18, then fails to convert down). Both give the same probabilities. torch
    # marks the old one deprecated, so when it is gone (or refuses a model) the new one
    # is used instead.
    try:
        model = onnx.load_from_string(_export_torchscript_based(wrapper, example))
    except Exception as old_error:  # noqa: BLE001 - any failure: the other exporter may work
        if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
            raise ExportError(f"torch.onnx.export could not export {meta.backbone}: "
                              f"{type(old_error).__name__}: {old_error}") from old_error
        logger.info(f"Note: torch's TorchScript-based ONNX exporter failed "
                    f"({type(old_error).__name__}); using its torch.export-based one.")
        try:
            model = _export_dynamo(wrapper, example)
        except ImportError as exc:
            raise ExportUnavailableError(f"Exporting to ONNX with this torch needs the "
                                         f"'onnxscript' package: pip install onnxscript "
                                         f"(or {INSTALL_HINT}).") from exc
        except Exception as exc:  # noqa: BLE001 - say what both exporters said
            raise ExportError(f"torch.onnx.export could not export {meta.backbone}: "
                              f"{type(old_error).__name__}: {old_error}; its torch.export-based "
                              f"exporter: {type(exc).__name__}: {exc}") from exc
    info = export_metadata(meta)
    del model.metadata_props[:]
    for key, value in info.items():
        entry = model.metadata_props.add()
        entry.key = key if key.startswith("easycls_") else f"easycls_{key}"
        entry.value = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                                       default=str)
    model.doc_string = f"easycls {meta.backbone} classifier. {info['input_format']}"
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def _export_torchscript_based(wrapper: nn.Module, example: torch.Tensor) -> bytes:
    buffer = io.BytesIO()
    options = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:  # torch >= 2.5
        options["dynamo"] = False
    with _quiet_torch_deprecations():
        torch.onnx.export(wrapper, (example,), buffer, opset_version=ONNX_OPSET,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                          do_constant_folding=True, **options)
    return buffer.getvalue()


def _export_dynamo(wrapper: nn.Module, example: torch.Tensor):
    program = torch.onnx.export(wrapper, (example,), dynamo=True, opset_version=DYNAMO_OPSET,
                                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                dynamic_shapes={"images": {0: torch.export.Dim("batch")}},
                                verbose=False)
    return program.model_proto


def _save_torchscript(wrapper: nn.Module, example: torch.Tensor, meta: CheckpointMeta,
                      path: Path) -> None:
    text = json.dumps(export_metadata(meta), ensure_ascii=False, indent=2, default=str)
    with _quiet_torch_deprecations():
        # Traced, not scripted: every backbone easycls builds traces, not all of them script.
        traced = torch.jit.trace(wrapper, example)
        _write_atomic(path, lambda temporary: torch.jit.save(
            traced, str(temporary), _extra_files={METADATA_FILE: text}))
    _write_atomic(path.with_suffix(".json"),
                  lambda temporary: temporary.write_text(text + "\n", encoding="utf-8"))


# --------------------------------------------------------------------- running an ONNX file

def onnx_predict(onnx_file: Union[str, Path], image, color_order: Optional[str] = None,
                 recursive: bool = False) -> Union[dict, List[dict]]:
    """Classify pictures with an exported ONNX file, using onnxruntime (not PyTorch).

    The class names and the input spec are read from the file; pictures are prepared
    exactly as model.inference prepares them, and the results are shaped like its
    results: {'image', 'pred_label', 'pred_score', 'pred_class', 'topk'}. `image`,
    `color_order` and `recursive` are as in inference(): one result dict for one
    picture, a list for a folder or a list (a file that cannot be read gets an
    {'image', 'error'} entry there).

    Example:
        >>> model = cls.from_checkpoint('checkpoints/lenet_hand_gray.pth')
        >>> onnx_file = model.convert(backend='onnx', out_file='hand_gray.onnx')
        >>> easycls.onnx_predict(onnx_file, 'demo/rock.png')['pred_class']
        'rock'
        >>> [r['pred_class'] for r in easycls.onnx_predict(onnx_file, 'demo/many_pictures')][-3:]
        ['scissors', 'scissors', 'scissors']

    Without easycls (pip install onnxruntime pillow numpy), for a model trained with
    the default resize='stretch':

        import json
        import numpy as np
        import onnxruntime as ort
        from PIL import Image

        session = ort.InferenceSession("hand_gray.onnx", providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map
        classes, spec = json.loads(meta["easycls_classes"]), json.loads(meta["easycls_input"])
        picture = Image.open("demo/rock.png").convert("L" if spec["channels"] == 1 else "RGB")
        picture = picture.resize((spec["image_size"], spec["image_size"]), Image.BILINEAR)
        x = np.asarray(picture, np.float32).reshape(spec["image_size"], spec["image_size"], -1)
        probabilities = session.run(None, {"images": x.transpose(2, 0, 1)[None] / 255})[0][0]
        print(classes[probabilities.argmax()], probabilities.max())

    It gives easycls's numbers for PNG pictures already at the model's size; others
    can differ by a pixel level or so, since easycls decodes and resizes with OpenCV
    (averaging when shrinking). For resize='center-crop' (imported MMEdu models),
    resize the shorter side to image_size / crop_pct and cut out the centre instead.
    """
    from .inference import check_color_order, collect_inputs, decoded_batches

    if not isinstance(recursive, bool):
        raise ImageError(f"recursive={recursive!r} is not valid: use True (also classify the "
                         f"pictures in sub-folders) or False.")
    session, classes, spec = _onnx_session(onnx_file)
    items, single = collect_inputs(image, check_color_order(color_order), recursive)
    k = min(5, len(classes))
    results: List[Optional[dict]] = [None] * len(items)
    for places, arrays in decoded_batches(items, spec, BATCH_SIZE, results, raise_errors=single):
        batch = np.stack(arrays).astype(np.float32) / 255.0
        probabilities = session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
        for place, row in zip(places, probabilities):
            labels = np.argsort(-row, kind="stable")[:k]
            pairs = [(classes[i], round(float(row[i]), 6)) for i in labels]
            results[place] = {"image": items[place].path, "pred_label": int(labels[0]),
                              "pred_score": pairs[0][1], "pred_class": pairs[0][0], "topk": pairs}
    return results[0] if single else results


def _onnx_session(onnx_file):
    """(onnxruntime session, class names, InputSpec) of an easycls ONNX export."""
    if not isinstance(onnx_file, (str, os.PathLike)):
        raise ExportError(f"onnx_file must be a path to an .onnx file, got "
                          f"{type(onnx_file).__name__} {onnx_file!r}.")
    if not os.path.isfile(onnx_file):
        raise PathNotFoundError(f"ONNX file '{onnx_file}' does not exist (looked in "
                                f"{Path.cwd()}). Export one with model.convert(backend='onnx').")
    try:
        import onnxruntime
    except ImportError as exc:
        raise ExportUnavailableError(f"Running an ONNX file needs the 'onnxruntime' package, "
                                     f"which is not installed. Install it with: "
                                     f"{INSTALL_HINT}") from exc
    try:  # from bytes: any path works, also one onnxruntime cannot open by name
        session = onnxruntime.InferenceSession(Path(onnx_file).read_bytes(),
                                               providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own error classes
        raise ExportError(f"'{onnx_file}' is not a readable ONNX model ({type(exc).__name__}: "
                          f"{exc}).") from exc
    props = session.get_modelmeta().custom_metadata_map
    try:
        classes, raw = json.loads(props["easycls_classes"]), json.loads(props["easycls_input"])
        spec = InputSpec(int(raw["image_size"]), int(raw["channels"]), tuple(raw["mean"]),
                         tuple(raw["std"]), raw.get("resize", "stretch"),
                         float(raw.get("crop_pct", 1.0)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportError(f"'{onnx_file}' was not exported by easycls: its metadata lacks the "
                          f"class names and input spec (easycls_classes, easycls_input). Run it "
                          f"with onnxruntime directly, or export it with "
                          f"model.convert(backend='onnx').") from exc
    return session, classes, spec
