"""Class activation maps: where in a picture the model found the evidence for a class.

The maps come from the grad-cam package, at a layer each backbone names in its
registry entry; overlays are saved under the inputs' names, like annotated results.
"""
import difflib
from contextlib import contextmanager
from typing import List, Optional, Tuple

import numpy as np
import torch
from PIL import Image

from ..data.input_spec import InputSpec
from ..errors import BackboneError, EasyclsError, ImageError
from ..inference import check_color_order, collect_inputs, decoded_batches
from ..log import logger
from ..process import is_main_process
from .annotate import annotate, enlarged, save_pictures
from .fonts import drawable

# Names users type -> grad-cam class names, imported only when a map is made.
METHODS = {"gradcam": "GradCAM", "gradcam++": "GradCAMPlusPlus", "layercam": "LayerCAM",
           "eigencam": "EigenCAM"}
TITLES = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "layercam": "LayerCAM",
          "eigencam": "EigenCAM"}
CLASS_FREE = ("eigencam",)  # maps that show the strongest features, whatever the class
CAM_BATCH_SIZE = 16  # gradients of every layer are kept: smaller batches than inference's
LISTED_LAYERS = 25


def cam_inputs(predictor, spec, image, target_class=None, method: str = "gradcam",
               target_layer: Optional[str] = None, color_order: Optional[str] = None,
               recursive: bool = False, save_fold=None, display: bool = False):
    """Heat maps for `image` (what inference takes): a result dict per picture, with the
    map as 'cam' (float32, model input size, 0-1); overlays saved when save_fold is set."""
    if not isinstance(recursive, bool):
        raise ImageError(f"recursive={recursive!r} is not valid: use True (also use the "
                         f"pictures in sub-folders) or False.")
    method, cam_class = _method(method)
    target = _target_label(target_class, predictor.classes)
    if method in CLASS_FREE and target is not None:
        logger.warning(f"Note: {TITLES[method]} does not look at classes: it shows the strongest "
                       f"features of each picture, the same map whatever target_class says. Use "
                       f"method='gradcam' to see the evidence for {predictor.classes[target]!r}.")
        target = None
    items, single = collect_inputs(image, check_color_order(color_order), recursive)
    layer_name, layer = _layer(predictor, spec, target_layer)

    results: List[Optional[dict]] = [None] * len(items)
    model = predictor.model
    with _weights_untouched(model), _released(cam_class(model, [layer])) as cam:
        for batch, arrays in decoded_batches(items, predictor.spec, CAM_BATCH_SIZE, results,
                                             raise_errors=single):
            rows = _batch_results(cam, predictor, [items[i] for i in batch], arrays, target)
            for index, row in zip(batch, rows):
                results[index] = dict(row, method=method, layer=layer_name)

    _say_which_maps_are_empty(method, [row for row in results if "error" not in row])
    if save_fold is not None and is_main_process():
        pictures = ((item.name, overlay(item.load(), row, predictor.spec))
                    for item, row in zip(items, results) if "error" not in row)
        save_pictures(pictures, save_fold, display, kind="heat-map")
    return results[0] if single else results


def _batch_results(cam, predictor, items, arrays, target: Optional[int]) -> List[dict]:
    """Inference results of decoded pictures, with their heat maps for the target class
    (None: each one's predicted class)."""
    pixels = torch.from_numpy(np.stack(arrays)).to(predictor.device)
    # Gradients reach the layer through the input: the weights stay frozen.
    inputs = predictor.scorer.normalize(pixels).requires_grad_(True)
    targets = None if target is None else [_classifier_target(target)] * len(arrays)
    maps = cam(input_tensor=inputs, targets=targets)  # targets=None: the largest output
    probabilities = cam.outputs.detach().float().softmax(dim=1).cpu()
    rows = predictor.results(items, probabilities)
    for row, heat, scores in zip(rows, maps, probabilities):
        label = row["pred_label"] if target is None else target
        row.update(target_class=predictor.classes[label], target_label=label,
                   target_score=round(float(scores[label]), 6),
                   cam=np.clip(heat, 0, 1).astype(np.float32))
    return rows


