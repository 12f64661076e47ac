"""Readers of the formats data sets are downloaded in, and the writer of their pictures.

IDX files (MNIST, Fashion-MNIST), gzipped or not, and CIFAR-10/100's python pickles,
read safely: a pickle may only rebuild numpy arrays, never call anything else. The
data set folders themselves are built in datasets.py (public as `easycls.datasets`).
"""
import codecs
import gzip
import io
import pickle
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ..errors import DatasetError, PathNotFoundError
from .cache import default_threads

FASHION_MNIST_CLASSES = ("T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle_boot")
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
Arrays = Tuple[np.ndarray, np.ndarray]  # images (N, H, W[, 3]) uint8, labels (N,) int


# --- IDX (MNIST's format) ---------------------------------------------------------------

def read_idx(path: Union[str, Path]) -> np.ndarray:
    """An IDX file (MNIST's format), gzipped or not, as a numpy array."""
    path = Path(path)
    if not path.is_file():
        raise PathNotFoundError(f"IDX file '{path}' does not exist.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise DatasetError(f"'{path}' cannot be read ({exc}). If it was downloaded, download it "
                           f"again: the file is damaged or incomplete.") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise DatasetError(f"'{path}' is not an IDX file: it should start with two zero bytes "
                           f"and a type code (MNIST's format).")
    dims, dtype = data[3], np.dtype(IDX_TYPES[data[2]])
    header = 4 + 4 * dims
    if len(data) < header:
        raise DatasetError(f"'{path}' is truncated: it ends inside its header. Download it again.")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    count = (len(data) - header) // dtype.itemsize
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header)
    if array.size < int(np.prod(shape)):
        raise DatasetError(f"'{path}' is truncated: its header promises shape {shape} but it "
                           f"holds {array.size} values. Download it again.")
    if array.size > int(np.prod(shape)):
        raise DatasetError(f"'{path}' holds {array.size} values, more than the shape {shape} its "
                           f"header promises: it is not a well-formed IDX file.")
    return array.reshape(shape)


def find_idx(folder: Path, stem: str) -> Path:
    """folder/<stem>(.gz), also spelt with a dot as some downloads do (train-images.idx3-ubyte)."""
    prefix, kind, suffix = stem.split("-", 2)
    for name in (stem, f"{prefix}-{kind}.{suffix}"):
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return candidate
    raise PathNotFoundError(
        f"'{folder}' has no {stem}(.gz). Expected the four MNIST-format files "
        f"(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        f"t10k-labels-idx1-ubyte.gz; gzipped or not). For Fashion-MNIST on Debian/Ubuntu: "
        f"sudo apt-get install dataset-fashion-mnist.")


