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


def test_a_bomb_in_a_format_only_pillow_reads_gets_the_same_message(tmp_path):
    import io

    small = io.BytesIO()
    Image.new("L", (10, 10)).save(small, "GIF")
    data = bytearray(small.getvalue())
    data[6:10] = struct.pack("<HH", 60000, 50000)  # its screen now claims 3 gigapixels
    gif = tmp_path / "huge.gif"
    gif.write_bytes(bytes(data))
    with pytest.raises(ImageError, match=r"is 3,000,000,000 pixels \(3000 megapixels\), more than "
                                         r"the 179 megapixels easycls decodes"):
        load_for_model(gif, spec(1, 32))


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
def test_the_doctor_and_training_agree_about_a_bomb(data_with_a_bomb, tmp_path, check, capsys):
    data, bomb = data_with_a_bomb
    report = check_dataset(data, check=check, verbose=False)
    assert any("zz_bomb.png" in w and "179 megapixels" in w for w in report.warnings)
    for cache in (True, False):
        model = Classifier("LeNet")
        model.load_dataset(data, check=None)
        capsys.readouterr()
        model.train(epochs=1, cache=cache, save_fold=tmp_path / f"run_{cache}", verbose=False)
        skipped = [line.get("skipped_files") for line in read_log(tmp_path / f"run_{cache}" / "log.json")]
        assert [str(bomb)] in skipped
        assert "179 megapixels" in capsys.readouterr().out  # the reason, streamed or cached


