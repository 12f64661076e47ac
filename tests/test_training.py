"""End-to-end training: files written, their formats, accuracy reached, resume and fine-tune."""
import json
import re

import pytest
import torch

from easycls import Classifier, TrainingError, read_log

TRAIN_KEYS = {"mode", "epoch", "iter", "lr", "loss", "time", "data_time"}


def test_training_reaches_high_validation_accuracy(trained):
    _, _, history = trained
    val = [line for line in history if line["mode"] == "val"]
    assert len(val) == 10
    assert val[-1]["accuracy_top-1"] >= 85.0


def test_run_writes_log_latest_and_best_checkpoints(trained):
    _, save_fold, _ = trained
    assert {p.name for p in save_fold.iterdir()} >= {"log.json", "latest.pth",
                                                     "best_accuracy_top-1.pth"}
    assert not list(save_fold.glob("*.tmp")) and not list(save_fold.glob(".*.tmp"))


def test_log_json_has_a_meta_line_then_train_and_val_lines(trained):
    _, save_fold, _ = trained
    lines = [json.loads(raw) for raw in (save_fold / "log.json").read_text().splitlines()]
    meta = lines[0]
    assert meta["backbone"] == "LeNet" and meta["classes"] == ["paper", "rock", "scissors"]
    assert {"easycls_version", "device", "dataset_sizes", "recipe"} <= meta.keys()
    train = [line for line in lines if line.get("mode") == "train"]
    val = [line for line in lines if line.get("mode") == "val"]
    assert train and all(TRAIN_KEYS <= line.keys() for line in train)
    assert [line["epoch"] for line in val] == list(range(1, 11))
    assert all(0.0 <= line["accuracy_top-1"] <= 100.0 for line in val)


def test_checkpoint_loads_with_weights_only_and_carries_its_preprocessing(trained):
    _, save_fold, _ = trained
    checkpoint = torch.load(save_fold / "latest.pth", weights_only=True)
    assert {"state_dict", "meta", "optimizer", "scheduler", "rng"} <= checkpoint.keys()
    meta = checkpoint["meta"]
    assert meta["classes"] == ["paper", "rock", "scissors"]
    assert (meta["image_size"], meta["in_channels"], meta["epoch"]) == (32, 1, 10)
    assert len(meta["mean"]) == len(meta["std"]) == 1
    best = torch.load(save_fold / "best_accuracy_top-1.pth", weights_only=True)
    assert best["meta"]["best"]["accuracy_top-1"] == max(
        line["accuracy_top-1"] for line in read_log(save_fold / "log.json") if line.get("mode") == "val")


