"""One checkpoint format: older and newer files load, damaged meta is named, the input spec is honoured."""
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import spec
from easycls import CheckpointError, Classifier, read_log
from easycls.data.images import to_model_array
from easycls.data.synthetic import make_hand_gestures
from easycls.engine.checkpoint import FORMAT_VERSION, checkpoint_dict, read_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"
# Written by easycls 0.1.0 (no format_version): LeNet trained 3 of 3 epochs (batch 8, lr 0.05)
# on make_hand_gestures(train_per_class=8, val_per_class=2, test_per_class=0, size=32, seed=3).
V0_CHECKPOINT = FIXTURES / "checkpoint_v0_lenet.pth"
# What easycls 0.1.0 answered with that checkpoint for the data set's val_set/paper/paper_0000.png.
V0_ANSWER = [("rock", 0.344013), ("scissors", 0.330438), ("paper", 0.325549)]


@pytest.fixture
def v0_data(tmp_path):
    return make_hand_gestures(tmp_path / "v0_data", train_per_class=8, val_per_class=2,
                              test_per_class=0, size=32, seed=3)


def test_a_checkpoint_written_by_easycls_0_1_0_loads_and_infers_as_it_did(v0_data):
    model = Classifier("LeNet")
    meta = model.load_checkpoint(V0_CHECKPOINT)
    assert meta["classes"] == ["paper", "rock", "scissors"]
    assert (meta["format_version"], meta["resize"], meta["in_channels"]) == (FORMAT_VERSION, "stretch", 1)
    result = model.fast_inference(str(v0_data / "val_set" / "paper" / "paper_0000.png"))
    assert [c for c, _ in result["topk"]] == [c for c, _ in V0_ANSWER]
    assert [s for _, s in result["topk"]] == pytest.approx([s for _, s in V0_ANSWER], abs=2e-6)


def resume(data, save_fold, epochs, capsys):
    """Resume the run in save_fold up to `epochs`: (the epochs it validated, what it printed)."""
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    history = model.train(epochs=epochs, resume=True, save_fold=save_fold, verbose=False)
    return [line["epoch"] for line in history if line["mode"] == "val"], capsys.readouterr().out


