"""Inference: any picture input -> result dicts, decoded in threads and run in batches."""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from PIL import Image

from .data.cache import default_threads
from .data.images import (array_to_pil, is_image_file, load_for_model, open_image,
                          to_model_array)
from .data.input_spec import InputSpec
from .engine.checkpoint import CheckpointMeta
from .engine.evaluator import Scorer
from .errors import EasyclsError, ImageError, PathNotFoundError
from .i18n import tr
from .log import logger
from .results import relative_names

BATCH_SIZE = 64


@dataclass
class InputItem:
    """One picture to classify: a file path, or an in-memory image with a display name."""

    path: Optional[str]
    image: Optional[Image.Image]
    name: str

    def load(self) -> Image.Image:
        return open_image(self.path) if self.image is None else self.image

    def model_array(self, spec: InputSpec) -> np.ndarray:
        if self.image is None:
            return load_for_model(self.path, spec)
        return to_model_array(self.image, spec)


def _tensor_to_array(tensor: torch.Tensor) -> np.ndarray:
    array = tensor.detach().cpu().numpy()
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
        array = array.transpose(1, 2, 0)  # torch's CxHxW to HxWxC
    return array


def _folder_items(folder: Path, recursive: bool) -> List[InputItem]:
    """The pictures in a folder (and its sub-folders, if recursive), named by their path
    relative to it, in sorted order."""
    if recursive:
        entries = [p for p in folder.rglob("*")
                   if not any(part.startswith(".") for part in p.relative_to(folder).parts)]
        subfolders = []
    else:
        entries = list(folder.iterdir())
        subfolders = sorted(p for p in entries if p.is_dir() and not p.name.startswith("."))
    files = sorted(p for p in entries if p.is_file())
    strange = sorted(p.name for p in entries
                     if not p.is_file() and not p.is_dir() and is_image_file(p.name))
    if strange:
        logger.info(f"Skipping {len(strange)} entr(ies) in '{folder}' named like pictures that "
                    f"are not regular files (pipes, devices or broken links): "
                    f"{', '.join(strange[:5])}{', ...' if len(strange) > 5 else ''}.")
    images = [p for p in files if is_image_file(p.name)]
    others = len(files) - len(images)
    below = sum(1 for sub in subfolders for p in sub.rglob("*") if is_image_file(p.name))
    if not images and below:
        raise ImageError(
            f"Folder '{folder}' has no pictures directly inside it, but its sub-folders "
            f"({', '.join(p.name for p in subfolders[:5])}{', ...' if len(subfolders) > 5 else ''}) "
            f"hold {below}. To classify those, pass recursive=True: each result then names its "
            f"picture's path inside '{folder}'.")
    if not images:
        raise ImageError(f"Folder '{folder}' has no image files ({len(files)} other file(s)). "
                         f"Expected .png, .jpg, .jpeg, .bmp, ... pictures directly inside it.")
    if others:
        logger.info(f"Skipping {others} file(s) in '{folder}' that are not images.")
    if below:
        logger.info(f"Skipping {below} picture(s) in the sub-folders of '{folder}'; pass "
                    f"recursive=True to classify them too.")
    return [InputItem(str(p), None, p.relative_to(folder).as_posix()) for p in images]


# Video files OpenCV reads with its FFMPEG backend; inference() classifies them frame by frame.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                    ".flv", ".3gp", ".ogv", ".ts", ".mts", ".m2ts", ".asf", ".vob", ".mjpeg",
                    ".y4m")


def is_video_file(path: Union[str, os.PathLike]) -> bool:
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


def _refuse_video(path) -> None:
    if is_video_file(path) and os.path.isfile(path):
        raise ImageError(f"'{path}' is a video. model.inference('{path}') classifies it frame by "
                         f"frame, on its own; here, pass pictures (files, folders, arrays).")


COLOR_ORDERS = ("rgb", "bgr")


def check_color_order(color_order: Optional[str]) -> Optional[str]:
    if color_order is None or (isinstance(color_order, str) and color_order.lower() in COLOR_ORDERS):
        return color_order and color_order.lower()
    raise ImageError(f"color_order={color_order!r} is not valid: use 'rgb' for numpy arrays from "
                     f"PIL, matplotlib or imageio, or 'bgr' for cv2.imread() and OpenCV camera "
                     f"frames.")


@lru_cache(maxsize=1)
def _say_arrays_are_rgb() -> None:
    logger.info("Note: numpy arrays are read as RGB, as PIL and matplotlib give them. A picture "
                "from cv2.imread() or an OpenCV camera is BGR: pass color_order='bgr' (this "
                "note is shown once).")


