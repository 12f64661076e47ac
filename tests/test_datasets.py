"""easycls.datasets: picture collections, IDX files and CIFAR pickles into the ImageNet layout.

Nothing is downloaded: the tests write tiny files in the real formats.
"""
import gzip
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from easycls import Classifier, DatasetError
from easycls.data.folder import read_dataset
from easycls.datasets import FASHION_MNIST_CLASSES, from_cifar, from_idx, split_dataset

SPLITS = ("training_set", "val_set", "test_set")
COUNTS = {"cat": 10, "dog": 7, "fox": 5}


def draw(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), value).save(path)


def make_collection(root: Path, counts=COUNTS, reverse: bool = False) -> Path:
    """One folder per class; `reverse` creates the files in the opposite order."""
    files = [(name, i) for name, count in counts.items() for i in range(count)]
    for name, i in reversed(files) if reverse else files:
        draw(root / name / f"{name}_{i:02d}.png", 10 * i)
    return root


@pytest.fixture
def collection(tmp_path):
    return make_collection(tmp_path / "pets")


@pytest.fixture
def pair(tmp_path):
    """train/ and test/ with one folder per class, as rps28 is."""
    root = tmp_path / "pair"
    make_collection(root / "train", {"cat": 10, "dog": 10})
    for name in ("cat", "dog"):
        for i in range(3):
            draw(root / "test" / name / f"t{i}.png", 200)
    return root


def placed(dst: Path):
    """{split: {class: sorted file names}} of a written data set."""
    return {split: {cls.name: sorted(f.name for f in cls.iterdir())
                    for cls in sorted((dst / split).iterdir())}
            for split in SPLITS if (dst / split).is_dir()}


def test_every_picture_lands_in_exactly_one_split_under_its_own_name(collection, tmp_path):
    dst = split_dataset(collection, tmp_path / "out")
    written = placed(dst)
    for name, count in COUNTS.items():
        names = [f for split in written.values() for f in split.get(name, [])]
        assert sorted(names) == [f"{name}_{i:02d}.png" for i in range(count)]


def test_the_split_is_stratified_per_class(collection, tmp_path):
    written = placed(split_dataset(collection, tmp_path / "out", val=0.2, test=0.2))
    sizes = {split: {name: len(files) for name, files in classes.items()}
             for split, classes in written.items()}
    assert sizes["val_set"] == sizes["test_set"] == {"cat": 2, "dog": 1, "fox": 1}
    assert sizes["training_set"] == {"cat": 6, "dog": 5, "fox": 3}


def test_the_same_seed_gives_the_same_split_whatever_order_the_files_were_made_in(tmp_path):
    first = split_dataset(make_collection(tmp_path / "a"), tmp_path / "out_a", seed=3)
    second = split_dataset(make_collection(tmp_path / "b", reverse=True), tmp_path / "out_b",
                           seed=3)
    other = split_dataset(make_collection(tmp_path / "c"), tmp_path / "out_c", seed=4)
    assert placed(first) == placed(second)
    assert placed(first) != placed(other)
    assert (first / "val.txt").read_text() == (second / "val.txt").read_text()


def test_the_split_loads_and_its_sizes_match(collection, tmp_path, capsys):
    dst = split_dataset(collection, tmp_path / "out", val=0.2, test=0.1)
    out = capsys.readouterr().out
    assert "training_set 15, val_set 4, test_set 3 pictures" in out
    assert (dst / "classes.txt").read_text().split() == ["cat", "dog", "fox"]
    assert (dst / "val.txt").read_text().splitlines()[0].endswith(" 0")
    dataset = Classifier("LeNet").load_dataset(dst)
    assert dataset.sizes() == {"train": 15, "val": 4, "test": 3}
    assert dataset.counts("val") == [2, 1, 1]
    assert "was missing" not in capsys.readouterr().out  # the lists were all there


def test_pictures_in_sub_folders_keep_their_relative_path(collection, tmp_path):
    draw(collection / "cat" / "more" / "cat_99.png", 99)
    dst = split_dataset(collection, tmp_path / "out", val=0.2, test=0)
    found = [p.relative_to(dst).parts[1:] for p in dst.rglob("cat_99.png")]
    assert found == [("cat", "more", "cat_99.png")]
    assert not (dst / "test_set").exists() and not (dst / "test.txt").exists()


