"""train()'s options come from one list; the loop talks to callbacks; messages go through logging."""
import dataclasses
import inspect
import logging
import re
import subprocess
import sys

import pytest
import torch

import easycls
from easycls import Callback, Classifier, TrainingError, read_log
from easycls.engine.options import OPTIONS, Context, resolve_recipe
from easycls.models import get_spec, list_models


def quiet_model(data):
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    return model


def test_train_signature_and_help_list_every_option():
    parameters = inspect.signature(Classifier.train).parameters
    assert list(parameters)[1:] == [option.name for option in OPTIONS]
    assert parameters["epochs"].default is None and parameters["optimizer"].default == "SGD"
    assert all(option.name in Classifier.train.__doc__ for option in OPTIONS)


def test_a_misspelt_option_is_named_with_the_likely_one(hand_data, tmp_path):
    with pytest.raises(TrainingError, match=r"train\(\) has no option 'epoch'. Did you mean epochs=\?"):
        quiet_model(hand_data).train(epoch=3, save_fold=tmp_path)
    assert not (tmp_path / "log.json").exists()


def test_every_backbone_default_names_a_real_option():
    names = {option.name for option in OPTIONS}
    for backbone in list_models():
        assert set(get_spec(backbone).defaults) <= names, backbone


def test_a_backbone_can_override_any_default_in_its_registry_entry():
    spec = dataclasses.replace(get_spec("LeNet"), defaults={"batch_size": 64,
                                                            "optimizer": "AdamW",
                                                            "label_smoothing": 0.1,
                                                            "warmup_epochs": 3})
    recipe = resolve_recipe(Context(spec, 3, 1000, data_is_gray=True, data_side=28), {"epochs": 5})
    assert (recipe.optimizer, recipe.label_smoothing, recipe.warmup_epochs) == ("AdamW", 0.1, 3)
    assert recipe.reasons["label_smoothing"] == "LeNet default"
    assert recipe.lr == 1e-3  # no lr named: the adaptive optimizer's usual step, not SGD's
    described = recipe.describe()
    assert "optimizer" in described and "AdamW" in described


def test_settings_the_user_gives_win_over_the_backbone():
    spec = dataclasses.replace(get_spec("LeNet"), defaults={"lr": 3e-4, "batch_size": 64,
                                                            "optimizer": "AdamW"})
    recipe = resolve_recipe(Context(spec, 3, 1000), {"optimizer": "sgd", "epochs": 5})
    # The backbone's lr is for its AdamW; SGD starts from the library's 0.05 at batch 32.
    assert recipe.optimizer == "SGD" and recipe.lr == pytest.approx(0.05 * 64 / 64)
    assert resolve_recipe(Context(spec, 3, 1000), {}).lr == pytest.approx(3e-4)


def test_label_smoothing_and_warmup_are_recorded_and_kept_on_resume(hand_data, tmp_path, capsys):
    model = quiet_model(hand_data)
    model.train(epochs=1, label_smoothing=0.2, warmup_epochs=0, save_fold=tmp_path, verbose=False)
    recipe = torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]["recipe"]
    assert (recipe["label_smoothing"], recipe["warmup_epochs"]) == (0.2, 0)
    model.train(epochs=2, resume=True, label_smoothing=0.0, save_fold=tmp_path, verbose=False)
    assert "ignoring label_smoothing" in capsys.readouterr().out
    recipe = torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]["recipe"]
    assert recipe["label_smoothing"] == 0.2


def test_resume_without_epochs_goes_on_to_the_runs_own_total(hand_data, tmp_path):
    model = quiet_model(hand_data)
    model.train(epochs=2, save_interval=1, save_fold=tmp_path, verbose=False)
    (tmp_path / "epoch_1.pth").replace(tmp_path / "latest.pth")
    history = model.train(resume=True, save_fold=tmp_path, verbose=False)
    assert [line["epoch"] for line in history if line["mode"] == "val"] == [2]


@pytest.mark.parametrize("value, words", [
    (0.5, r"label_smoothing=0.5 is not valid: expected a number from 0 up to \(not including\) 0.5"),
    (-1, r"label_smoothing=-1 is not valid"),
])
def test_bad_label_smoothing_is_explained(hand_data, tmp_path, value, words):
    with pytest.raises(TrainingError, match=words):
        quiet_model(hand_data).train(epochs=1, label_smoothing=value, save_fold=tmp_path)


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_run_start(self, run):
        self.events.append(("start", run.completed_epochs))

    def on_epoch_end(self, run, epoch, metrics):
        self.events.append(("epoch", epoch, dict(metrics)))

    def on_run_end(self, run):
        self.events.append(("end", run.interrupted, run.failed))


