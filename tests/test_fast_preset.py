"""FastNet, the small-picture preset: in sota(), its recipe and input size chosen from the data,
and a default number of epochs chosen from the data size."""
import json

import pytest
import torch

from easycls import BackboneError, Classifier
from easycls.engine.options import Context, resolve_recipe
from easycls.models import create_model, get_spec


def recipe_for(backbone, train_size=1000, side=28, given=None):
    context = Context(get_spec(backbone), 10, train_size, data_is_gray=True, data_side=side)
    return resolve_recipe(context, dict(given or {}))


def test_fastnet_is_offered_and_lenet_stays_the_first_backbone():
    assert "FastNet" in Classifier.sota() and Classifier.sota()[0] == "LeNet"
    assert Classifier("resnet9s").backbone == "FastNet"


@pytest.mark.parametrize("side, size", [(28, 32), (8, 32), (40, 40), (500, 64)])
def test_fastnet_takes_the_pictures_median_side_within_its_bounds(side, size):
    recipe = recipe_for("FastNet", side=side)
    assert recipe.image_size == size
    assert f"median side of your images is {side} px; FastNet takes 32 to 64" in recipe.reasons["image_size"]


def test_fastnet_recipe_is_printed_as_its_own_defaults():
    printed = recipe_for("FastNet", train_size=10000).describe()
    assert "label_smoothing = 0.1  (FastNet default)" in printed
    assert "batch_size      = 128  (FastNet default)" in printed
    assert "image_size      = 32  (the median side of your images is 28 px" in printed


def test_lenet_keeps_its_classroom_input_size_and_recipe():
    recipe = recipe_for("LeNet")
    assert (recipe.image_size, recipe.batch_size, recipe.lr, recipe.label_smoothing) == (32, 64, 0.05, 0.0)


@pytest.mark.parametrize("side", [16, 23, 64])
def test_fastnet_gives_one_score_per_class_at_any_size_it_takes(side):
    for channels in (1, 3):
        scores = create_model("FastNet", 5, channels).eval()(torch.zeros(2, channels, side, side))
        assert scores.shape == (2, 5)


def test_fastnet_has_no_pretrained_weights_and_says_what_to_do():
    with pytest.raises(BackboneError, match="FastNet has no pretrained weights.*from scratch"):
        create_model("FastNet", 3, 1, pretrained=True)


@pytest.mark.parametrize("train_size, epochs", [(60, 100), (180, 56), (1000, 10), (60000, 10)])
def test_unset_epochs_follow_the_data_size_within_10_to_100(train_size, epochs):
    recipe = recipe_for("LeNet", train_size=train_size)
    assert recipe.epochs == epochs
    assert f"your {train_size} training images" in recipe.reasons["epochs"]
    assert "at least 10, at most 100" in recipe.reasons["epochs"]


def test_given_epochs_are_kept_as_given():
    recipe = recipe_for("LeNet", train_size=180, given={"epochs": 3})
    assert recipe.epochs == 3 and "epochs" not in recipe.reasons


@pytest.mark.parametrize("native_bf16, precision", [
    (True, "cpu: bfloat16 mixed precision, channels_last"),
    (False, "cpu: float32, channels_last")])
def test_fastnet_trains_in_channels_last_on_a_cpu_and_saves_weights_any_network_loads(
        tmp_path, monkeypatch, native_bf16, precision):
    from easycls.data.synthetic import make_hand_gestures
    from easycls.engine import accel
    from easycls.engine.checkpoint import read_checkpoint

    monkeypatch.setattr(accel, "cpu_has_native_bf16", lambda: native_bf16)
    data = make_hand_gestures(tmp_path / "data", train_per_class=8, val_per_class=4,
                              test_per_class=0, size=32, seed=1)
    model = Classifier("FastNet")
    model.load_dataset(data)
    model.train(epochs=1, save_fold=tmp_path / "run", verbose=False)
    header = json.loads((tmp_path / "run" / "log.json").read_text().splitlines()[0])
    assert header["precision"] == precision
    plain = create_model("FastNet", 3, 1).eval()
    plain.load_state_dict(read_checkpoint(tmp_path / "run" / "latest.pth").state_dict)
    pictures = torch.rand(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(plain(pictures), model.net.eval()(pictures), atol=1e-5)


def test_cpu_mixed_precision_is_for_training_only_and_only_where_the_cpu_has_bf16(monkeypatch):
    from easycls.engine import accel

    cpu = torch.device("cpu")
    monkeypatch.setattr(accel, "cpu_has_native_bf16", lambda: True)
    training = accel.Acceleration.for_device(cpu, channels_last_on_cpu=True, bf16_on_cpu=True)
    assert training.amp_dtype == torch.bfloat16
    # validation scores in float32, as evaluate() and inference do on a CPU
    assert training.for_scoring().amp_dtype is None and training.for_scoring().channels_last
    assert accel.Acceleration.for_device(cpu, bf16_on_cpu=True, enabled=False).amp_dtype is None
    assert accel.Acceleration.for_device(cpu).amp_dtype is None  # a backbone not measured
    monkeypatch.setattr(accel, "cpu_has_native_bf16", lambda: False)  # emulated: slower
    assert accel.Acceleration.for_device(cpu, bf16_on_cpu=True).amp_dtype is None


def test_lenet_stays_in_the_usual_memory_format_on_a_cpu(tmp_path, hand_data):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    model.train(epochs=1, save_fold=tmp_path / "run", verbose=False)
    header = json.loads((tmp_path / "run" / "log.json").read_text().splitlines()[0])
    assert header["precision"] == "cpu: float32"
