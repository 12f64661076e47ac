"""The IDX (MNIST-format) converter under its first names (easycls.data.convert), and what
`import easycls` costs. The converters themselves are tested in test_datasets.py."""
import gzip
import subprocess
import sys

import numpy as np
import pytest

from easycls import DatasetError
from easycls.data.convert import mnist_style_to_folder, read_idx
from easycls.data.folder import read_dataset


def write_idx(path, array, gz=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.fixture
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 30), ("t10k", 9)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 255, (count, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 3)
    return tmp_path


def test_idx_files_become_an_imagenet_style_folder(idx_folder, tmp_path):
    target = mnist_style_to_folder(idx_folder, tmp_path / "out", ["a", "b", "c"])
    dataset = read_dataset(target, notify=lambda _: None)
    assert dataset.classes == ["a", "b", "c"]
    assert dataset.sizes() == {"train": 30, "val": 9}
    assert dataset.counts("val") == [3, 3, 3]


def test_a_truncated_idx_file_is_explained(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    write_idx(path, np.zeros((4, 2, 2)), gz=False)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DatasetError, match=r"is truncated: its header promises shape \(4, 2, 2\)"):
        read_idx(path)


def test_missing_idx_files_say_how_to_get_fashion_mnist(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        mnist_style_to_folder(tmp_path, tmp_path / "out", ["a"])


def test_the_fashion_mnist_spelling_of_the_readme_still_converts(idx_folder, tmp_path):
    from easycls.data.convert import fashion_mnist_to_folder

    target = fashion_mnist_to_folder(tmp_path / "fashion", source=idx_folder, limit=6)
    dataset = read_dataset(target, notify=lambda _: None)
    assert dataset.classes[:3] == ["T-shirt_top", "Trouser", "Pullover"]
    assert dataset.sizes() == {"train": 6, "val": 6}


def test_import_does_not_load_matplotlib_or_opencv():
    code = "import sys, easycls; print(sorted(m for m in ('matplotlib', 'cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