def test_a_user_callback_sees_every_epochs_metrics(hand_data, tmp_path):
    recorder = Recorder()
    history = quiet_model(hand_data).train(epochs=3, callbacks=[recorder], save_fold=tmp_path,
                                           verbose=False)
    val = [line for line in history if line["mode"] == "val"]
    assert recorder.events[0] == ("start", 0) and recorder.events[-1] == ("end", False, False)
    epochs = [event for event in recorder.events if event[0] == "epoch"]
    assert [e[1] for e in epochs] == [1, 2, 3]
    assert [e[2]["accuracy_top-1"] for e in epochs] == [line["accuracy_top-1"] for line in val]


def test_a_callback_can_stop_training_after_an_epoch(hand_data, tmp_path):
    class StopAtTwo(Callback):
        def on_epoch_end(self, run, epoch, metrics):
            run.stop_training = epoch == 2

    history = quiet_model(hand_data).train(epochs=5, callbacks=StopAtTwo(), save_fold=tmp_path,
                                           verbose=False)
    assert [line["epoch"] for line in history if line["mode"] == "val"] == [1, 2]
    assert torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]["epoch"] == 2


def test_a_class_instead_of_a_callback_is_explained(hand_data, tmp_path):
    with pytest.raises(TrainingError, match=r"Recorder is a class; pass an object made from it: "
                                            r"callbacks=\[Recorder\(\)\]"):
        quiet_model(hand_data).train(epochs=1, callbacks=[Recorder], save_fold=tmp_path)