def test_a_checkpoint_written_by_easycls_0_1_0_resumes_with_a_note(v0_data, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(V0_CHECKPOINT, run / "latest.pth")
    epochs, out = resume(v0_data, run, 4, capsys)
    assert epochs == [4]
    assert ("does not record warmup_epochs, grad_clip, label_smoothing, class_weight; using "
            "warmup_epochs=1, grad_clip=None, label_smoothing=0.0, class_weight=None") in out
    latest = torch.load(run / "latest.pth", weights_only=True)
    assert latest["meta"]["epoch"] == 4 and latest["meta"]["format_version"] == FORMAT_VERSION
    assert latest["meta"]["recipe"]["batch_size"] == 8  # the run's own settings go on


@pytest.fixture
def edited_checkpoint(trained, tmp_path):
    """The trained run's latest.pth with one meta and one recipe field more and one less."""
    _, save_fold, _ = trained
    state = torch.load(save_fold / "latest.pth", weights_only=True)
    del state["meta"]["std"]
    state["meta"]["colour_order"] = "rgb"  # as a future version might add
    del state["meta"]["recipe"]["augment"]
    state["meta"]["recipe"]["mixup"] = 0.2
    run = tmp_path / "edited"
    run.mkdir()
    torch.save(state, run / "latest.pth")
    return run


def test_a_meta_field_more_and_one_less_load_and_infer_with_a_note(edited_checkpoint, loaded_model, capsys):
    model = Classifier("LeNet")
    meta = model.load_checkpoint(edited_checkpoint / "latest.pth")
    out = capsys.readouterr().out
    assert "does not know: colour_order; they are ignored" in out
    assert "lacks meta field(s) std; using std=[0.5]" in out
    assert meta["std"] == [0.5]
    picture = np.random.default_rng(1).integers(0, 255, (32, 32), dtype=np.uint8)
    assert model.fast_inference(picture)["pred_label"] == loaded_model.fast_inference(picture)["pred_label"]


def test_a_meta_field_more_and_one_less_resume_with_a_note(edited_checkpoint, hand_data, capsys):
    epochs, out = resume(hand_data, edited_checkpoint, 11, capsys)
    assert epochs == [11]
    assert "records setting(s) this easycls does not know: mixup; they are ignored" in out
    assert "does not record augment; using augment='shift+flip'" in out


def test_a_checkpoint_from_a_newer_format_says_so_and_loads(trained, tmp_path, capsys):
    _, save_fold, _ = trained
    state = torch.load(save_fold / "best_accuracy_top-1.pth", weights_only=True)
    state["meta"]["format_version"] = FORMAT_VERSION + 1
    torch.save(state, tmp_path / "newer.pth")
    Classifier("LeNet").load_checkpoint(tmp_path / "newer.pth")
    assert "written by a newer easycls" in capsys.readouterr().out


@pytest.mark.parametrize("field, value, words", [
    ("classes", "prs", r"invalid meta\['classes'\]: 'prs', expected a list of distinct"),
    ("classes", ["rock", "rock", "paper"], r"invalid meta\['classes'\]"),
    ("std", [0.0], r"invalid meta\['std'\]: \[0.0\], expected 1 finite number\(s\), above 0"),
    ("mean", [0.5, 0.5], r"invalid meta\['mean'\]"),
    ("image_size", -5, r"invalid meta\['image_size'\]: -5, expected a whole number from 16 to 4096"),
    ("image_size", "32", r"invalid meta\['image_size'\]: '32'"),
    ("image_size", 60000, r"invalid meta\['image_size'\]: 60000"),
    ("in_channels", 2, r"invalid meta\['in_channels'\]: 2, expected 1 or 3"),
    ("resize", "zoom", r"invalid meta\['resize'\]: 'zoom', expected 'stretch' or 'center-crop'"),
    ("num_classes", 4, r"invalid meta\['num_classes'\]: 4, expected 3, the number of classes listed"),
    ("epoch", -1, r"invalid meta\['epoch'\]"),
    ("backbone", "VGG99", r"names a backbone this easycls cannot build: Unknown backbone 'VGG99'"),
])
def test_damaged_meta_fields_are_named(trained, tmp_path, field, value, words):
    _, save_fold, _ = trained
    state = torch.load(save_fold / "best_accuracy_top-1.pth", weights_only=True)
    state["meta"][field] = value
    torch.save(state, tmp_path / "edited.pth")
    with pytest.raises(CheckpointError, match=words):
        Classifier("LeNet").load_checkpoint(tmp_path / "edited.pth")


def test_fewer_class_names_than_outputs_is_named(trained, tmp_path):
    _, save_fold, _ = trained
    state = torch.load(save_fold / "best_accuracy_top-1.pth", weights_only=True)
    state["meta"]["classes"], state["meta"]["num_classes"] = ["paper", "rock"], 2
    torch.save(state, tmp_path / "edited.pth")
    with pytest.raises(CheckpointError, match="lists 2 classes .* but its last layer has 3 outputs"):
        Classifier("LeNet").load_checkpoint(tmp_path / "edited.pth")


def test_a_wrapped_model_is_saved_without_module_prefixes(loaded_model):
    meta = read_checkpoint(V0_CHECKPOINT).meta
    saved = checkpoint_dict(nn.DataParallel(loaded_model.net), meta)["state_dict"]
    assert list(saved) == list(loaded_model.net.state_dict())


def test_center_crop_input_keeps_the_middle_at_the_aspect_ratio():
    picture = np.zeros((100, 200), np.uint8)
    picture[:, 50:150] = 255  # a white middle square on a black band
    cropped = to_model_array(Image.fromarray(picture), spec(1, 50, resize="center-crop"))
    stretched = to_model_array(Image.fromarray(picture), spec(1, 50))
    assert cropped.shape == stretched.shape == (1, 50, 50)
    assert cropped.min() == 255  # only the white middle is left
    assert stretched[0, :, 0].max() == 0  # stretching keeps the black sides


def test_center_crop_with_a_margin_resizes_the_shorter_side_first():
    picture = (np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8)
    cropped = to_model_array(Image.fromarray(picture),
                             spec(1, 48, resize="center-crop", crop_pct=0.75))
    # 48 / 0.75 = 64: nothing to resize, the centre 48x48 is cut out.
    assert np.array_equal(cropped[0], picture[8:56, 8:56])


def test_log_json_header_records_the_format_version(trained):
    _, save_fold, _ = trained
    assert read_log(save_fold / "log.json")[0]["format_version"] == FORMAT_VERSION


def test_center_crop_resizes_large_pictures_bilinearly_as_mmedu_does():
    import cv2

    picture = np.random.default_rng(2).integers(0, 255, (512, 640, 3), dtype=np.uint8)
    cropped = to_model_array(Image.fromarray(picture), spec(3, 224, resize="center-crop",
                                                            crop_pct=224 / 256))
    expected = cv2.resize(picture, (320, 256), interpolation=cv2.INTER_LINEAR)[16:240, 48:272]
    assert np.array_equal(cropped, expected.transpose(2, 0, 1))


@pytest.mark.parametrize("damage, words", [
    (lambda state: state.update(optimizer={}), "its training state is damaged"),
    (lambda state: state.update(rng="x"), "its training state is damaged"),
    (lambda state: state["meta"]["recipe"].update(optimizer="Lion"),
     "records training settings this easycls cannot use .*Unknown optimizer 'Lion'"),
    (lambda state: state["meta"]["recipe"].update({7: 1}), "does not know: 7"),
])
def test_resuming_a_damaged_file_names_the_file(trained, hand_data, tmp_path, damage, words):
    _, save_fold, _ = trained
    state = torch.load(save_fold / "latest.pth", weights_only=True)
    damage(state)
    torch.save(state, tmp_path / "latest.pth")
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    try:
        model.train(epochs=11, resume=True, save_fold=tmp_path, verbose=False)
    except CheckpointError as exc:
        assert re.search(words, str(exc)) and str(tmp_path / "latest.pth") in str(exc)
    else:
        assert words == "does not know: 7"  # an unknown setting is only noted
