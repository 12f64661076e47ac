"""Bad input never crashes with a foreign error: fuzzed files and arrays, NaN losses, odd paths."""
import io
import shutil

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from easycls import Callback, Classifier, EasyclsError, TrainingError
from conftest import spec
from easycls.data.images import load_for_model

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def encoded(format_, size=(24, 16), mode="RGB"):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), np.uint8)) \
        .convert(mode).save(buffer, format_)
    return buffer.getvalue()


PNG, JPEG = encoded("PNG"), encoded("JPEG")


def check_model_array(array, channels=3, size=20):
    assert array.shape == (channels, size, size) and array.dtype == np.uint8


@FUZZ
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".png", ".jpg", ".bmp", ".gif", ".webp"]))
def test_random_bytes_give_an_image_error_or_a_valid_array(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        check_model_array(load_for_model(path, spec(3, 20)))
    except EasyclsError:
        pass


@FUZZ
@given(original=st.sampled_from([PNG, JPEG]), cut=st.floats(0.0, 1.0),
       flips=st.lists(st.integers(0, 10_000), max_size=4))
def test_truncated_or_damaged_files_give_an_image_error_or_a_valid_array(tmp_path, original, cut, flips):
    data = bytearray(original[: int(len(original) * cut)])
    for position in flips:
        if data:
            data[position % len(data)] ^= 0xFF
    path = tmp_path / ("cut.png" if original is PNG else "cut.jpg")
    path.write_bytes(bytes(data))
    try:
        check_model_array(load_for_model(path, spec(1, 20)), channels=1)
    except EasyclsError:
        pass


@FUZZ
@given(shape=st.lists(st.integers(0, 40), min_size=0, max_size=4),
       dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int64, bool]),
       scale=st.sampled_from([1.0, 255.0, -1.0]))
def test_random_arrays_give_an_image_error_or_a_valid_result(loaded_model, shape, dtype, scale):
    array = (np.random.default_rng(0).random(shape) * scale).astype(dtype)
    try:
        result = loaded_model.fast_inference(array)
    except EasyclsError:
        return
    assert result["pred_class"] in ("paper", "rock", "scissors")
    assert 0.0 <= result["pred_score"] <= 1.0


def test_nan_loss_stops_training_and_keeps_the_best_checkpoint(hand_data, tmp_path):
    class Diverge(Callback):  # the weights turn NaN in epoch 3, after the early epochs
        def on_step_end(self, run, step):  # in which a divergence backs off instead
            if run.epoch == 3 and step == 2:
                with torch.no_grad():
                    for parameter in run.model.parameters():
                        parameter.fill_(float("nan"))

    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    with pytest.raises(TrainingError, match=r"loss became nan .* Try a smaller learning rate"):
        model.train(epochs=4, save_fold=tmp_path, verbose=False, callbacks=[Diverge()])
    best = torch.load(tmp_path / "best_accuracy_top-1.pth", weights_only=True)
    latest = torch.load(tmp_path / "latest.pth", weights_only=True)
    assert latest["meta"]["epoch"] == 2 and best["meta"]["epoch"] in (1, 2)
    assert all(torch.isfinite(v).all() for v in latest["state_dict"].values() if v.is_floating_point())


def test_chinese_folder_and_file_names_with_spaces_work_end_to_end(loaded_model, hand_data, tmp_path):
    folder = tmp_path / "我的 图片"
    folder.mkdir()
    for i, path in enumerate(sorted((hand_data / "test_set" / "rock").glob("*.png"))[:2]):
        shutil.copy(path, folder / f"石头 {i}.png")
    results = loaded_model.fast_inference(str(folder), show=True, save_fold=tmp_path / "结果")
    assert [r["image"] for r in results] == [str(folder / "石头 0.png"), str(folder / "石头 1.png")]
    assert sorted(p.name for p in (tmp_path / "结果").iterdir()) == ["石头 0.png", "石头 1.png"]


@pytest.fixture
def one_broken_file(hand_data, tmp_path):
    """A copy of the hand data whose first training picture of rock is damaged."""
    data = tmp_path / "data"
    shutil.copytree(hand_data, data)
    broken = data / "training_set" / "rock" / "rock_0000.png"
    broken.write_bytes(b"\x89PNG broken")
    return data, broken


def test_a_training_image_that_breaks_is_skipped_and_logged(one_broken_file, tmp_path, capsys):
    data, broken = one_broken_file
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    history = model.train(epochs=1, save_fold=tmp_path / "run", verbose=False)
    assert history[-1]["mode"] == "val"
    assert "skipping 1 unreadable training image" in capsys.readouterr().out
    from easycls import read_log

    assert read_log(tmp_path / "run" / "log.json")[0]["skipped_files"] == [str(broken)]


def test_a_broken_file_is_also_skipped_when_streaming_from_disk(one_broken_file, tmp_path, capsys):
    data, broken = one_broken_file
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    model.train(epochs=2, cache=False, save_fold=tmp_path / "run", verbose=False)
    assert capsys.readouterr().out.count("skipping 1 unreadable training image") == 1
    from easycls import read_log

    warnings = [line for line in read_log(tmp_path / "run" / "log.json") if line.get("mode") == "warning"]
    assert warnings == [{"mode": "warning", "skipped_files": [str(broken)]}]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    from easycls.data.synthetic import make_hand_gestures

    return make_hand_gestures(tmp_path_factory.mktemp("lists") / "data", 3, 2, 0, size=16)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("paperock/_01239 .png\n\t-\\石")), max_size=200))
def test_random_val_txt_gives_a_dataset_error_or_a_valid_split(small_data, text):
    from easycls import DatasetError
    from easycls.data.folder import read_dataset

    (small_data / "val.txt").write_text(text, encoding="utf-8")
    try:
        dataset = read_dataset(small_data, notify=lambda _: None, write_lists=False)
    except DatasetError:
        return
    assert all(0 <= label < 3 for _, label in dataset.splits["val"])


def test_unreadable_validation_files_are_also_reported_when_streaming(hand_data, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(hand_data, data)
    broken = sorted((data / "val_set" / "rock").glob("*.png"))[0]
    broken.write_bytes(b"\x89PNG broken")
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    model.train(epochs=1, cache=False, save_fold=tmp_path / "run", verbose=False)
    assert "skipping 1 unreadable validation image" in capsys.readouterr().out
    from easycls import read_log

    warnings = [line for line in read_log(tmp_path / "run" / "log.json") if line.get("mode") == "warning"]
    assert warnings == [{"mode": "warning", "skipped_files": [str(broken)]}]