def test_a_train_and_test_pair_keeps_its_test_pictures_as_test_set(pair, tmp_path, capsys):
    dst = split_dataset(pair, tmp_path / "out", val=0.2, test=0.1)
    written = placed(dst)
    assert written["test_set"] == {"cat": ["t0.png", "t1.png", "t2.png"],
                                   "dog": ["t0.png", "t1.png", "t2.png"]}
    assert {name: len(files) for name, files in written["val_set"].items()} == {"cat": 2, "dog": 2}
    assert "test_set is the source's test/ as it was" in capsys.readouterr().out
    dataset = Classifier("LeNet").load_dataset(dst)
    assert dataset.sizes() == {"train": 16, "val": 4, "test": 6}


def test_link_mode_makes_hard_links_that_load(collection, tmp_path):
    dst = split_dataset(collection, tmp_path / "out", mode="link")
    linked = next((dst / "training_set" / "cat").iterdir())
    assert os.path.samefile(linked, collection / "cat" / linked.name)
    assert not linked.is_symlink()  # load_dataset refuses links leaving the data set
    assert Classifier("LeNet").load_dataset(dst).sizes()["train"] == 15


def test_link_mode_copies_where_the_file_system_allows_no_links(collection, tmp_path,
                                                                 monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    dst = split_dataset(collection, tmp_path / "out", mode="link")
    assert "22 file(s) could not be hard-linked (Operation not permitted); copied them" in \
        capsys.readouterr().out
    copied = next((dst / "training_set" / "cat").iterdir())
    assert not os.path.samefile(copied, collection / "cat" / copied.name)


def test_a_destination_that_holds_a_data_set_is_not_written_over(collection, tmp_path):
    dst = split_dataset(collection, tmp_path / "out")
    with pytest.raises(DatasetError, match="already holds a data set .*classes.txt.*training_set"):
        split_dataset(collection, dst)


def test_a_destination_that_is_not_empty_is_refused(collection, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.doc").write_text("mine")
    with pytest.raises(DatasetError, match=r"is not empty \(it holds notes.doc\)"):
        split_dataset(collection, tmp_path / "out")


def test_an_empty_destination_folder_is_filled(collection, tmp_path):
    (tmp_path / "out").mkdir()
    assert (split_dataset(collection, tmp_path / "out") / "classes.txt").is_file()


def test_a_destination_inside_the_source_is_refused(collection):
    with pytest.raises(DatasetError, match="is inside the source"):
        split_dataset(collection, collection / "split")


@pytest.mark.parametrize("val, test, words", [
    (-0.1, 0.1, "val=-0.1 is negative"),
    (0.2, -1, "test=-1 is negative"),
    (0.6, 0.4, "add up to 1, which leaves no pictures for training"),
    (0.9, 0.3, "add up to 1.2"),
    ("0.2", 0.1, "val='0.2' is not a fraction"),
    (0, 0.1, "val=0 leaves no validation set"),
])
def test_fractions_that_leave_no_training_or_no_validation_are_refused(collection, tmp_path, val,
                                                                       test, words):
    with pytest.raises(DatasetError, match=words):
        split_dataset(collection, tmp_path / "out", val=val, test=test)
    assert not (tmp_path / "out").exists()


def test_a_class_too_small_for_every_split_is_named_in_a_warning(tmp_path, capsys):
    source = make_collection(tmp_path / "few", {"cat": 10, "dog": 2})
    dst = split_dataset(source, tmp_path / "out", val=0.2, test=0.1)
    out = capsys.readouterr().out
    assert ("class 'dog' has only 2 (training) picture(s), too few to give every split one: "
            "1 for training_set, 1 for val_set, none for test_set") in out
    assert "'cat'" not in out
    assert {name: len(files) for name, files in placed(dst)["test_set"].items()} == {"cat": 1}


def test_a_failed_split_leaves_no_half_written_data_set(collection, tmp_path, monkeypatch):
    import shutil

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    with pytest.raises(OSError, match="No space left"):
        split_dataset(collection, tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["pets"]


def test_a_source_that_is_missing_or_has_one_class_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="Source folder .*nowhere' does not exist"):
        split_dataset(tmp_path / "nowhere", tmp_path / "out")
    one = make_collection(tmp_path / "one", {"cat": 4})
    with pytest.raises(DatasetError, match=r"fewer than two classes \(cat\)"):
        split_dataset(one, tmp_path / "out")


def test_a_test_folder_without_train_is_explained(tmp_path):
    make_collection(tmp_path / "src" / "test")
    with pytest.raises(DatasetError, match="has test/ but no train/ folder"):
        split_dataset(tmp_path / "src", tmp_path / "out")


def test_a_test_class_missing_from_train_is_explained(pair, tmp_path):
    draw(pair / "test" / "cow" / "c.png", 1)
    with pytest.raises(DatasetError, match=r"folder\(s\) 'cow' that are not classes"):
        split_dataset(pair, tmp_path / "out")


def test_rps28_splits_into_a_loadable_data_set(tmp_path):
    rps28 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "rps28"
    if not rps28.is_dir():
        pytest.skip("the rps28 data set (../shared/datasets/rps28) is not on this machine")
    dataset = read_dataset(split_dataset(rps28, tmp_path / "rps", mode="link"),
                           notify=lambda _: None)
    assert dataset.sizes() == {"train": 2016, "val": 504, "test": 372}


# --- IDX files ---------------------------------------------------------------------------

def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.with_name(path.name + (".gz" if gz else "")).write_bytes(gzip.compress(data) if gz
                                                                  else data)


def make_idx(folder: Path, gz: bool, train: int = 30, t10k: int = 9) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", t10k)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 255, (count, 28, 28)), gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(count) % 3, gz)
    return folder


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_idx_files_become_a_data_set_with_t10k_as_val_set(tmp_path, gz, capsys):
    dst = from_idx(make_idx(tmp_path / "idx", gz), tmp_path / "out", classes=["a", "b", "c"])
    assert "training_set 30, val_set 9 pictures; val_set is the t10k" in capsys.readouterr().out
    dataset = Classifier("LeNet").load_dataset(dst)
    assert dataset.classes == ["a", "b", "c"]
    assert dataset.sizes() == {"train": 30, "val": 9}
    first = np.asarray(Image.open(dst / "training_set" / "a" / "00000.png"))
    assert first.shape == (28, 28) and first.dtype == np.uint8


def test_idx_with_a_val_fraction_keeps_t10k_as_test_set(tmp_path):
    dst = from_idx(make_idx(tmp_path / "idx", gz=True), tmp_path / "out", val=0.2, seed=1)
    dataset = read_dataset(dst, notify=lambda _: None)
    assert dataset.classes == ["0", "1", "2"]
    assert dataset.sizes() == {"train": 24, "val": 6, "test": 9}
    assert dataset.counts("val") == [2, 2, 2]


def test_idx_files_spelt_with_a_dot_are_found(tmp_path):
    folder = make_idx(tmp_path / "idx", gz=False)
    for old in folder.iterdir():  # train-images-idx3-ubyte -> train-images.idx3-ubyte
        old.rename(folder / old.name.replace("s-idx", "s.idx"))
    assert read_dataset(from_idx(folder, tmp_path / "out"), notify=lambda _: None).sizes() == \
        {"train": 30, "val": 9}


def test_idx_labels_beyond_the_class_names_are_explained(tmp_path):
    with pytest.raises(DatasetError, match=r"has labels 0..2, but 2 class names were given"):
        from_idx(make_idx(tmp_path / "idx", gz=True), tmp_path / "out", classes=["a", "b"])
    assert not (tmp_path / "out").exists()


def test_fashion_mnist_names_its_classes(tmp_path):
    dst = from_idx(make_idx(tmp_path / "idx", gz=True), tmp_path / "out",
                   classes=FASHION_MNIST_CLASSES, limit=12)
    dataset = read_dataset(dst, notify=lambda _: None)
    assert dataset.classes[:3] == ["T-shirt_top", "Trouser", "Pullover"]
    assert dataset.sizes() == {"train": 12, "val": 9}


# --- CIFAR python pickles -----------------------------------------------------------------

def cifar_rows(count: int) -> np.ndarray:
    """Rows as CIFAR stores them: 1024 red values, 1024 green, 1024 blue; picture i is a
    flat colour (red 10*i, green 1, blue 2) with pixel (0, 1) white."""
    pictures = np.zeros((count, 3, 32, 32), np.uint8)
    pictures[:, 0] = (10 * np.arange(count))[:, None, None]
    pictures[:, 1], pictures[:, 2] = 1, 2
    pictures[:, :, 0, 1] = 255
    return pictures.reshape(count, 3072)


def numpy1_style(data: bytes) -> bytes:
    """A protocol-2 pickle naming numpy.core.multiarray, as the downloaded files and numpy 1 do."""
    return data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def make_cifar10(folder: Path, per_batch: int = 3) -> Path:
    folder.mkdir(parents=True)
    names = [b"airplane", b"automobile", b"bird"]
    meta = {b"label_names": names, b"num_cases_per_batch": per_batch, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(numpy1_style(pickle.dumps(meta, protocol=2)))
    for batch in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        content = {b"batch_label": batch.encode(), b"labels": [i % 3 for i in range(per_batch)],
                   b"data": cifar_rows(per_batch),
                   b"filenames": [f"x_{i}.png".encode() for i in range(per_batch)]}
        (folder / batch).write_bytes(numpy1_style(pickle.dumps(content, protocol=2)))
    return folder


def make_cifar100(folder: Path, train: int = 8, test: int = 4) -> Path:
    folder.mkdir(parents=True)
    meta = {b"fine_label_names": [b"apple", b"aquarium_fish", b"baby", b"bear"],
            b"coarse_label_names": [b"fruit", b"fish"]}
    (folder / "meta").write_bytes(pickle.dumps(meta))
    for name, count in (("train", train), ("test", test)):
        content = {b"filenames": [b"f.png"] * count, b"batch_label": name.encode(),
                   b"fine_labels": [i % 4 for i in range(count)],
                   b"coarse_labels": [i % 2 for i in range(count)], b"data": cifar_rows(count)}
        (folder / name).write_bytes(pickle.dumps(content))
    return folder


def test_cifar10_batches_become_a_data_set_with_its_label_names(tmp_path):
    folder = make_cifar10(tmp_path / "cifar-10-batches-py")
    assert b"cnumpy.core.multiarray\n_reconstruct" in (folder / "data_batch_1").read_bytes()
    dst = from_cifar(folder, tmp_path / "out")
    dataset = Classifier("LeNet").load_dataset(dst)
    assert dataset.classes == ["airplane", "automobile", "bird"]
    assert dataset.sizes() == {"train": 15, "val": 3}
    picture = np.asarray(Image.open(dst / "training_set" / "bird" / "00002.png"))
    assert picture.shape == (32, 32, 3)
    assert picture[5, 5].tolist() == [20, 1, 2] and picture[0, 1].tolist() == [255] * 3


def test_cifar100_uses_its_fine_labels_and_a_val_fraction_keeps_the_test_batch(tmp_path):
    dst = from_cifar(make_cifar100(tmp_path / "cifar-100-python"), tmp_path / "out", val=0.25)
    dataset = read_dataset(dst, notify=lambda _: None)
    assert dataset.classes == ["apple", "aquarium_fish", "baby", "bear"]
    assert dataset.sizes() == {"train": 4, "val": 4, "test": 4}


def test_the_downloaded_cifar_archive_is_read_without_unpacking(tmp_path):
    make_cifar10(tmp_path / "cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    dst = from_cifar(archive, tmp_path / "out", limit=4)
    assert read_dataset(dst, notify=lambda _: None).sizes() == {"train": 4, "val": 3}


class RunsACommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def test_a_pickle_that_would_run_a_program_is_refused_without_running_it(tmp_path):
    folder = make_cifar10(tmp_path / "cifar-10-batches-py")
    marker = tmp_path / "it_ran"
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": RunsACommand(marker)}))
    assert not marker.exists()
    with pytest.raises(DatasetError, match=r"data_batch_1' is not a plain CIFAR file: it asks to "
                                           r"load (posix|nt)\.system.*easycls refused it and ran "
                                           r"nothing"):
        from_cifar(folder, tmp_path / "out")
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_folder_that_is_not_cifar_says_what_is_expected(tmp_path):
    (tmp_path / "cifar").mkdir()
    with pytest.raises(DatasetError, match="is not a CIFAR folder. Expected the python version"):
        from_cifar(tmp_path / "cifar", tmp_path / "out")
    broken = make_cifar10(tmp_path / "broken" / "cifar-10-batches-py")
    (broken / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="test_batch' is not a readable CIFAR pickle"):
        from_cifar(tmp_path / "broken", tmp_path / "out")


def test_a_cifar_file_with_wrong_contents_is_explained(tmp_path):
    folder = make_cifar10(tmp_path / "cifar-10-batches-py")
    content = {b"labels": [0], b"data": np.zeros((1, 100), np.uint8)}
    (folder / "data_batch_3").write_bytes(pickle.dumps(content))
    with pytest.raises(DatasetError, match=r"data holds uint8 of shape \(1, 100\); expected uint8 "
                                           r"rows of 3072 values"):
        from_cifar(folder, tmp_path / "out")


def test_the_restricted_unpickler_still_reads_plain_values():
    from easycls.data.convert import load_pickle_safely

    content = {b"a": [1, 2.5, "x", b"y", (None, True)], "b": np.arange(3, dtype=np.int32)}
    for protocol in (2, 4, 5):
        loaded = load_pickle_safely(io.BytesIO(pickle.dumps(content, protocol)).read(), "t")
        assert loaded["a"] == [1, 2.5, "x", b"y", (None, True)]
        assert loaded["b"].tolist() == [0, 1, 2]