def collect_inputs(image, color_order: Optional[str] = None,
                   recursive: bool = False) -> Tuple[List[InputItem], bool]:
    """The pictures to classify, and whether the input was one picture (not a folder/list).

    color_order says how colour numpy arrays are ordered: 'rgb' or 'bgr' (OpenCV);
    None reads them as RGB and says so once. recursive: folders include sub-folders.
    """
    if isinstance(image, (list, tuple)):
        if not image:
            raise ImageError("The list of images is empty; pass at least one image.")
        items = []
        for index, element in enumerate(image):
            if isinstance(element, (list, tuple)):
                raise ImageError(f"Element {index} of the image list is itself a "
                                 f"{type(element).__name__}; pass a flat list of images.")
            if isinstance(element, (str, os.PathLike)) and not os.path.isdir(element):
                _refuse_video(element)
                items.append(InputItem(str(element), None, os.path.basename(element)))
            else:
                items += [_renamed(item, index)
                          for item in collect_inputs(element, color_order, recursive)[0]]
        # Files keep their path below the folder they share, as print_result names them,
        # so cat/0.png and dog/0.png stay two annotated pictures in two folders.
        names = relative_names([item.path for item in items])
        return [InputItem(item.path, item.image, name) if item.path else item
                for item, name in zip(items, names)], False
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if path.is_dir():
            return _folder_items(path, recursive), False
        if str(image).lower().startswith(("http://", "https://")):
            raise ImageError(f"'{image}' is a web address: easycls reads pictures from this "
                             f"computer only. Download the picture first, then pass its file.")
        if not path.exists():
            raise PathNotFoundError(tr("Image '{image}' does not exist (looked in {cwd}). Check "
                                       "the path and its spelling.", image=image, cwd=Path.cwd()))
        _refuse_video(path)
        return [InputItem(str(path), None, path.name)], True
    if isinstance(image, Image.Image):
        return [InputItem(None, image, "image.png")], True
    if isinstance(image, np.ndarray):
        if color_order is None and image.ndim == 3 and image.shape[2] in (3, 4):
            _say_arrays_are_rgb()
        return [InputItem(None, array_to_pil(image, color_order or "rgb"), "image.png")], True
    if isinstance(image, torch.Tensor):  # torchvision's order: RGB
        return [InputItem(None, array_to_pil(_tensor_to_array(image)), "image.png")], True
    raise ImageError(f"Cannot classify a {type(image).__name__}. Pass a file path, a folder "
                     f"path, a PIL image, a numpy array (HxW or HxWxC, RGB) or a list of these.")


def _renamed(item: InputItem, index: int) -> InputItem:
    if item.path is None:
        return InputItem(None, item.image, f"image_{index}.png")
    return item


class Predictor:
    """A model with its preprocessing, as saved in the checkpoint's meta."""

    def __init__(self, model: torch.nn.Module, meta: CheckpointMeta, device: torch.device):
        self.model, self.meta, self.device = model.to(device).eval(), meta, device
        self.spec = meta.input
        self.classes = list(meta.classes)
        self.scorer = Scorer(self.model, self.spec, device)
        self.k = min(5, len(self.classes))

    def prepare(self, item: InputItem) -> np.ndarray:
        return item.model_array(self.spec)

    def scores(self, batch: np.ndarray) -> torch.Tensor:
        return self.scorer(torch.from_numpy(batch))

    def results(self, items: List[InputItem], probabilities: torch.Tensor) -> List[dict]:
        top = probabilities.topk(self.k, dim=1)
        results = []
        for item, scores, labels in zip(items, top.values.tolist(), top.indices.tolist()):
            pairs = [(self.classes[i], round(s, 6)) for s, i in zip(scores, labels)]
            results.append({"image": item.path, "pred_label": labels[0],
                            "pred_score": pairs[0][1], "pred_class": pairs[0][0], "topk": pairs})
        return results

    def predict(self, items: List[InputItem], raise_errors: bool) -> List[dict]:
        """One result per item, in order; unreadable files become {'error': ...} entries."""
        if len(items) == 1 and raise_errors:  # one picture, no threads: latency matters here
            return self.results(items, self.scores(self.prepare(items[0])[None]))
        results: List[Optional[dict]] = [None] * len(items)
        shape = self.spec.shape
        threads = default_threads()

        def decode(indices, batch, ok, first):
            for slot in range(first, len(indices), threads):
                try:
                    batch[slot] = self.prepare(items[indices[slot]])
                    ok[slot] = True
                except EasyclsError as exc:
                    if raise_errors:
                        raise
                    results[indices[slot]] = {"image": items[indices[slot]].path, "error": str(exc)}

        def start(pool, indices):
            batch, ok = np.empty((len(indices), *shape), np.uint8), np.zeros(len(indices), bool)
            futures = [pool.submit(decode, indices, batch, ok, t) for t in range(threads)]
            return indices, batch, ok, futures

        batches = [list(range(i, min(i + BATCH_SIZE, len(items))))
                   for i in range(0, len(items), BATCH_SIZE)]
        with ThreadPoolExecutor(threads) as pool:
            # The threads decode the next batch while this one is in the model.
            pending = start(pool, batches[0])
            for number in range(len(batches)):
                indices, batch, ok, futures = pending
                for future in futures:
                    future.result()
                if number + 1 < len(batches):
                    pending = start(pool, batches[number + 1])
                good = [i for i, flag in zip(indices, ok) if flag]
                if good:
                    rows = self.results([items[i] for i in good], self.scores(batch[ok]))
                    for i, row in zip(good, rows):
                        results[i] = row
        return results


def decoded_batches(items: List[InputItem], spec: InputSpec, batch_size: int,
                    results: List[Optional[dict]], raise_errors: bool):
    """(places, uint8 arrays) of each batch of items, decoded as `spec` says; an unreadable
    picture gets its {'image', 'error'} entry in `results` (or raises, for a single one)."""
    for start in range(0, len(items), batch_size):
        places, arrays = [], []
        for place in range(start, min(start + batch_size, len(items))):
            try:
                arrays.append(items[place].model_array(spec))
                places.append(place)
            except EasyclsError as exc:
                if raise_errors:
                    raise
                results[place] = {"image": items[place].path, "error": str(exc)}
        if arrays:
            yield places, arrays


def predict_inputs(predictor: Predictor, image, color_order: Optional[str] = None,
                   recursive: bool = False) -> Tuple[Union[dict, List[dict]], List[InputItem]]:
    """Results for `image` (a dict for one picture, a list otherwise) and the items read."""
    if not isinstance(recursive, bool):
        raise ImageError(f"recursive={recursive!r} is not valid: use True (also classify the "
                         f"pictures in sub-folders) or False.")
    items, single = collect_inputs(image, check_color_order(color_order), recursive)
    results = predictor.predict(items, raise_errors=single)
    return (results[0] if single else results), items
