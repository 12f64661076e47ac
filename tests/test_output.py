"""What a person reads: plain lines per epoch anywhere, live bars only where they can redraw."""
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from conftest import spec
from easycls import Classifier, log
from easycls.data.cache import decode_split

SCRIPT = textwrap.dedent("""
    import sys
    from easycls import Classifier
    model = Classifier("LeNet")
    model.load_dataset(sys.argv[1], check=None)
    model.train(epochs=3, save_fold=sys.argv[2])
""")


def test_training_redirected_to_a_file_gives_one_plain_line_per_epoch(hand_data, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    with open(tmp_path / "log.txt", "w") as out:
        subprocess.run([sys.executable, str(script), str(hand_data), str(tmp_path / "run")],
                       stdout=out, stderr=subprocess.STDOUT, check=True, timeout=300)
    text = (tmp_path / "log.txt").read_text()
    assert "\r" not in text and "Warning" not in text and "%|" not in text
    epochs = [line for line in text.splitlines() if line.startswith("Epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all(re.fullmatch(r"Epoch \d/3: loss \d\.\d{4}, lr [\d.e-]+, val top-1 \d+\.\d\d%, "
                            r"[\d.]+ s", line) for line in epochs), epochs


def test_with_more_than_five_classes_the_epoch_line_has_top5(six_class_data, tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(six_class_data, check=None)
    model.train(epochs=1, save_fold=tmp_path)
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch 1/1"))
    assert re.search(r"val top-1 \d+\.\d\d%, val top-5 \d+\.\d\d%, ", line), line


def test_a_notebook_without_widgets_gets_text_and_no_warning(hand_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(log, "in_notebook", lambda: True)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails, as when not installed
    assert log.live_bar_class() is None
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.train(epochs=2, save_fold=tmp_path)
    assert not [w for w in caught if "Tqdm" in type(w.message).__name__]
    captured = capsys.readouterr()
    assert captured.out.count("Epoch ") == 2 and captured.err == ""


def test_a_terminal_gets_a_live_bar(monkeypatch):
    monkeypatch.setattr(log, "in_notebook", lambda: False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert log.live_bar_class().__module__ == "tqdm.std"


def test_reading_a_large_data_set_into_memory_says_so(hand_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(log, "SHOW_PROGRESS_FROM", 100)
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    model.train(epochs=1, save_fold=tmp_path)
    out = capsys.readouterr().out
    assert "Reading the training images into memory: 180 images ..." in out
    assert "Reading the training images into memory: 180 images in " in out
    assert "validation images" not in out  # 36 images: too quick to report


def test_ctrl_c_while_reading_images_stops_the_threads_with_a_plain_message(hand_data):
    samples = [(str(path), 0) for path in sorted((hand_data / "training_set").rglob("*.png"))]

    def interrupted(count):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match=r"Stopped while reading the training images "
                                                r"\(\d+ of 180 decoded\): nothing was trained"):
        decode_split(samples, spec(1, 32), threads=2, progress=interrupted,
                     what="the training images")


def test_opencvs_own_error_lines_are_silenced_and_its_level_restored(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    code = textwrap.dedent(f"""
        import cv2
        from easycls.data.images import load_for_model
        from easycls.data.input_spec import InputSpec
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_WARNING)
        try:
            load_for_model({str(bad)!r}, InputSpec(32, 1, (0.5,), (0.5,)))
        except Exception as exc:
            print(type(exc).__name__)
        print(cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_WARNING)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["ImageError", "True"]
    assert "[ERROR" not in done.stderr and "grfmt" not in done.stderr


def test_an_epoch_without_validation_still_gets_its_line(hand_data, tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    model.train(epochs=1, validate=False, save_fold=tmp_path)
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch 1/1")][0]
    assert " loss " in line and "val" not in line and np.isfinite(float(line.split("loss ")[1].split(",")[0]))
