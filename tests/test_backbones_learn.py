"""Backbones learn with their defaults on small data, and an early divergence backs off."""
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from easycls import Classifier, TrainingError
from easycls.engine.divergence import (BACKOFF, LOWEST_LIMIT, MAX_BACKOFFS, WATCHED_EPOCHS,
                                       DivergenceGuard)
from easycls.engine.schedule import WarmupCosine
from easycls.models import create_model, get_spec, list_models

SMALL_PICTURE_BACKBONES = ("LeNet", "FastNet")


@pytest.fixture(scope="module")
def small_gestures(tmp_path_factory):
    from easycls.data.synthetic import make_hand_gestures

    return make_hand_gestures(tmp_path_factory.mktemp("learn") / "gestures", train_per_class=20,
                              val_per_class=10, test_per_class=0, size=32, seed=3)


def best_top1(history):
    return max(line["accuracy_top-1"] for line in history if line["mode"] == "val")


@pytest.fixture(scope="module")
def coloured_squares(tmp_path_factory):
    """3 classes told apart by the colour of a square on gray: 20 + 10 pictures each, 32 px.

    Any network that is learning at all gets these right within a few epochs, so a run
    that stays near chance here diverged or is stuck, which is what the recipes prevent.
    """
    root = tmp_path_factory.mktemp("squares")
    colours = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}
    rng = np.random.default_rng(0)
    for split, count in (("training_set", 20), ("val_set", 10)):
        for name, colour in colours.items():
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                picture = np.empty((32, 32, 3), np.uint8)
                picture[:] = rng.integers(90, 160, 3)
                x, y = rng.integers(0, 16, 2)
                picture[y:y + 16, x:x + 16] = np.clip(np.array(colour) + rng.integers(-40, 40, 3),
                                                      0, 255)
                Image.fromarray(picture).save(root / split / name / f"{i}.png")
    return root


@pytest.mark.parametrize("backbone", SMALL_PICTURE_BACKBONES)
def test_small_picture_backbones_beat_chance_clearly_in_ten_epochs(backbone, small_gestures,
                                                                     tmp_path):
    model = Classifier(backbone)
    model.load_dataset(small_gestures)
    # 10 epochs are 10 steps for FastNet, whose batch of 128 takes the 60 pictures at once
    history = model.train(epochs=10, save_fold=tmp_path, verbose=False)
    assert best_top1(history) >= 70.0  # chance is 33.3% for three gestures


@pytest.mark.parametrize("backbone", [name for name in list_models()
                                      if name not in SMALL_PICTURE_BACKBONES])
def test_every_other_backbone_learns_from_scratch_with_its_defaults(backbone, coloured_squares,
                                                                   tmp_path):
    model = Classifier(backbone)
    model.load_dataset(coloured_squares)
    history = model.train(epochs=3, save_fold=tmp_path, verbose=False)
    assert not [line for line in history if line["mode"] == "warning"]  # no back-off needed
    assert best_top1(history) >= 70.0  # chance is 33.3%; two seeds gave 83-100%


@pytest.mark.parametrize("backbone", [name for name in list_models()
                                      if get_spec(name).pretrained_available])
def test_a_fresh_torchvision_backbone_starts_from_a_loss_near_ln_classes(backbone):
    torch.manual_seed(0)
    model = create_model(backbone, 3, 3)  # in training mode, as the first step sees it
    with torch.no_grad():
        scores = model(torch.randn(8, 3, 64, 64))
    # torchvision's EfficientNet head init scales with 1/sqrt(classes): 4.3 here, not ln 3
    assert nn.functional.cross_entropy(scores, torch.zeros(8, dtype=torch.long)).item() < \
        math.log(3) + 0.5


@pytest.mark.parametrize("backbone, zeroed", [("MobileNet", True), ("MobileNetV3", True),
                                              ("EfficientNetB0", True), ("ResNet50", True),
                                              ("ResNet18", False), ("ResNet34", False)])