def test_folder_inference_gives_the_bomb_an_error_entry(loaded_model, bombs, hand_data, tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    shutil.copy(sorted((hand_data / "test_set" / "rock").glob("*.png"))[0], folder / "a.png")
    shutil.copy(bombs["header"], folder / "b.png")
    results = loaded_model.fast_inference(folder, show=True, save_fold=tmp_path / "out")
    assert "pred_class" in results[0] and "179 megapixels" in results[1]["error"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_pipe_named_like_a_picture_does_not_hang_anything(hand_data, loaded_model, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(hand_data, data)
    os.mkfifo(data / "training_set" / "rock" / "pipe.png")
    os.mkfifo(tmp_path / "direct.png")
    started = time.perf_counter()
    model = Classifier("LeNet")
    model.load_dataset(data)
    assert "are not regular files (pipes, devices or broken links) and are skipped: " \
           f"{data / 'training_set' / 'rock' / 'pipe.png'}" in capsys.readouterr().out
    model.train(epochs=1, save_fold=tmp_path / "run", verbose=False)
    with pytest.raises(ImageError, match="is not a regular file"):
        loaded_model.fast_inference(str(tmp_path / "direct.png"))
    results = loaded_model.fast_inference(data / "training_set" / "rock")
    assert len(results) == 60
    assert "named like pictures that are not regular files (pipes, devices or broken links): " \
           "pipe.png." in capsys.readouterr().out
    assert time.perf_counter() - started < 60
    assert all("pipe.png" not in path for path, _ in model.dataset.splits["train"])


@pytest.mark.parametrize("brightest", [65535, 255])  # a full-range and a very dark picture
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_every_decoding_path_scales_sixteen_bits_alike(tmp_path, brightest, suffix):
    array = (np.arange(64 * 64, dtype=np.float64).reshape(64, 64) / 4095 * brightest).astype(np.uint16)
    path = tmp_path / f"deep{suffix}"
    Image.fromarray(array).save(path)
    from easycls.data.images import array_to_pil, to_model_array

    from_file = load_for_model(path, spec(1, 64))
    from_pil = to_model_array(Image.open(path), spec(1, 64))
    from_array = to_model_array(array_to_pil(array), spec(1, 64))
    assert np.array_equal(from_file, from_pil) and np.array_equal(from_pil, from_array)
    assert from_file.max() == round(brightest / 257)


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
    refused = r"cannot be used: a class name is the name of a folder inside training_set/"
    with pytest.raises(DatasetError, match=refused):
        read_dataset(small, notify=lambda _: None)
    for check in ("quick", "full"):  # the doctor collects problems: it must not walk '/' either
        with pytest.raises(DatasetError, match=refused):
            Classifier("LeNet").load_dataset(small, check=check)


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


def test_pictures_whose_names_hold_a_line_break_are_skipped_and_named(small):
    from easycls.data.folder import read_dataset

    picture = sorted((small / "val_set" / "rock").glob("*.png"))[0]
    picture.rename(picture.with_name("two\nlines.png"))
    (small / "val.txt").unlink()
    notes = []
    dataset = read_dataset(small, notify=notes.append)
    assert any("line break or another control character in their file name" in n and
               "two\\nlines.png" in n for n in notes)
    assert len(dataset.splits["val"]) == 5
    lines = (small / "val.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5 and all(line.rsplit(" ", 1)[1].isdigit() for line in lines)
    assert read_dataset(small, notify=lambda _: None).splits["val"] == dataset.splits["val"]


def write_lock(folder, pid, host=None):
    import json
    import socket

    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".easycls_run.lock").write_text(json.dumps(
        {"pid": pid, "host": host or socket.gethostname(), "started": "2026-11-22 10:00:00"}))


def quick_train(data, folder, **kwargs):
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    return model.train(epochs=kwargs.pop("epochs", 1), save_fold=folder, verbose=False, **kwargs)


def test_a_second_run_into_a_folder_in_use_is_refused_and_touches_nothing(hand_data, tmp_path):
    import subprocess
    import sys

    from easycls import TrainingError

    quick_train(hand_data, tmp_path / "run")
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(tmp_path / "run", running.pid)
        before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir()}
        with pytest.raises(TrainingError, match=rf"is in use by another training run \(process "
                                                rf"{running.pid} on this computer, started "):
            quick_train(hand_data, tmp_path / "run")
    finally:
        running.kill()
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir()} == before


def test_a_lock_from_another_computer_is_respected(hand_data, tmp_path):
    from easycls import TrainingError

    write_lock(tmp_path / "run", 12345, host="lab-pc-07")
    with pytest.raises(TrainingError, match="process 12345 on the computer lab-pc-07"):
        quick_train(hand_data, tmp_path / "run")


def test_a_lock_left_by_a_dead_run_is_taken_over_with_a_note(hand_data, tmp_path, capsys):
    import subprocess
    import sys

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    write_lock(tmp_path / "run", int(finished.stdout))
    (tmp_path / "run" / ".latest.pth.999999.tmp").write_bytes(b"half a checkpoint")
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    model.train(epochs=1, save_fold=tmp_path / "run")
    out = capsys.readouterr().out
    assert "took over" in out and "Removed 1 half-written file(s)" in out
    assert not list((tmp_path / "run").glob(".*"))  # lock released, leftovers gone


CLAIM_ONCE = """
import sys, time
from easycls.engine import run_folder
from easycls.engine.run_folder import claimed
from easycls.errors import TrainingError

def slow_fdopen(*args, _fdopen=run_folder.os.fdopen, **kwargs):  # a slow disk: the lock
    time.sleep(0.3)                                             # stays empty a moment
    return _fdopen(*args, **kwargs)

run_folder.os.fdopen = slow_fdopen
while time.time() < float(sys.argv[2]):  # start together
    pass
try:
    with claimed(sys.argv[1]):
        print("claimed", flush=True)
        time.sleep(1.5)
except TrainingError:
    print("refused")
"""


def test_runs_started_at_the_same_moment_claim_the_folder_once(tmp_path):
    import subprocess
    import sys

    start = time.time() + 3  # after every interpreter has imported easycls
    runs = [subprocess.Popen([sys.executable, "-c", CLAIM_ONCE, str(tmp_path / "run"), str(start)],
                             stdout=subprocess.PIPE, text=True) for _ in range(4)]
    said = [run.communicate(timeout=60)[0].strip() for run in runs]
    assert sorted(said) == ["claimed", "refused", "refused", "refused"]


def test_a_full_disk_while_claiming_leaves_no_empty_lock(tmp_path, monkeypatch):
    import errno

    from easycls import TrainingError
    from easycls.engine import run_folder

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(run_folder.json, "dumps", full)
    with pytest.raises(TrainingError, match=r"Cannot write into save_fold .* \(No space left on device\)"):
        with run_folder.claimed(tmp_path / "run"):
            pass
    assert not (tmp_path / "run" / run_folder.LOCK_FILE).exists()


def test_a_save_fold_that_cannot_be_written_is_refused_before_any_decoding(hand_data, tmp_path, monkeypatch):
    import errno

    from easycls import TrainingError
    from easycls.engine import run_folder, training_data

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    decoded = []
    monkeypatch.setattr(training_data, "make_batches", lambda *a, **k: decoded.append(1))
    monkeypatch.setattr(run_folder.os, "open", read_only)
    with pytest.raises(TrainingError, match=r"Cannot write into save_fold .* \(Read-only file "
                                            r"system\).* Choose a folder you may write to"):
        quick_train(hand_data, tmp_path / "run")
    monkeypatch.undo()
    (tmp_path / "file").write_text("x")
    with pytest.raises(TrainingError, match=r"Cannot write into save_fold .*file/run"):
        quick_train(hand_data, tmp_path / "file" / "run")
    assert decoded == []


def test_a_full_disk_stops_training_and_keeps_what_was_saved(hand_data, tmp_path, monkeypatch):
    import torch

    from easycls import TrainingError
    from easycls.engine import checkpoint

    real_save, calls = torch.save, {"n": 0}

    def full_disk_after_epoch_1(obj, path, *args, **kwargs):
        calls["n"] += 1
        if obj["meta"]["epoch"] >= 2:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", full_disk_after_epoch_1)
    with pytest.raises(TrainingError, match=r"Could not write '.*' \(\[enforce fail at "
                                            r"inline_container.cc:672\].*\); the disk may be "
                                            r"full. Nothing already saved was lost"):
        quick_train(hand_data, tmp_path / "run", epochs=3)
    monkeypatch.undo()
    latest = torch.load(tmp_path / "run" / "latest.pth", weights_only=True)
    assert latest["meta"]["epoch"] == 1 and not list((tmp_path / "run").glob(".*tmp"))


def test_a_log_that_cannot_be_written_is_explained(hand_data, tmp_path, monkeypatch):
    import errno

    from easycls import TrainingError
    from easycls.engine.log_json import LogWriter

    def no_space(self, record, sync=False):
        self.path.touch()  # opened for appending, then nothing could be written
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LogWriter, "write", no_space)
    with pytest.raises(TrainingError, match=r"log.json' \(No space left on device\); the disk "
                                            r"may be full. No checkpoint had been saved yet, so "
                                            r"there is nothing to resume"):
        quick_train(hand_data, tmp_path / "run")
    assert not (tmp_path / "run" / "log.json").exists()  # no empty log left behind