def test_more_than_five_classes_reports_top1_and_top5(six_class_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(six_class_data)
    history = model.train(epochs=1, save_fold=tmp_path, verbose=False)
    val = [line for line in history if line["mode"] == "val"]
    assert {"accuracy_top-1", "accuracy_top-5"} <= val[-1].keys()
    assert (tmp_path / "best_accuracy_top-5.pth").exists()


def test_topk_argument_overrides_and_keeps_top1(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    history = model.train(epochs=1, topk=2, save_fold=tmp_path, verbose=False)
    assert {"accuracy_top-1", "accuracy_top-2"} <= history[-1].keys()


def test_invalid_topk_is_explained(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    with pytest.raises(TrainingError, match="topk=7 is not valid for 3 classes"):
        model.train(epochs=1, topk=7, save_fold=tmp_path, verbose=False)


def test_unknown_optimizer_lists_the_choices(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    with pytest.raises(TrainingError, match="Unknown optimizer 'RMSprop'. Choose one of SGD, Adam"):
        model.train(epochs=1, optimizer="RMSprop", save_fold=tmp_path, verbose=False)


@pytest.mark.parametrize("optimizer", ["adam", "AdamW", "Adagrad"])
def test_other_optimizers_train(hand_data, tmp_path, optimizer):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    history = model.train(epochs=1, optimizer=optimizer, save_fold=tmp_path, verbose=False)
    assert history[-1]["mode"] == "val"


def test_resume_continues_the_run_and_appends_to_the_log(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    model.train(epochs=2, save_fold=tmp_path, verbose=False)
    lines_before = (tmp_path / "log.json").read_text().splitlines()
    history = model.train(epochs=3, resume=True, save_fold=tmp_path, verbose=False)
    assert [line["epoch"] for line in history if line["mode"] == "val"] == [3]
    lines_after = (tmp_path / "log.json").read_text().splitlines()
    assert lines_after[:len(lines_before)] == lines_before
    assert torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]["epoch"] == 3


def test_resuming_from_an_earlier_epoch_repeats_the_same_numbers(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    straight = model.train(epochs=3, save_interval=1, save_fold=tmp_path, verbose=False)
    # As if the run had died after epoch 1: only that epoch's checkpoint survived.
    (tmp_path / "epoch_1.pth").replace(tmp_path / "latest.pth")
    resumed = model.train(epochs=3, resume=True, save_fold=tmp_path, verbose=False)
    later = [line for line in straight if line["epoch"] > 1]
    assert [line["mode"] for line in resumed] == [line["mode"] for line in later]
    for a, b in zip(later, resumed):
        if a["mode"] == "train":
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        else:
            assert a["accuracy_top-1"] == b["accuracy_top-1"]


def test_resume_without_a_previous_run_says_what_is_missing(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    with pytest.raises(FileNotFoundError, match="latest.pth' does not exist"):
        model.train(epochs=2, resume=True, save_fold=tmp_path, verbose=False)


def test_a_second_run_moves_the_first_aside_instead_of_overwriting(hand_data, tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    model.train(epochs=1, save_fold=tmp_path, verbose=False)
    first_log = (tmp_path / "log.json").read_text()
    model.train(epochs=1, save_fold=tmp_path, verbose=False)
    archived = list((tmp_path / "previous_runs").glob("*/log.json"))
    assert len(archived) == 1 and archived[0].read_text() == first_log
    assert "held an earlier run" in capsys.readouterr().out


def test_fine_tuning_on_other_classes_replaces_the_head(trained, six_class_data, tmp_path, capsys):
    _, save_fold, _ = trained
    model = Classifier("LeNet")
    model.load_dataset(six_class_data)
    model.train(epochs=1, checkpoint=save_fold / "latest.pth", save_fold=tmp_path)
    assert "the last layer starts fresh" in capsys.readouterr().out
    meta = torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]
    assert meta["num_classes"] == 6


def test_fine_tuning_keeps_the_checkpoint_weights(trained, hand_data, tmp_path):
    _, save_fold, _ = trained
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    history = model.train(epochs=1, lr=1e-4, checkpoint=save_fold / "best_accuracy_top-1.pth",
                          save_fold=tmp_path, verbose=False)
    assert history[-1]["accuracy_top-1"] >= 85.0  # a fresh LeNet is near chance after 1 epoch


def test_diverging_loss_stops_with_advice_and_keeps_best(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    with pytest.raises(TrainingError, match="Try a smaller learning rate"):
        model.train(epochs=2, lr=1e12, save_fold=tmp_path, verbose=False)


def test_train_before_load_dataset_says_what_to_call(tmp_path):
    with pytest.raises(ValueError, match=r"Call model.load_dataset\('path/to/dataset'\)"):
        Classifier("LeNet").train(epochs=1, save_fold=tmp_path)


@pytest.mark.parametrize("value", [0, -3, 1.5, "ten"])
def test_bad_epochs_are_explained(hand_data, tmp_path, value):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    with pytest.raises(TrainingError, match=f"epochs={value!r} is not valid"):
        model.train(epochs=value, save_fold=tmp_path, verbose=False)


def test_training_without_cache_streams_the_same_data(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    history = model.train(epochs=1, cache=False, save_fold=tmp_path, verbose=False)
    meta = read_log(tmp_path / "log.json")[0]
    assert meta["cached"] is False and history[-1]["mode"] == "val"


def test_cuda_request_on_a_machine_without_gpu_is_explained(hand_data, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    with pytest.raises(TrainingError, match="no usable NVIDIA GPU"):
        model.train(epochs=1, device="cuda", save_fold=tmp_path, verbose=False)


def test_training_after_load_checkpoint_starts_from_the_loaded_weights(trained, hand_data, tmp_path, capsys):
    _, save_fold, _ = trained
    model = Classifier("LeNet")
    model.load_checkpoint(save_fold / "best_accuracy_top-1.pth")
    model.load_dataset(hand_data, check=None)
    history = model.train(epochs=1, lr=1e-4, save_fold=tmp_path)
    assert "Starting from the weights loaded from" in capsys.readouterr().out
    assert history[-1]["accuracy_top-1"] >= 85.0


def test_resume_says_which_arguments_it_ignores(hand_data, tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    model.train(epochs=1, save_fold=tmp_path, verbose=False)
    model.train(epochs=2, resume=True, lr=0.5, batch_size=8, save_fold=tmp_path, verbose=False)
    assert "ignoring batch_size, lr" in capsys.readouterr().out
    with pytest.raises(TrainingError, match="epochs=0 is not valid"):
        model.train(epochs=0, resume=True, save_fold=tmp_path, verbose=False)


def test_log_header_has_no_epoch_so_openmmlab_tools_skip_it(trained):
    _, save_fold, _ = trained
    header = read_log(save_fold / "log.json")[0]
    assert "epoch" not in header and "mode" not in header and header["completed_epochs"] == 0


def test_batch_size_larger_than_the_data_set_is_reduced_and_said(hand_data, tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    model.train(epochs=1, batch_size=10_000, save_fold=tmp_path)
    out = capsys.readouterr().out
    assert re.search(r"batch_size +?= 180  \(you asked for 10000, but there are only 180 "
                     r"training images\)", out)


@pytest.mark.parametrize("kwargs, words", [
    ({"weight_decay": -1}, "weight_decay=-1 is not valid"),
    ({"save_interval": "x"}, "save_interval='x' is not valid"),
    ({"random_seed": "a"}, "random_seed='a' is not valid"),
    ({"image_size": 4}, "image_size=4 is too small for LeNet: it needs at least 16 px"),
    ({"lr": 0}, "lr=0 is not valid"),
    ({"batch_size": 0}, "batch_size=0 is not valid"),
    ({"cache": "yes"}, "cache='yes' is not valid"),
    ({"device": "tpu"}, "Unknown device 'tpu'"),
])
def test_bad_training_arguments_are_explained_before_anything_is_written(hand_data, tmp_path, kwargs, words):
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    with pytest.raises(TrainingError, match=words):
        model.train(epochs=1, save_fold=tmp_path / "run", verbose=False, **kwargs)
    assert not (tmp_path / "run" / "log.json").exists()


def test_rgb_backbone_refuses_one_channel_with_advice(hand_data, tmp_path):
    model = Classifier("ResNet18")
    model.load_dataset(hand_data, check=None)
    with pytest.raises(TrainingError, match="ResNet18 takes 3-channel images, not channels=1"):
        model.train(epochs=1, channels=1, save_fold=tmp_path, verbose=False)


def test_save_fold_that_is_a_file_is_explained(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    (tmp_path / "taken").write_text("x")
    with pytest.raises(TrainingError, match="is a file, but training needs a folder"):
        model.train(epochs=1, save_fold=tmp_path / "taken", verbose=False)


def test_resume_after_the_training_set_changed_restarts_the_epoch(hand_data, tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(hand_data, data)
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    model.train(epochs=2, save_fold=tmp_path / "run", verbose=False)
    state = torch.load(tmp_path / "run" / "latest.pth", weights_only=True)
    state["meta"]["epoch"] = 1
    state["progress"] = {"epoch": 2, "step": 3, "order": torch.randperm(180)}
    torch.save(state, tmp_path / "run" / "latest.pth")
    for path in list((data / "training_set" / "rock").glob("*.png"))[:30]:
        path.unlink()
    model.load_dataset(data, check=None)
    history = model.train(epochs=2, resume=True, save_fold=tmp_path / "run", verbose=False)
    assert "The training set changed since the run was interrupted (180 images then, 150 now)" \
        in capsys.readouterr().out
    assert history[-1]["epoch"] == 2


def test_mixed_precision_and_channels_last_path_trains(hand_data, tmp_path, monkeypatch):
    """The GPU recipe (autocast + channels_last), run with CPU bfloat16 so CI covers it."""
    from easycls.engine import accel, trainer

    monkeypatch.setattr(trainer.Acceleration, "for_device",
                        classmethod(lambda cls, device, enabled=True, **cpu_flags:
                                    accel.Acceleration(
                            device, torch.bfloat16, channels_last=True)))
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    history = model.train(epochs=3, save_fold=tmp_path, verbose=False)
    losses = [line["loss"] for line in history if line["mode"] == "train"]
    assert history[-1]["mode"] == "val" and losses[-1] < losses[0]
    assert "bfloat16 mixed precision" in read_log(tmp_path / "log.json")[0]["precision"]


def test_a_last_batch_of_one_is_dropped_so_batch_norm_can_train(tmp_path):
    from easycls.data.synthetic import make_hand_gestures

    data = make_hand_gestures(tmp_path / "data", train_per_class=11, val_per_class=2,
                              test_per_class=0, size=32)  # 33 pictures: batches of 32 and 1
    model = Classifier("ResNet18")
    model.load_dataset(data, check=None)
    history = model.train(epochs=1, batch_size=32, image_size=32, save_fold=tmp_path / "run",
                          verbose=False)
    assert [r["iter"] for r in history if r["mode"] == "train"] == [1]


def digit_folder(root, names=("1", "2", "3")):
    """A class-per-folder set of 16-px pictures whose classes are named like digits."""
    from PIL import Image, ImageDraw

    for index, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for i in range(8):
            picture = Image.new("L", (16, 16), 255)
            ImageDraw.Draw(picture).rectangle((i % 4, index * 4, 8 + i % 4, index * 4 + 3), fill=0)
            picture.save(root / name / f"{i}.png")
    return root


def test_classes_named_like_digits_train_without_mirrors_and_say_why(tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(digit_folder(tmp_path / "digits"), check=None)
    model.train(epochs=1, save_fold=tmp_path / "run")
    assert "augment         = 'shift'  (random shifts, no left-right mirror: the class names " \
           "(1, 2, 3) look like digits, letters or sides" in capsys.readouterr().out
    assert torch.load(tmp_path / "run" / "latest.pth", weights_only=True)["meta"]["recipe"][
        "augment"] == "shift"


def test_other_classes_are_mirrored_and_a_mirror_can_be_asked_for(hand_data, tmp_path):
    from easycls.engine.options import mirror_sensitive

    assert not mirror_sensitive(["paper", "rock", "scissors"]) and not mirror_sensitive(["cat", "dog"])
    assert mirror_sensitive(["zero", "one", "two"]) and mirror_sensitive(["a", "b", "c", "dog"])
    model = Classifier("LeNet")
    model.load_dataset(digit_folder(tmp_path / "digits"), check=None)
    model.train(epochs=1, augment="shift+flip", save_fold=tmp_path / "run", verbose=False)
    assert torch.load(tmp_path / "run" / "latest.pth", weights_only=True)["meta"]["recipe"][
        "augment"] == "shift+flip"


def test_an_unknown_augment_is_explained(hand_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    with pytest.raises(TrainingError, match=r"augment='rotate' is not valid: expected 'shift' "
                                            r"\(random shifts\), 'shift\+flip'"):
        model.train(epochs=1, augment="rotate", save_fold=tmp_path)
