"""Hostile files: decompression bombs, pipes, odd names. Every path agrees about every file."""
import os
import shutil
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import spec
from easycls import Classifier, ImageError, check_dataset, read_log
from easycls.data.images import load_for_model


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path, width, height, rows=True):
    """A gray PNG of one colour, streamed row by row: a 20000x20000 one is 1.7 MB."""
    compressor, idat = zlib.compressobj(1), []
    if rows:
        row = b"\x00" * (width + 1)
        idat = [compressor.compress(row) for _ in range(height)]
    idat.append(compressor.flush())
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + png_chunk(b"IDAT", b"".join(idat)) + png_chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    return {"big": write_png(folder / "big.png", 20000, 20000),  # 400 megapixels in 1.7 MB
            "header": write_png(folder / "header.png", 40000, 30000, rows=False)}  # 68 bytes


@pytest.mark.parametrize("kind", ["big", "header"])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(bombs, kind):
    started = time.perf_counter()
    with pytest.raises(ImageError, match=r"megapixels\), more than the 179 megapixels easycls "
                                         r"decodes .* PIL.Image.MAX_IMAGE_PIXELS = "):
        load_for_model(bombs[kind], spec(1, 32))
    assert time.perf_counter() - started < 0.5


def test_the_limit_is_pillows_and_can_be_raised(tmp_path, monkeypatch):
    picture = write_png(tmp_path / "p.png", 100, 100)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # refused above 8000
    with pytest.raises(ImageError, match="10000 pixels|100x100 pixels"):
        load_for_model(picture, spec(1, 32))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert load_for_model(picture, spec(1, 32)).shape == (1, 32, 32)


