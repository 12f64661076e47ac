"""augment= beyond 'shift' and 'shift+flip': a dict of flip, shift, scale and rotate, its
checks and messages, its record in checkpoints, and BatchAugment's zoom and rotation."""
import io
import math

import pytest
import torch

from easycls import Classifier, TrainingError, read_log
from easycls.data import augment as augment_module
from easycls.data.augment import BatchAugment, warp
from easycls.engine.options import (Context, augment_settings, ignored_on_resume,
                                    resolve_recipe)
from easycls.models import get_spec

DIGITS, GESTURES = ("1", "2", "3"), ("paper", "rock", "scissors")


def recipe(augment, class_names=GESTURES):
    given = {"epochs": 2} if augment is None else {"epochs": 2, "augment": augment}
    return resolve_recipe(Context(get_spec("LeNet"), 3, 100, class_names=class_names), given)


def shift_and_flip_as_before(images, generator, max_shift, flip):
    """BatchAugment's integer gather as it was before zoom and rotation existed."""
    n, channels, height, width = images.shape
    dy = torch.randint(-max_shift, max_shift + 1, (n, 1), generator=generator)
    dx = torch.randint(-max_shift, max_shift + 1, (n, 1), generator=generator)
    rows = (torch.arange(height)[None] + dy).clamp_(0, height - 1)
    cols = (torch.arange(width)[None] + dx).clamp_(0, width - 1)
    if flip:
        flipped = torch.rand(n, generator=generator) < 0.5
        cols = torch.where(flipped[:, None], cols.flip(1), cols)
    return images[torch.arange(n)[:, None, None, None], torch.arange(channels)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def dots(count: int, side: int = 17, row: int = 2):
    """`count` black pictures with one white pixel `8 - row` above the centre."""
    images = torch.zeros(count, 1, side, side, dtype=torch.uint8)
    images[:, 0, row, side // 2] = 255
    return images


def test_a_dict_is_filled_in_with_the_defaults_and_recorded_as_plain_values():
    values = recipe({"rotate": 10, "scale": 0.1}, DIGITS)
    assert values.augment == {"flip": False, "shift": 0.0625, "scale": 0.1, "rotate": 10.0}
    assert recipe({"flip": True, "shift": 0}, DIGITS).augment == {
        "flip": True, "shift": 0.0, "scale": 0.0, "rotate": 0.0}
    assert recipe({}, GESTURES).augment["flip"] is True  # mirrors as an unset augment would
    buffer = io.BytesIO()
    torch.save({"recipe": values.recorded()}, buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True)["recipe"]["augment"] == values.augment


def test_the_settings_table_shows_the_dict_and_says_why_it_does_not_mirror():
    line = [line for line in recipe({"rotate": 10, "scale": 0.1}, DIGITS).describe().splitlines()
            if line.strip().startswith("augment")][0]
    assert "{'flip': False, 'shift': 0.0625, 'scale': 0.1, 'rotate': 10.0}" in line
    assert "zoom by 0.9 to 1.1, turns of up to 10 degrees either way, no mirrors: the class " \
           "names (1, 2, 3) look like digits" in line


def test_the_strings_mean_what_they_meant():
    assert recipe(None, DIGITS).augment == "shift" and recipe(None, GESTURES).augment == "shift+flip"
    assert recipe(True).augment == "shift+flip" and recipe("SHIFT").augment == "shift"
    assert recipe(False).augment is False
    assert augment_settings("shift") == {"flip": False, "shift": 0.0625, "scale": 0.0, "rotate": 0.0}
    assert augment_settings("shift+flip")["flip"] is True and augment_settings(False) is None


def test_the_command_line_spelling_gives_the_same_dict():
    assert recipe(["rotate=10", "scale=0.1", "flip=false"]).augment == recipe(
        {"rotate": 10, "scale": 0.1, "flip": False}).augment
    assert recipe("rotate=5").augment["rotate"] == 5.0


@pytest.mark.parametrize("bad, words", [
    ({"rotat": 10}, r"augment=\{'rotat': 10\} is not valid: it has no setting 'rotat' \(did you "
                    r"mean 'rotate'\?\)"),
    ({"rotate": -5}, r"rotate=-5 must be a number of degrees from 0 to 180"),
    ({"rotate": 270}, r"rotate=270 must be a number of degrees from 0 to 180"),
    ({"scale": 0.9}, r"scale=0.9 must be a number from 0 to 0.5"),
    ({"shift": "a bit"}, r"shift='a bit' must be a fraction of the side from 0 to 0.5"),
    ({"flip": "yes"}, r"flip='yes' must be True or False"),
])
def test_a_bad_dict_says_what_was_given_what_is_allowed_and_gives_an_example(bad, words):
    with pytest.raises(TrainingError, match=words) as error:
        recipe(bad)
    assert "A dict may set flip (True or False), shift (0 to 0.5 of the side" in str(error.value)
    assert "e.g. augment={'flip': False, 'rotate': 10, 'scale': 0.1}" in str(error.value)


def test_a_wrong_kind_of_value_names_the_strings_and_the_dict():
    with pytest.raises(TrainingError, match=r"augment=0.5 is not valid: expected 'shift' .* or a "
                                            r"dict of flip, shift, scale and rotate, e.g. "):
        recipe(0.5)


def test_a_resumed_train_given_the_same_dict_ignores_nothing():
    run = recipe({"rotate": 10, "scale": 0.1}, DIGITS)
    assert ignored_on_resume({"augment": {"rotate": 10, "scale": 0.1}}, run) == []
    assert ignored_on_resume({"augment": {"rotate": 20}}, run) == ["augment"]
    assert ignored_on_resume({"augment": "shift"}, run) == ["augment"]


@pytest.mark.parametrize("flip", [True, False])
def test_no_zoom_or_rotation_is_exactly_the_old_shift_and_flip(flip):
    images = torch.randint(0, 256, (12, 3, 16, 16), dtype=torch.uint8)
    old, new = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    expected = shift_and_flip_as_before(images, old, max_shift=1, flip=flip)
    assert torch.equal(BatchAugment(16, flip=flip, scale=0, rotate=0)(images, new), expected)
    assert torch.equal(old.get_state(), new.get_state())  # the same draws: seeded runs unchanged


def test_the_affine_path_without_zoom_or_turn_equals_the_integer_gather():
    images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(1)
    dx, dy = (torch.randint(-2, 3, (8,), generator=generator) for _ in range(2))
    flipped = torch.rand(8, generator=generator) < 0.5
    rows = (torch.arange(16)[None] + dy[:, None]).clamp(0, 15)
    cols = (torch.arange(16)[None] + dx[:, None]).clamp(0, 15)
    cols = torch.where(flipped[:, None], cols.flip(1), cols)
    gathered = images[torch.arange(8)[:, None, None, None], torch.arange(3)[None, :, None, None],
                      rows[:, None, :, None], cols[:, None, None, :]]
    assert torch.equal(warp(images, dx, dy, flipped, torch.ones(8), torch.zeros(8)), gathered)


def test_a_quarter_turn_moves_a_dot_above_the_centre_to_its_left():
    no_shift, one = torch.zeros(1), torch.ones(1)
    turned = warp(dots(1), no_shift, no_shift, None, one, torch.tensor([90.0]))
    assert turned.dtype == torch.uint8
    assert (turned[0, 0] > 128).nonzero().tolist() == [[8, 2]]  # counter-clockwise
    back = warp(dots(1), no_shift, no_shift, None, one, torch.tensor([-90.0]))
    assert (back[0, 0] > 128).nonzero().tolist() == [[8, 14]]
    zoomed = warp(dots(1), no_shift, no_shift, None, torch.tensor([0.5]), torch.zeros(1))
    assert (zoomed[0, 0] > 128).nonzero().tolist() == [[5, 8]]  # half as far from the centre


def test_random_turns_keep_the_dot_at_its_distance_within_the_angle_asked_for():
    turned = BatchAugment(17, shift_fraction=0, flip=False, rotate=30)(
        dots(64).float(), torch.Generator().manual_seed(0))
    angles = []
    for picture in turned[:, 0]:
        weight = picture / picture.sum()
        row = (weight.sum(1) * torch.arange(17)).sum().item() - 8
        col = (weight.sum(0) * torch.arange(17)).sum().item() - 8
        assert math.hypot(row, col) == pytest.approx(6, abs=0.3)
        angles.append(math.degrees(math.atan2(-col, -row)))  # 0: straight up, +: to the left
    assert max(map(abs, angles)) <= 31 and max(angles) > 15 and min(angles) < -15


def test_training_with_a_dict_records_it_and_resumes_with_it(fresh_data, tmp_path, capsys,
                                                             monkeypatch):
    warps = []
    monkeypatch.setattr(augment_module, "warp", lambda *args: warps.append(1) or warp(*args))
    asked = {"flip": False, "rotate": 10, "scale": 0.1}
    model = Classifier("LeNet")
    model.load_dataset(fresh_data, check=None)
    model.train(epochs=1, augment=asked, save_fold=tmp_path, verbose=False)
    assert warps and "val" in {line.get("mode") for line in read_log(tmp_path / "log.json")}
    recorded = {"flip": False, "shift": 0.0625, "scale": 0.1, "rotate": 10.0}
    assert torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]["recipe"][
        "augment"] == recorded
    model.train(epochs=2, resume=True, augment=asked, save_fold=tmp_path, verbose=False)
    assert "ignoring" not in capsys.readouterr().out
    saved = torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]
    assert saved["epoch"] == 2 and saved["recipe"]["augment"] == recorded


@pytest.mark.parametrize("backbone_augment, flips", [("shift", False), ("shift+flip", True),
                                                     ({"flip": False}, False)])
def test_a_dict_without_flip_follows_the_backbones_own_augment_and_says_so(backbone_augment, flips):
    import dataclasses

    spec = dataclasses.replace(get_spec("LeNet"), defaults={"augment": backbone_augment})
    chosen = resolve_recipe(Context(spec, 3, 100, class_names=GESTURES),
                            {"epochs": 2, "augment": {"rotate": 10}})
    assert chosen.augment["flip"] is flips and chosen.augment["rotate"] == 10.0
    assert "the LeNet default" in chosen.reasons["augment"]
