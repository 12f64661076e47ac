"""Backbones learn with their defaults on small data, and an early divergence backs off."""
import math

import pytest
import torch
from torch import nn

from easycls import Classifier, TrainingError
from easycls.engine.divergence import BACKOFF, MAX_BACKOFFS, WATCHED_EPOCHS, DivergenceGuard
from easycls.engine.schedule import WarmupCosine


@pytest.fixture(scope="module")
def small_gestures(tmp_path_factory):
    from easycls.data.synthetic import make_hand_gestures

    return make_hand_gestures(tmp_path_factory.mktemp("learn") / "gestures", train_per_class=20,
                              val_per_class=10, test_per_class=0, size=32, seed=3)


def best_top1(history):
    return max(line["accuracy_top-1"] for line in history if line["mode"] == "val")


@pytest.mark.parametrize("backbone", ["LeNet", "FastNet"])
def test_small_picture_backbones_beat_chance_clearly_in_ten_epochs(backbone, small_gestures,
                                                                     tmp_path):
    model = Classifier(backbone)
    model.load_dataset(small_gestures)
    # 10 epochs are 10 steps for FastNet, whose batch of 128 takes the 60 pictures at once
    history = model.train(epochs=10, save_fold=tmp_path, verbose=False)
    assert best_top1(history) >= 70.0  # chance is 33.3% for three gestures


def guard_for(model, lr=0.1, from_the_start=True):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    schedule = WarmupCosine(optimizer, lr, total_steps=100, warmup_steps=0)
    return DivergenceGuard(model, optimizer, schedule, 10, from_the_start), optimizer, schedule


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