@pytest.fixture
def data_with_a_bomb(hand_data, bombs, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(hand_data, data)
    shutil.copy(bombs["big"], data / "training_set" / "rock" / "zz_bomb.png")
    (data / "val.txt").unlink()  # easycls's own, rewritten from the folders anyway
    return data, data / "training_set" / "rock" / "zz_bomb.png"


@pytest.mark.parametrize("check", ["quick", "full"])
def test_the_doctor_and_training_agree_about_a_bomb(data_with_a_bomb, tmp_path, check):
    data, bomb = data_with_a_bomb
    report = check_dataset(data, check=check, verbose=False)
    assert any("zz_bomb.png" in w and "179 megapixels" in w for w in report.warnings)
    for cache in (True, False):
        model = Classifier("LeNet")
        model.load_dataset(data, check=None)
        model.train(epochs=1, cache=cache, save_fold=tmp_path / f"run_{cache}", verbose=False)
        skipped = [line.get("skipped_files") for line in read_log(tmp_path / f"run_{cache}" / "log.json")]
        assert [str(bomb)] in skipped


def test_folder_inference_gives_the_bomb_an_error_entry(loaded_model, bombs, hand_data, tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    shutil.copy(sorted((hand_data / "test_set" / "rock").glob("*.png"))[0], folder / "a.png")
    shutil.copy(bombs["header"], folder / "b.png")
    results = loaded_model.fast_inference(folder, show=True, save_fold=tmp_path / "out")
    assert "pred_class" in results[0] and "179 megapixels" in results[1]["error"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_pipe_named_like_a_picture_does_not_hang_anything(hand_data, loaded_model, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(hand_data, data)
    os.mkfifo(data / "training_set" / "rock" / "pipe.png")
    os.mkfifo(tmp_path / "direct.png")
    started = time.perf_counter()
    model = Classifier("LeNet")
    model.load_dataset(data)
    model.train(epochs=1, save_fold=tmp_path / "run", verbose=False)
    with pytest.raises(ImageError, match="is not a regular file"):
        loaded_model.fast_inference(str(tmp_path / "direct.png"))
    assert time.perf_counter() - started < 60
    assert all("pipe.png" not in path for path, _ in model.dataset.splits["train"])


def test_every_decoding_path_scales_sixteen_bits_alike(tmp_path):
    array = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(array).save(path)
    from easycls.data.images import array_to_pil, to_model_array

    from_file = load_for_model(path, spec(1, 64))
    from_pil = to_model_array(Image.open(path), spec(1, 64))
    from_array = to_model_array(array_to_pil(array), spec(1, 64))
    assert np.array_equal(from_file, from_pil) and np.array_equal(from_pil, from_array)


def test_a_png_with_an_exif_orientation_is_turned_upright_on_every_path(tmp_path):
    wide = np.zeros((20, 40), np.uint8)
    wide[:, :20] = 255  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "turned.png"
    Image.fromarray(wide).save(path, exif=exif)
    from easycls.data.images import open_image, to_model_array

    from_file = load_for_model(path, spec(1, 40, resize="center-crop"))
    from_pil = to_model_array(open_image(path), spec(1, 40, resize="center-crop"))
    assert np.array_equal(from_file, from_pil)
    assert from_file[0, :10].min() == 255  # the white half is now on top


@pytest.fixture
def small(tmp_path):
    from easycls.data.synthetic import make_hand_gestures

    return make_hand_gestures(tmp_path / "data", train_per_class=4, val_per_class=2,
                              test_per_class=2, size=16)


@pytest.mark.parametrize("name", ["/", "/usr/share", "..", ".", "rock/../paper", "a\\b"])
def test_class_names_that_are_paths_are_refused(small, name):
    from easycls import DatasetError
    from easycls.data.folder import read_dataset

    (small / "classes.txt").write_text(f"paper\nrock\n{name}\n")
    with pytest.raises(DatasetError, match=r"cannot be used: a class name is the name of a "
                                           r"folder inside training_set/"):
        read_dataset(small, notify=lambda _: None)


@pytest.mark.parametrize("line", ["../training_set/rock/rock_0000.png 1", "/etc/hosts 1"])
def test_list_lines_that_leave_their_split_folder_are_refused(small, line):
    from easycls import DatasetError
    from easycls.data.folder import read_dataset

    (small / "test.txt").write_text(f"rock/rock_0000.png 1\n{line}\n")
    with pytest.raises(DatasetError, match=r"line 2: .* points outside test_set/"):
        read_dataset(small, notify=lambda _: None)


def test_picture_links_that_leave_the_data_set_are_errors(small, tmp_path):
    outside = tmp_path / "elsewhere.png"
    Image.new("L", (16, 16), 128).save(outside)
    (small / "training_set" / "rock" / "link.png").symlink_to(outside)
    report = check_dataset(small, verbose=False)
    assert not report.ok and "link.png" in report.errors[0]
    assert "links to files outside" in report.errors[0]


def test_linked_folders_are_followed_once_even_in_a_loop(small):
    from easycls.data.folder import read_dataset

    rock = small / "training_set" / "rock"
    shutil.copytree(rock, small / "more_rock")
    (rock / "extra").symlink_to(small / "more_rock", target_is_directory=True)
    (small / "more_rock" / "loop").symlink_to(rock, target_is_directory=True)
    dataset = read_dataset(small, notify=lambda _: None)
    assert dataset.counts("train") == [4, 8, 4]


@pytest.mark.parametrize("folder", ["rock ", " rock", "ro\nck"])
def test_class_folders_whose_names_would_not_read_back_are_refused(small, folder):
    from easycls import DatasetError
    from easycls.data.folder import read_dataset

    (small / "classes.txt").unlink()
    for split in ("training_set", "val_set", "test_set"):
        (small / split / "rock").rename(small / split / folder)
    for name in ("val.txt", "test.txt"):
        (small / name).unlink()
    with pytest.raises(DatasetError, match="start or end with a space or hold a line break"):
        read_dataset(small, notify=lambda _: None)
    assert not (small / "classes.txt").exists()
