"""Nothing is lost: Ctrl-C and a hard kill both resume to the same numbers."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from torch import nn

from easycls import Callback, Classifier, TrainingInterrupted, read_log


def val_accuracies(lines):
    return [line["accuracy_top-1"] for line in lines if line.get("mode") == "val"]


def train(data, folder, epochs=3, **kwargs):
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    return model, model.train(epochs=epochs, save_fold=folder, verbose=False, **kwargs)


class AtStep(Callback):
    """Does something once, at the end of the n-th step of the whole run (12 steps an epoch)."""

    def __init__(self, n, action):
        self.n, self.action, self.steps = n, action, 0

    def on_step_end(self, run, step):
        self.steps += 1
        if self.steps == self.n:
            self.action(run)


def press_ctrl_c(run):
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends


def poison_weights(run):
    with torch.no_grad():
        for parameter in run.model.parameters():
            parameter.fill_(float("nan"))


def interrupted(data, folder, **kwargs):
    """Train until a callback presses Ctrl-C: (the model, the TrainingInterrupted raised)."""
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    with pytest.raises(TrainingInterrupted) as stop:
        model.train(save_fold=folder, verbose=False, **{"epochs": 3, **kwargs})
    return model, stop.value


def test_ctrl_c_saves_the_partial_epoch_and_resume_finishes_it_identically(hand_data, tmp_path):
    _, straight = train(hand_data, tmp_path / "straight")
    # Pressed during step 3 of epoch 2: that step is finished, then training stops.
    model, stop = interrupted(hand_data, tmp_path / "stopped", callbacks=[AtStep(15, press_ctrl_c)])
    first = stop.history
    assert str(stop).startswith("Training interrupted; its progress up to epoch 2, step 3 of 12 "
                                "is saved in latest.pth. To continue exactly from there:\n    "
                                "model.train(epochs=3, resume=True, save_fold=")
    assert model.meta["epoch"] == 1 and model.fast_inference(np.zeros((8, 8), np.uint8))
    saved = torch.load(tmp_path / "stopped" / "latest.pth", weights_only=True)
    assert saved["meta"]["epoch"] == 1 and saved["progress"]["step"] == 3

    _, rest = train(hand_data, tmp_path / "stopped", resume=True)
    assert val_accuracies(first) + val_accuracies(rest) == val_accuracies(straight)
    final = torch.load(tmp_path / "stopped" / "latest.pth", weights_only=True)["state_dict"]
    expected = torch.load(tmp_path / "straight" / "latest.pth", weights_only=True)["state_dict"]
    for key in expected:
        assert torch.allclose(final[key].float(), expected[key].float(), atol=1e-6), key


def test_a_second_ctrl_c_before_the_weights_change_still_saves_exactly(hand_data, tmp_path, monkeypatch):
    real_loss, calls = nn.functional.cross_entropy, {"n": 0}

    def failing_loss(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 15:  # a KeyboardInterrupt inside a step's forward pass (second Ctrl-C)
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(nn.functional, "cross_entropy", failing_loss)
    _, stop = interrupted(hand_data, tmp_path)
    monkeypatch.setattr(nn.functional, "cross_entropy", real_loss)
    assert "progress up to epoch 2, step 2 of 12 is saved" in str(stop)
    _, rest = train(hand_data, tmp_path, resume=True)
    assert [line["epoch"] for line in stop.history + rest if line["mode"] == "val"] == [1, 2, 3]


def ctrl_c_inside_weight_update(monkeypatch, n):
    """A Ctrl-C that arrives inside the n-th optimizer step of the run (12 steps an epoch)."""
    real_step, calls = torch.optim.SGD.step, {"n": 0}

    def interrupted_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", interrupted_step)


def test_a_second_ctrl_c_inside_a_weight_update_saves_nothing_and_says_so(hand_data, tmp_path, monkeypatch):
    ctrl_c_inside_weight_update(monkeypatch, 15)
    _, stop = interrupted(hand_data, tmp_path)
    monkeypatch.undo()
    assert str(stop).startswith("Training stopped in the middle of a weight update, so it was not "
                                "saved: latest.pth still holds the end of epoch 1, and resuming "
                                "from it is exact.")
    assert torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]["epoch"] == 1
    assert "progress" not in torch.load(tmp_path / "latest.pth", weights_only=True)


def test_a_second_ctrl_c_inside_the_first_weight_updates_says_nothing_can_be_resumed(
        hand_data, tmp_path, monkeypatch):
    ctrl_c_inside_weight_update(monkeypatch, 3)
    _, stop = interrupted(hand_data, tmp_path)
    assert str(stop).startswith("Training stopped in the middle of a weight update, so it was not "
                                "saved: nothing was saved yet. Start again with:\n    "
                                "model.train(epochs=3, save_fold=")
    assert "resume=True" not in str(stop) and not (tmp_path / "latest.pth").exists()


def test_ctrl_c_while_saving_an_epoch_then_again_names_the_epoch_latest_really_holds(
        hand_data, tmp_path, monkeypatch):
    from easycls.engine import callbacks

    real_save = callbacks.save_atomic

    def save(checkpoint, path):  # Ctrl-C on every save of epoch 2's latest.pth
        if path.name == "latest.pth" and checkpoint["meta"]["epoch"] == 2:
            raise KeyboardInterrupt
        return real_save(checkpoint, path)

    monkeypatch.setattr(callbacks, "save_atomic", save)
    _, stop = interrupted(hand_data, tmp_path)
    assert str(stop).startswith("Training stopped again while saving, so the save was dropped: "
                                "latest.pth still holds the end of epoch 1, and resuming from it "
                                "is exact. To continue exactly from there:")
    assert torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]["epoch"] == 1


def test_a_script_stopped_by_ctrl_c_ends_with_a_non_zero_exit_code(hand_data, tmp_path):
    script = tmp_path / "stop.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal
        from easycls import Callback, Classifier

        class Stop(Callback):
            def on_step_end(self, run, step):
                if step == 3:
                    os.kill(os.getpid(), signal.SIGINT)

        model = Classifier("LeNet")
        model.load_dataset({str(hand_data)!r}, check=None)
        model.train(epochs=2, save_fold={str(tmp_path / "run")!r}, callbacks=[Stop()])
        print("the script went on")
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "the script went on" not in done.stdout
    assert "TrainingInterrupted: Training interrupted; its progress up to epoch 1, step 3" in done.stderr


TRAINING_SCRIPT = textwrap.dedent("""
    import sys
    from easycls import Classifier
    model = Classifier("LeNet")
    model.load_dataset(sys.argv[1], check=None)
    model.train(epochs=int(sys.argv[3]), save_fold=sys.argv[2], verbose=False, image_size=64)