def test_the_memory_budget_counts_free_memory_a_container_and_the_process_limit(monkeypatch):
    from easycls.data import cache

    monkeypatch.setattr(cache, "_available_memory", lambda: 16 * 2**30)
    monkeypatch.setattr(cache, "_container_room", lambda: 3 * 2**30)
    monkeypatch.setattr(cache, "_process_room", lambda: None)
    assert cache.memory_budget() == 3 * 2**30 // 2
    monkeypatch.setattr(cache, "_process_room", lambda: 2**30)
    assert cache.memory_budget() == 2**29


def test_memory_that_cannot_be_had_falls_back_to_reading_files(hand_data, tmp_path, monkeypatch, capsys):
    from easycls.data import cache

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cache.np, "empty", no_memory)
    history = quick_train(hand_data, tmp_path / "run", cache=True)
    assert history[-1]["mode"] == "val" and read_log(tmp_path / "run" / "log.json")[0]["cached"] is False
    assert "not enough memory to hold the training images" in capsys.readouterr().out


def test_an_unreadable_file_does_not_copy_the_decoded_images(hand_data, tmp_path):
    import tracemalloc

    from easycls.data.cache import decode_split

    samples = [(str(p), 0) for p in sorted((hand_data / "training_set").rglob("*.png"))][:150]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    samples = samples[:5] + [(str(broken), 0)] + samples[5:]
    decode_split(samples[:2], spec(3, 96), threads=1)  # imports and decoder set-up, once
    tracemalloc.start()
    split = decode_split(samples, spec(3, 96), threads=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    cache_bytes = len(samples) * 3 * 96 * 96
    assert len(split) == 150 and split.positions.tolist() == [0, 1, 2, 3, 4] + list(range(6, 151))
    assert peak < 1.3 * cache_bytes  # the gap is closed in place, not by a second copy
    assert np.array_equal(split.images[5].numpy(), load_for_model(samples[6][0], spec(3, 96)))


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, b"just some text\n" * 20, b""])
def test_a_pth_file_that_is_not_a_checkpoint_is_explained(tmp_path, content):
    from easycls import CheckpointError

    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="is not a readable PyTorch checkpoint") as error:
        Classifier("LeNet").load_checkpoint(path)
    assert not str(error.value).rstrip(".").split()[-1].isdigit()  # no raw byte value at the end