def read_idx_pair(folder: Path, prefix: str, limit: Optional[int] = None) -> Arrays:
    """The images and labels of one MNIST split ('train' or 't10k'), checked to belong together."""
    images = read_idx(find_idx(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find_idx(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(f"{prefix}-images in '{folder}' holds {images.dtype} values of shape "
                           f"{images.shape}; expected 8-bit pictures, shape (count, height, "
                           f"width), as MNIST's files are. Is it a labels file renamed?")
    if labels.ndim != 1:
        raise DatasetError(f"{prefix}-labels in '{folder}' has shape {labels.shape}; expected one "
                           f"label per picture, shape (count,). Is it an images file renamed?")
    if len(images) != len(labels):
        raise DatasetError(f"{prefix}: {len(images)} images but {len(labels)} labels in "
                           f"'{folder}'; the files do not belong together.")
    return images[:limit], labels[:limit].astype(np.int64)


# --- CIFAR-10 / CIFAR-100 python pickles ------------------------------------------------

@dataclass
class CifarLayout:
    name: str
    folder: str  # the folder inside the downloaded archive
    archive: str
    meta: str
    names_key: str
    labels_key: str
    train: Tuple[str, ...]
    test: Tuple[str, ...]


CIFAR_LAYOUTS = (
    CifarLayout("CIFAR-10", "cifar-10-batches-py", "cifar-10-python.tar.gz", "batches.meta",
                "label_names", "labels", tuple(f"data_batch_{i}" for i in range(1, 6)),
                ("test_batch",)),
    CifarLayout("CIFAR-100", "cifar-100-python", "cifar-100-python.tar.gz", "meta",
                "fine_label_names", "fine_labels", ("train",), ("test",)),
)


@dataclass
class Cifar:
    name: str  # CIFAR-10 or CIFAR-100
    classes: List[str]
    train: Arrays  # images (N, 32, 32, 3)
    test: Arrays


def _pickle_globals() -> Dict[Tuple[str, str], object]:
    """The only things a CIFAR pickle may ask for: how numpy rebuilds an array, and how
    Python 3 writes bytes at protocol 2. Under both of numpy's module names (1.x and 2.x)."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 1.26
        from numpy.core import multiarray, numeric
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): codecs.encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, numbers, strings and numpy arrays; refuses every other global,
    so a pickle cannot run code (an os.system in its __reduce__ is refused, not called)."""

    def __init__(self, data: bytes, source: str):
        super().__init__(io.BytesIO(data), encoding="bytes")  # Python 2's str -> bytes
        self.source, self.allowed = source, _pickle_globals()

    def find_class(self, module: str, name: str):
        found = self.allowed.get((module, name))
        if found is None:
            raise DatasetError(
                f"'{self.source}' is not a plain CIFAR file: it asks to load {module}.{name}, and "
                f"a pickle that does that can run any program on this computer. easycls refused "
                f"it and ran nothing. A CIFAR file holds only arrays, numbers and names; "
                f"download it again from {CIFAR_URL}.")
        return found

    def persistent_load(self, pid):
        raise DatasetError(f"'{self.source}' is not a plain CIFAR file (it refers to outside "
                           f"objects). Download it again from {CIFAR_URL}.")


def load_pickle_safely(data: bytes, source: str) -> dict:
    """A pickled dict of arrays and lists (CIFAR's format); its bytes keys become str."""
    try:
        content = _ArraysOnlyUnpickler(data, source).load()
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - any damage of the file reads the same to a user
        raise DatasetError(f"'{source}' is not a readable CIFAR pickle ({type(exc).__name__}: "
                           f"{exc}). Download it again from {CIFAR_URL}.") from exc
    if not isinstance(content, dict):
        raise DatasetError(f"'{source}' holds a {type(content).__name__}, not the dict a CIFAR "
                           f"file holds. Download it again from {CIFAR_URL}.")
    return {key.decode("latin1") if isinstance(key, bytes) else key: value
            for key, value in content.items()}


def read_cifar(source: Union[str, Path]) -> Cifar:
    """CIFAR-10 or CIFAR-100 from its python version: the folder (cifar-10-batches-py,
    cifar-100-python), a folder holding it, or the downloaded .tar.gz itself."""
    path = Path(source)
    if not path.exists():
        raise PathNotFoundError(f"'{source}' does not exist. Expected the folder "
                                f"cifar-10-batches-py or cifar-100-python (or the .tar.gz "
                                f"downloaded from {CIFAR_URL}).")
    files, layout = _cifar_files(path)
    meta = load_pickle_safely(files[layout.meta](), f"{path}/{layout.meta}")
    names = meta.get(layout.names_key)
    if not isinstance(names, (list, tuple)) or not names:
        raise DatasetError(f"'{path}/{layout.meta}' has no {layout.names_key} list (keys: "
                           f"{', '.join(map(str, meta)) or 'none'}). Download {layout.archive} "
                           f"again from {CIFAR_URL}.")
    classes = [name.decode("utf-8") if isinstance(name, bytes) else str(name) for name in names]
    parts = {}
    for split, batches in (("train", layout.train), ("test", layout.test)):
        read = [_cifar_batch(files[batch](), f"{path}/{batch}", layout, len(classes))
                for batch in batches]
        parts[split] = (np.concatenate([images for images, _ in read]),
                        np.concatenate([labels for _, labels in read]))
    return Cifar(layout.name, classes, parts["train"], parts["test"])


def _cifar_batch(data: bytes, source: str, layout: CifarLayout, num_classes: int) -> Arrays:
    batch = load_pickle_safely(data, source)
    images, labels = batch.get("data"), batch.get(layout.labels_key)
    if not isinstance(images, np.ndarray) or labels is None:
        raise DatasetError(f"'{source}' has no data array and {layout.labels_key} list (keys: "
                           f"{', '.join(map(str, batch)) or 'none'}); it is not a {layout.name} "
                           f"batch. Download {layout.archive} again from {CIFAR_URL}.")
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"'{source}': data holds {images.dtype} of shape {images.shape}; "
                           f"expected uint8 rows of 3072 values (32x32 pixels, red then green "
                           f"then blue). Download {layout.archive} again from {CIFAR_URL}.")
    if len(labels) != len(images):
        raise DatasetError(f"'{source}' has {len(images)} pictures but {len(labels)} labels; "
                           f"download {layout.archive} again from {CIFAR_URL}.")
    if len(labels) and not 0 <= labels.min() <= labels.max() < num_classes:
        raise DatasetError(f"'{source}' has labels {labels.min()}..{labels.max()}, but the meta "
                           f"file names {num_classes} classes; the files do not belong together.")
    return images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _cifar_files(path: Path):
    """({file name: reader of its bytes}, layout) of a CIFAR folder or archive."""
    if path.is_file():
        return _cifar_archive(path)
    for layout in CIFAR_LAYOUTS:
        for folder in (path, path / layout.folder):
            if (folder / layout.meta).is_file() and (folder / layout.train[0]).is_file():
                missing = [n for n in layout.train + layout.test if not (folder / n).is_file()]
                if missing:
                    raise PathNotFoundError(
                        f"'{folder}' has no {', '.join(missing)}. {layout.name}'s python version "
                        f"holds {layout.meta}, {', '.join(layout.train + layout.test)}: unpack "
                        f"{layout.archive} ({CIFAR_URL}) again, completely.")
                return {n: (folder / n).read_bytes for n in (layout.meta,) + layout.train
                        + layout.test}, layout
    if (path / "data_batch_1.bin").is_file() or (path / "cifar-10-batches-bin").is_dir():
        raise DatasetError(f"'{path}' is CIFAR-10's binary version. easycls reads the python "
                           f"version: download cifar-10-python.tar.gz from {CIFAR_URL}.")
    raise DatasetError(
        f"'{path}' is not a CIFAR folder. Expected the python version: cifar-10-batches-py/ "
        f"(batches.meta, data_batch_1..5, test_batch) or cifar-100-python/ (meta, train, test), "
        f"or the .tar.gz downloaded from {CIFAR_URL}.")


def _cifar_archive(path: Path):
    """Read the needed members of a downloaded CIFAR .tar.gz into memory (nothing is unpacked)."""
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {m.name.split("/")[-1]: m for m in archive.getmembers() if m.isfile()}
            layout = next((lay for lay in CIFAR_LAYOUTS
                           if lay.meta in members and lay.train[0] in members), None)
            if layout is None:
                raise DatasetError(f"'{path}' is an archive, but not CIFAR's python version (no "
                                   f"batches.meta or meta inside). Download cifar-10-python.tar.gz"
                                   f" or cifar-100-python.tar.gz from {CIFAR_URL}.")
            wanted = (layout.meta,) + layout.train + layout.test
            missing = [name for name in wanted if name not in members]
            if missing:
                raise DatasetError(f"'{path}' lacks {', '.join(missing)}: the download is "
                                   f"incomplete. Download {layout.archive} again from {CIFAR_URL}.")
            data = {name: archive.extractfile(members[name]).read() for name in wanted}
    except tarfile.TarError as exc:
        raise DatasetError(f"'{path}' is neither a CIFAR folder nor a readable .tar.gz ({exc}). "
                           f"Download the python version from {CIFAR_URL}.") from exc
    return {name: (lambda blob=blob: blob) for name, blob in data.items()}, layout


# --- Writing arrays as pictures ---------------------------------------------------------

def write_images(images: np.ndarray, labels: np.ndarray, indices: Sequence[int], folder: Path,
                 classes: Sequence[str], digits: int = 5,
                 advance: Callable[[int], None] = lambda done: None) -> List[Tuple[str, int]]:
    """Write images[i] for i in indices as folder/<class>/<i>.png; returns (path, label) pairs.
    `advance(n)` is called as each n pictures are written."""
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
    samples = [(str(folder / classes[labels[i]] / f"{i:0{digits}d}.png"), int(labels[i]))
               for i in indices]

    def save(position: int) -> None:
        Image.fromarray(images[indices[position]]).save(samples[position][0], compress_level=1)

    with ThreadPoolExecutor(default_threads()) as pool:
        for _ in pool.map(save, range(len(samples))):
            advance(1)
    return samples


# --- Names kept for scripts written before easycls.datasets ---------------------------

def mnist_style_to_folder(source: Union[str, Path], target: Union[str, Path],
                          classes: Sequence[str], limit: Optional[int] = None) -> Path:
    """Same as easycls.datasets.from_idx(source, target, classes, limit=limit)."""
    from .datasets import from_idx  # datasets.py builds on this module

    return from_idx(source, target, classes=classes, limit=limit)


def fashion_mnist_to_folder(target: Union[str, Path], source: Union[str, Path] = FASHION_MNIST_DIR,
                            limit: Optional[int] = None) -> Path:
    """Same as easycls.datasets.fashion_mnist_to_folder."""
    from .datasets import fashion_mnist_to_folder as convert

    return convert(target, source, limit=limit)
