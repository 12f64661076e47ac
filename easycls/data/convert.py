"""Converters from other data set formats to the ImageNet-style folder easycls reads."""
import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image

from ..errors import DatasetError, PathNotFoundError
from .cache import default_threads
from .lists import write_list

FASHION_MNIST_CLASSES = ("T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle_boot")
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Union[str, Path]) -> np.ndarray:
    """An IDX file (MNIST's format), gzipped or not, as a numpy array."""
    path = Path(path)
    if not path.is_file():
        raise PathNotFoundError(f"IDX file '{path}' does not exist.")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise DatasetError(f"'{path}' is not an IDX file: it should start with two zero bytes "
                           f"and a type code (MNIST's format).")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    array = np.frombuffer(data, dtype=IDX_TYPES[data[2]], offset=4 + 4 * dims)
    if array.size != int(np.prod(shape)):
        raise DatasetError(f"'{path}' is truncated: its header promises shape {shape} but it "
                           f"holds {array.size} values.")
    return array.reshape(shape)


def write_split(images: np.ndarray, labels: np.ndarray, folder: Path, classes: Sequence[str],
                list_file: Optional[Path] = None) -> None:
    """Write images as PNG into folder/<class>/<index>.png, optionally with a label list."""
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
    relative = [f"{classes[label]}/{index:05d}.png" for index, label in enumerate(labels)]

    def save(index: int):
        Image.fromarray(images[index]).save(folder / relative[index], compress_level=1)

    with ThreadPoolExecutor(default_threads()) as pool:
        list(pool.map(save, range(len(labels)), chunksize=256))
    if list_file is not None:
        write_list(list_file, [f"{rel} {int(label)}" for rel, label in zip(relative, labels)])


def mnist_style_to_folder(source: Union[str, Path], target: Union[str, Path],
                          classes: Sequence[str], limit: Optional[int] = None) -> Path:
    """Convert MNIST-format IDX files (train-*, t10k-*) to training_set/ and val_set/.

    The t10k split becomes val_set (and is listed in val.txt), as in classroom use.
    `limit` keeps only the first N images of each split, for quick experiments.
    """
    source, target = Path(source), Path(target)
    pairs = {"training_set": "train", "val_set": "t10k"}
    target.mkdir(parents=True, exist_ok=True)
    write_list(target / "classes.txt", list(classes))
    for folder, prefix in pairs.items():
        images = read_idx(_find(source, f"{prefix}-images-idx3-ubyte"))[:limit]
        labels = read_idx(_find(source, f"{prefix}-labels-idx1-ubyte"))[:limit]
        if len(images) != len(labels):
            raise DatasetError(f"{prefix}: {len(images)} images but {len(labels)} labels in "
                               f"'{source}'; the files do not belong together.")
        write_split(images, labels, target / folder, classes,
                    target / "val.txt" if folder == "val_set" else None)
    return target


def fashion_mnist_to_folder(target: Union[str, Path], source: Union[str, Path] = FASHION_MNIST_DIR,
                            limit: Optional[int] = None) -> Path:
    """Fashion-MNIST (from Debian's dataset-fashion-mnist by default) as an easycls folder."""
    return mnist_style_to_folder(source, target, FASHION_MNIST_CLASSES, limit)


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise PathNotFoundError(
        f"'{folder}' has no {stem}(.gz). Expected the four MNIST-format files "
        f"(train-images-idx3-ubyte.gz, ...). For Fashion-MNIST on Debian/Ubuntu: "
        f"sudo apt-get install dataset-fashion-mnist.")