def overlay(picture: Image.Image, result: dict, spec: InputSpec) -> Image.Image:
    """The picture (enlarged as annotated results are) with the heat map blended over the
    part the model saw, and the target class with its score on top."""
    import cv2

    array = np.array(enlarged(picture))
    left, top, right, bottom = _seen_box(spec, array.shape[1], array.shape[0])
    heat = cv2.resize(result["cam"], (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.uint8(255 * heat), cv2.COLORMAP_JET)[:, :, ::-1]  # BGR to RGB
    region = array[top:bottom, left:right]
    array[top:bottom, left:right] = (region * 0.5 + colours * 0.5).astype(np.uint8)
    return annotate(Image.fromarray(array), overlay_label(result))


def overlay_label(result: dict) -> str:
    """'Grad-CAM rock 0.93', and the prediction too where the map is of another class."""
    title = TITLES[result["method"]]
    predicted = f"{drawable(result['pred_class'], result['pred_label'])} {result['pred_score']:.2f}"
    if result["method"] in CLASS_FREE:
        return f"{title}, predicted {predicted}"
    text = f"{title} {drawable(result['target_class'], result['target_label'])} {result['target_score']:.2f}"
    return text if result["target_label"] == result["pred_label"] else f"{text} (predicted {predicted})"


def _say_which_maps_are_empty(method: str, rows: List[dict]) -> None:
    """A map with no heat at all means no evidence for the class: say so, or a student reads
    it as 'the model looks nowhere'."""
    empty = [row for row in rows if float(row["cam"].max()) <= 1e-6]
    if empty:
        names = ", ".join(f"{row['image'] or 'the picture'} (predicted {row['pred_class']})"
                          for row in empty[:5])
        logger.warning(f"Note: {TITLES[method]} found no evidence for the target class in "
                       f"{len(empty)} picture(s), so their maps are empty: {names}"
                       f"{', ...' if len(empty) > 5 else ''}.")


def _seen_box(spec: InputSpec, width: int, height: int) -> Tuple[int, int, int, int]:
    """The part of a width x height picture the model's input shows (all of it, unless
    the spec crops the centre)."""
    if spec.resize != "center-crop":
        return 0, 0, width, height
    side = min(width, height) * spec.image_size / spec.resized_shorter_side()
    left, top = round((width - side) / 2), round((height - side) / 2)
    return left, top, left + round(side), top + round(side)


def _method(method) -> Tuple[str, type]:
    key = method.lower().replace("-", "").replace("_", "").replace(" ", "") \
        if isinstance(method, str) else None
    if key not in METHODS:
        raise EasyclsError(f"Unknown CAM method {method!r}. Choose one of: "
                           f"{', '.join(METHODS)} (case does not matter), e.g. method='gradcam'.")
    import pytorch_grad_cam

    return key, getattr(pytorch_grad_cam, METHODS[key])


def _classifier_target(label: int):
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    return ClassifierOutputTarget(label)


def _target_label(target_class, classes: List[str]) -> Optional[int]:
    """None (each picture's predicted class), or the class number asked for by number or name."""
    if target_class is None:
        return None
    listed = ", ".join(f"{number} {name}" for number, name in enumerate(classes))
    if isinstance(target_class, (int, np.integer)) and not isinstance(target_class, bool):
        if 0 <= target_class < len(classes):
            return int(target_class)
        raise EasyclsError(f"target_class={target_class} is not a class number of this model: "
                           f"it has {len(classes)} classes, numbered 0 to {len(classes) - 1} "
                           f"({listed}). Pass one of these numbers or names, or None for the "
                           f"predicted class.")
    if isinstance(target_class, str):
        if target_class in classes:
            return classes.index(target_class)
        folded = [name for name in classes if name.casefold() == target_class.casefold()]
        if len(folded) == 1:
            return classes.index(folded[0])
    raise EasyclsError(f"target_class={target_class!r} is not a class of this model, whose "
                       f"classes are: {listed}. Pass one of these names or numbers, or None for "
                       f"the predicted class.")


def _layer(predictor, spec, target_layer) -> Tuple[str, torch.nn.Module]:
    """The layer to look at: target_layer by name, else the backbone's registry default."""
    model, name = predictor.model, spec.cam_layer if target_layer is None else target_layer
    if not isinstance(name, str):
        raise BackboneError(f"target_layer must be a layer name such as {spec.cam_layer!r}, got "
                            f"{type(name).__name__} {name!r}.")
    if target_layer is None:
        try:
            return name, model.get_submodule(name)
        except AttributeError:  # a registry entry out of step with its model: list the layers
            pass
    found = _feature_map_layers(model, predictor.spec, predictor.device)
    if name in found:
        return name, model.get_submodule(name)
    try:
        model.get_submodule(name)
        problem = (f"The output of layer {name!r} of {spec.name} is not a feature map (channels x "
                   f"height x width), so it has no places to colour.")
    except AttributeError:
        problem = f"{spec.name} has no layer named {name!r}."
    close = difflib.get_close_matches(name, found, n=1)
    # The outermost layers first: a list of all of them would bury 'layer4' among hundreds.
    outermost = sorted(found, key=lambda layer: layer.count("."))[:LISTED_LAYERS]
    shown = sorted(outermost, key=found.index)
    inside = [layer for layer in found if layer not in shown]
    more = f" and {len(inside)} inside them such as {inside[-1]!r}" if inside else ""
    raise BackboneError(
        f"{problem}{f' Did you mean {close[0]!r}?' if close else ''} Layers with feature maps: "
        f"{', '.join(shown)}{more}. Pass one of these "
        f"as target_layer, or target_layer=None for {spec.name}'s default, {spec.cam_layer!r}.")


def _feature_map_layers(model: torch.nn.Module, spec: InputSpec, device) -> List[str]:
    """Names of the modules whose output is 4-D (N x C x H x W), in the order they run."""
    found: List[str] = []

    def note(name):
        def hook(module, inputs, output):
            if isinstance(output, torch.Tensor) and output.dim() == 4 and name not in found:
                found.append(name)
        return hook

    handles = [module.register_forward_hook(note(name)) for name, module in model.named_modules()
               if name]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *spec.shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return found


@contextmanager
def _released(cam):
    """The grad-cam object, its hooks removed from the model afterwards. Not `with cam:`,
    whose exit swallows IndexErrors."""
    try:
        yield cam
    finally:
        cam.__exit__(None, None, None)


@contextmanager
def _weights_untouched(model: torch.nn.Module):
    """Run with gradients on but the weights frozen; afterwards the weights' requires_grad,
    .grad (grad-cam zeroes it) and the model's train/eval mode are as they were."""
    parameters = list(model.parameters())
    flags, grads, training = [p.requires_grad for p in parameters], [p.grad for p in parameters], \
        model.training
    try:
        for parameter in parameters:
            parameter.requires_grad_(False)
        with torch.enable_grad():
            yield
    finally:
        for parameter, flag, grad in zip(parameters, flags, grads):
            parameter.requires_grad_(flag)
            parameter.grad = grad
        model.train(training)