def test_deep_backbones_start_their_residual_blocks_as_the_identity(backbone, zeroed):
    model = create_model(backbone, 3, 3)
    identity = []
    for block in model.modules():  # the blocks whose shortcut passes the input on unchanged
        if getattr(block, "use_res_connect", False) or (
                isinstance(block, (BasicBlock, Bottleneck)) and block.downsample is None):
            block.register_forward_hook(
                lambda block, inputs, output: identity.append(torch.equal(inputs[0], output)))
    with torch.no_grad():
        model(torch.randn(2, 3, 64, 64))
    assert identity and all(identity) == zeroed and any(identity) == zeroed


def guard_for(model, lr=0.1, from_the_start=True):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    schedule = WarmupCosine(optimizer, lr, total_steps=100, warmup_steps=0)
    guard = DivergenceGuard(model, optimizer, schedule, model.out_features, from_the_start)
    return guard, optimizer, schedule


def test_a_nan_loss_early_brings_back_the_first_weights_at_a_fifth_of_the_lr(capsys):
    model = nn.Linear(4, 10)
    first = {name: value.clone() for name, value in model.state_dict().items()}
    guard, optimizer, schedule = guard_for(model)
    with torch.no_grad():
        model.weight.fill_(float("nan"))
    record = guard.check(float("nan"), epoch=1, step=10)
    assert all(torch.equal(value, first[name]) for name, value in model.state_dict().items())
    assert record["lr_from"] == 0.1 and record["lr_to"] == pytest.approx(0.1 / BACKOFF)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / BACKOFF)
    assert "training was diverging. Starting again from the first weights with lr 0.02" in \
        capsys.readouterr().out


def test_a_loss_far_above_guessing_counts_as_diverging_but_a_normal_one_does_not():
    guard, _, _ = guard_for(nn.Linear(4, 10))
    assert guard.check(math.log(10), epoch=1, step=10) is None
    assert guard.check(3.5 * math.log(10), epoch=1, step=20)["mode"] == "warning"


def test_with_few_classes_an_early_swing_above_three_times_guessing_is_not_a_divergence():
    guard, _, _ = guard_for(nn.Linear(4, 3))
    assert guard.check(3.9, epoch=1, step=10) is None  # above 3 ln 3 = 3.3
    assert guard.check(LOWEST_LIMIT + 0.5, epoch=1, step=20)["mode"] == "warning"


def test_later_epochs_and_resumed_runs_are_not_backed_off():
    guard, _, _ = guard_for(nn.Linear(4, 10))
    assert guard.check(float("nan"), epoch=WATCHED_EPOCHS + 1, step=10) is None
    resumed, _, _ = guard_for(nn.Linear(4, 10), from_the_start=False)
    assert resumed.check(float("nan"), epoch=1, step=10) is None


def test_a_run_that_keeps_diverging_stops_with_advice_after_the_last_back_off():
    guard, _, schedule = guard_for(nn.Linear(4, 10))
    for _ in range(MAX_BACKOFFS):
        guard.check(float("inf"), epoch=1, step=10)
    with pytest.raises(TrainingError, match=f"after starting again {MAX_BACKOFFS} times.*Try a "
                                            f"smaller learning rate"):
        guard.check(float("inf"), epoch=1, step=20)


def test_the_lowered_lr_survives_a_resume():
    guard, optimizer, schedule = guard_for(nn.Linear(4, 10))
    guard.check(float("nan"), epoch=1, step=10)
    again = WarmupCosine(optimizer, 0.1, total_steps=100, warmup_steps=0)
    again.load_state_dict(schedule.state_dict())
    assert again.base_lr == pytest.approx(0.1 / BACKOFF)


def test_training_at_a_far_too_high_lr_backs_off_says_so_and_still_learns(small_gestures, tmp_path,
                                                                          capsys):
    model = Classifier("LeNet")
    model.load_dataset(small_gestures)
    history = model.train(epochs=6, lr=0.05 * BACKOFF ** 2, save_fold=tmp_path)
    backoffs = [line for line in history if line["mode"] == "warning"]
    assert backoffs and "training was diverging" in capsys.readouterr().out
    assert best_top1(history) >= 50.0