""")


def test_sigkill_mid_training_resumes_from_the_last_epoch_with_identical_metrics(hand_data, tmp_path):
    epochs = 5
    killed = tmp_path / "killed"
    script = tmp_path / "train.py"
    script.write_text(TRAINING_SCRIPT)
    process = subprocess.Popen([sys.executable, str(script), str(hand_data), str(killed), str(epochs)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (killed / "log.json").exists() and any(
                line.get("mode") == "val" and line["epoch"] >= 2 for line in read_log(killed / "log.json")):
            break
        time.sleep(0.01)
    if process.poll() is not None:
        pytest.fail(f"training ended before it could be killed: {process.stderr.read().decode()[-2000:]}")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    last_complete = torch.load(killed / "latest.pth", weights_only=True)["meta"]["epoch"]
    assert 1 <= last_complete < epochs

    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    resumed = model.train(epochs=epochs, resume=True, save_fold=killed, verbose=False, image_size=64)
    _, straight = train(hand_data, tmp_path / "straight", epochs=epochs, image_size=64)
    assert val_accuracies(resumed) == val_accuracies(straight)[last_complete:]


def test_ctrl_c_after_divergence_keeps_the_good_checkpoint(hand_data, tmp_path):
    from easycls import TrainingError

    def diverge_then_ctrl_c(run):  # weights turn NaN in epoch 2, before any NaN check sees it
        poison_weights(run)
        press_ctrl_c(run)

    with pytest.raises(TrainingError, match="training diverged"):
        train(hand_data, tmp_path, callbacks=[AtStep(15, diverge_then_ctrl_c)])
    latest = torch.load(tmp_path / "latest.pth", weights_only=True)
    assert latest["meta"]["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in latest["state_dict"].values() if v.is_floating_point())


def test_resuming_a_file_without_training_state_suggests_fine_tuning(hand_data, tmp_path):
    _, _ = train(hand_data, tmp_path, epochs=1)
    state = torch.load(tmp_path / "latest.pth", weights_only=True)
    torch.save({"state_dict": state["state_dict"], "meta": state["meta"]}, tmp_path / "latest.pth")
    from easycls import CheckpointError

    with pytest.raises(CheckpointError, match=r"not the training state \(optimizer, scheduler, rng\).*checkpoint="):
        train(hand_data, tmp_path, epochs=2, resume=True)


def test_ctrl_c_on_a_logging_step_keeps_its_record_and_resume_logs_the_rest(hand_data, tmp_path):
    def train_records(folder):
        return [(line["epoch"], line["iter"]) for line in read_log(folder / "log.json")
                if line.get("mode") == "train"]

    class Steps(Callback):
        seen = []

        def on_step_end(self, run, step):
            self.seen.append((run.epoch, step))

    train(hand_data, tmp_path / "straight", epochs=2)
    interrupted(hand_data, tmp_path / "stopped", epochs=2, callbacks=[AtStep(10, press_ctrl_c), Steps()])
    assert Steps.seen[-1] == (1, 10)
    assert train_records(tmp_path / "stopped") == [(1, 10)]
    train(hand_data, tmp_path / "stopped", epochs=2, resume=True)
    assert train_records(tmp_path / "stopped") == train_records(tmp_path / "straight")