def test_keras_style_callbacks_are_explained_before_training(hand_data, tmp_path):
    class KerasHook:
        def on_train_begin(self, logs=None):
            pass

    class KerasArguments:
        def on_epoch_end(self, epoch, logs=None):
            pass

    model = quiet_model(hand_data)
    with pytest.raises(TrainingError, match=r"Keras's hook on_train_begin\(\), which easycls "
                                            r"never calls. Name it on_run_start"):
        model.train(epochs=1, callbacks=[KerasHook()], save_fold=tmp_path / "a")
    with pytest.raises(TrainingError, match=r"KerasArguments.on_epoch_end\(epoch, logs=None\) "
                                            r"cannot take easycls's arguments \(run, epoch, "
                                            r"metrics\). Write it as def on_epoch_end\(self, run"):
        model.train(epochs=1, callbacks=[KerasArguments()], save_fold=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("typed, meant", [("learning_rate", "lr"), ("seed", "random_seed"),
                                          ("imgsz", "image_size"), ("batchsize", "batch_size")])
def test_names_from_other_libraries_point_to_ours(hand_data, tmp_path, typed, meant):
    with pytest.raises(TrainingError, match=f"has no option '{typed}'. Did you mean {meant}="):
        quiet_model(hand_data).train(epochs=1, save_fold=tmp_path, **{typed: 1})


def test_a_warm_up_as_long_as_training_is_shortened_and_said(hand_data, tmp_path, capsys):
    quiet_model(hand_data).train(epochs=2, warmup_epochs=5, save_fold=tmp_path)
    assert re.search(r"warmup_epochs += 1  \(not 5: the lr must also come down within the 2 "
                     r"epoch\(s\)\)", capsys.readouterr().out)


def test_a_misspelt_model_setting_is_refused_with_the_likely_one():
    from easycls import SettingError

    model = Classifier("LeNet")
    with pytest.raises(SettingError, match=r"no setting 'save_folder', so setting it would change "
                                           r"nothing. Did you mean model.save_fold\?"):
        model.save_folder = "checkpoints/mine"
    with pytest.raises(AttributeError, match=r"chosen when the model is made: "
                                             r"model = Classifier\('ResNet18'\)"):
        model.backbone = "ResNet18"
    model.save_fold, model.num_classes, model.device = "checkpoints/mine", 3, "cpu"


def test_stopping_early_and_training_without_validation_are_said(hand_data, tmp_path, capsys):
    class StopAtOne(Callback):
        def on_epoch_end(self, run, epoch, metrics):
            run.stop_training = True

    quiet_model(hand_data).train(epochs=3, callbacks=[StopAtOne()], save_fold=tmp_path / "a")
    assert "Stopped after epoch 1 of 3: a callback asked to." in capsys.readouterr().out
    quiet_model(hand_data).train(epochs=1, validate=False, save_fold=tmp_path / "b")
    assert "without validation there is no best_accuracy_top-1.pth" in capsys.readouterr().out


def test_validation_metrics_are_exact_fractions_not_rounded(hand_data, tmp_path):
    history = quiet_model(hand_data).train(epochs=1, save_fold=tmp_path, verbose=False)
    accuracy = history[-1]["accuracy_top-1"]
    assert any(accuracy == pytest.approx(100.0 * k / 36, abs=1e-12) for k in range(37))
    assert read_log(tmp_path / "log.json")[-1]["accuracy_top-1"] == accuracy


def test_verbose_false_keeps_warnings_and_hides_the_rest(hand_data, tmp_path, capsys):
    model = quiet_model(hand_data)
    model.train(epochs=1, save_fold=tmp_path, verbose=False)
    capsys.readouterr()
    model.train(epochs=1, save_fold=tmp_path, verbose=False)
    captured = capsys.readouterr()
    assert "held an earlier run" in captured.out  # a warning: files were moved
    assert "training LeNet with" not in captured.out and "Epoch 1/1" not in captured.err


def test_the_easycls_logger_level_silences_messages(hand_data, tmp_path, capsys):
    logger = logging.getLogger("easycls")
    logger.setLevel(logging.ERROR)
    try:
        quiet_model(hand_data).train(epochs=1, save_fold=tmp_path)
    finally:
        logger.setLevel(logging.INFO)
    assert capsys.readouterr().out == ""


def test_with_rank_1_nothing_is_written_or_printed(fresh_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    model = Classifier("LeNet")
    model.load_dataset(fresh_data)
    history = model.train(epochs=2, save_fold=tmp_path / "run")
    results = model.fast_inference(str(fresh_data / "val_set" / "rock"), show=True,
                                   save_fold=tmp_path / "pictures")
    model.print_result(results)
    assert [line["epoch"] for line in history if line["mode"] == "val"] == [1, 2]
    assert not (fresh_data / "classes.txt").exists() and not (fresh_data / "val.txt").exists()
    assert not (tmp_path / "run").exists() and not (tmp_path / "pictures").exists()
    assert capsys.readouterr() == ("", "")


def test_rank_0_writes_as_a_single_process_does(fresh_data, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    model = Classifier("LeNet")
    model.load_dataset(fresh_data)
    model.train(epochs=1, save_fold=tmp_path, verbose=False)
    assert (fresh_data / "classes.txt").exists() and (tmp_path / "latest.pth").exists()


def test_callback_is_exported_for_users():
    assert easycls.Callback is Callback and "Callback" in easycls.__all__


def test_a_backbone_that_names_no_defaults_gets_the_librarys():
    spec = dataclasses.replace(get_spec("LeNet"), defaults={})
    recipe = resolve_recipe(Context(spec, 3, 1000, data_is_gray=True, data_side=28), {})
    assert (recipe.batch_size, recipe.lr, recipe.optimizer, recipe.epochs) == (32, 0.05, "SGD", 10)


@pytest.mark.parametrize("kwargs, words", [
    ({"epochs": float("nan")}, "epochs=nan is not valid: expected a whole number of at least 1"),
    ({"epochs": float("inf")}, "epochs=inf is not valid"),
    ({"channels": 1.0}, r"channels=1.0 is not valid: use 1 \(grayscale\) or 3"),
    ({"save_fold": 123}, "save_fold=123 is not valid: expected a path"),
    ({"save_fold": ""}, "save_fold='' is not valid: expected a path"),
    ({"random_seed": 2**70}, "random_seed=1180591620717411303424 is not valid: expected a whole number from 0"),
    ({"image_size": 10**9}, "image_size=1000000000 is not valid: expected a whole number from 1 to 4096"),
    ({"lr": float("inf")}, "lr=inf is not valid: expected a number above 0"),
    ({"batch_size": 1}, "batch_size=1 cannot train LeNet: its batch normalisation needs at least 2"),
])
def test_bad_values_are_explained_before_anything_is_written(hand_data, tmp_path, kwargs, words):
    model = quiet_model(hand_data)
    with pytest.raises(TrainingError, match=words):
        model.train(**{"epochs": 1, "save_fold": tmp_path / "run", **kwargs})
    assert not (tmp_path / "run").exists()


def test_extra_positional_arguments_are_explained(hand_data, tmp_path):
    with pytest.raises(TrainingError, match=r"train\(\) takes only epochs without its name; got 1 "
                                            r"more value\(s\) \(32\). Name them, e.g. train\(10, batch_size=32"):
        quiet_model(hand_data).train(10, 32)


def test_a_failed_call_leaves_save_fold_as_it_was(hand_data, tmp_path):
    model = quiet_model(hand_data)
    with pytest.raises(TrainingError):
        model.train(epochs=1, save_fold=tmp_path / "elsewhere", lr=-1)
    assert model.save_fold == "checkpoints/cls_model"


@pytest.mark.parametrize("name, value", [
    ("optimizer", "AdamW"), ("lr", 3e-4), ("weight_decay", 0.05), ("warmup_epochs", 2),
    ("label_smoothing", 0.1), ("image_size", 48), ("augment", False), ("topk", (1, 2)),
    ("batch_size", 16), ("random_seed", 5),
])
def test_every_backbone_default_takes_effect(name, value):
    defaults = {"lr": 0.05, "batch_size": 64, name: value}
    if name == "lr":
        defaults["optimizer"] = "AdamW"  # an lr meant for the backbone's own optimizer
    spec = dataclasses.replace(get_spec("LeNet"), defaults=defaults)
    recipe = resolve_recipe(Context(spec, 3, 1000, data_is_gray=True, data_side=28), {})
    assert recipe.values[name] == value
    assert recipe.reasons.get(name, "LeNet default").startswith("LeNet default")


def test_a_user_handler_on_the_easycls_logger_gets_nothing_on_other_ranks(hand_data, monkeypatch):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("easycls")
    logger.addHandler(handler)
    try:
        monkeypatch.setenv("RANK", "1")
        Classifier("LeNet").load_dataset(hand_data, check=None)
        assert records == []
        monkeypatch.setenv("RANK", "0")
        Classifier("LeNet").load_dataset(hand_data, check=None)
        assert any("3 classes" in record.getMessage() for record in records)
    finally:
        logger.removeHandler(handler)


def test_the_users_root_logging_does_not_print_messages_twice(hand_data):
    code = ("import logging, easycls; logging.basicConfig(); "
            f"easycls.Classifier('LeNet').load_dataset({str(hand_data)!r}, check=None)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (done.stdout + done.stderr).count("3 classes") == 1


def test_import_works_without_docstrings():
    subprocess.run([sys.executable, "-OO", "-c", "import easycls"], check=True)


def test_patience_stops_when_validation_stops_improving_and_keeps_the_best(fresh_data, tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(fresh_data, check=None)
    history = model.train(epochs=10, lr=1e-7, patience=2, save_fold=tmp_path)  # nothing improves
    assert [r["epoch"] for r in history if r["mode"] == "val"] == [1, 2, 3]
    out = capsys.readouterr().out
    assert "Stopped after epoch 3 of 10: validation top-1 has not improved for 2 epochs " \
           "(patience=2; best" in out and "since epoch 1, kept in best_accuracy_top-1.pth)" in out


def test_patience_without_validation_is_explained(fresh_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(fresh_data, check=None)
    with pytest.raises(TrainingError, match="patience=2 stops training when validation stops "
                                            "improving, but validate=False"):
        model.train(epochs=3, patience=2, validate=False, save_fold=tmp_path)


def test_tensorboard_gets_the_loss_lr_and_validation_accuracy(fresh_data, tmp_path, monkeypatch):
    import types

    written = []

    class SummaryWriter:  # what torch.utils.tensorboard gives, recording instead of writing
        def __init__(self, log_dir=None):
            written.append(("dir", log_dir))

        def add_scalar(self, tag, value, step):
            written.append((tag, step))

        def close(self):
            written.append(("closed", None))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard",
                        types.SimpleNamespace(SummaryWriter=SummaryWriter))
    model = Classifier("LeNet")
    model.load_dataset(fresh_data, check=None)
    model.train(epochs=2, tensorboard=True, save_fold=tmp_path, verbose=False)
    assert written[0] == ("dir", str(tmp_path / "tensorboard")) and written[-1] == ("closed", None)
    assert ("val/accuracy_top-1", 1) in written and ("val/accuracy_top-1", 2) in written
    steps = [step for tag, step in written if tag == "train/loss"]
    assert steps == sorted(steps) and len(steps) >= 2 and ("train/lr", steps[0]) in written


def test_tensorboard_without_the_package_is_explained_before_training(fresh_data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    model = Classifier("LeNet")
    model.load_dataset(fresh_data, check=None)
    with pytest.raises(TrainingError, match=r"needs the tensorboard package, which is not "
                                            r"installed: pip install tensorboard"):
        model.train(epochs=1, tensorboard=True, save_fold=tmp_path)
    assert not (tmp_path / "log.json").exists()
