"""Nothing is lost: Ctrl-C and a hard kill both resume to the same numbers."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from torch import nn

from easycls import Callback, Classifier, read_log


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


def test_ctrl_c_saves_the_partial_epoch_and_resume_finishes_it_identically(hand_data, tmp_path, capsys):
    _, straight = train(hand_data, tmp_path / "straight")
    # Pressed during step 3 of epoch 2: that step is finished, then training stops.
    _, first = train(hand_data, tmp_path / "stopped", callbacks=[AtStep(15, press_ctrl_c)])
    out = capsys.readouterr().out
    assert "Training interrupted. Progress up to epoch 2, step 3 of" in out
    assert "model.train(epochs=3, resume=True, save_fold=" in out
    saved = torch.load(tmp_path / "stopped" / "latest.pth", weights_only=True)
    assert saved["meta"]["epoch"] == 1 and saved["progress"]["step"] == 3

    _, rest = train(hand_data, tmp_path / "stopped", resume=True)
    assert val_accuracies(first) + val_accuracies(rest) == val_accuracies(straight)
    final = torch.load(tmp_path / "stopped" / "latest.pth", weights_only=True)["state_dict"]
    expected = torch.load(tmp_path / "straight" / "latest.pth", weights_only=True)["state_dict"]
    for key in expected:
        assert torch.allclose(final[key].float(), expected[key].float(), atol=1e-6), key


def test_an_exception_mid_step_still_saves_and_resumes(hand_data, tmp_path, monkeypatch, capsys):
    real_loss, calls = nn.functional.cross_entropy, {"n": 0}

    def failing_loss(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 15:  # a KeyboardInterrupt raised inside a step (second Ctrl-C)
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(nn.functional, "cross_entropy", failing_loss)
    _, first = train(hand_data, tmp_path)
    monkeypatch.setattr(nn.functional, "cross_entropy", real_loss)
    assert "Progress up to epoch 2, step 2 of" in capsys.readouterr().out
    _, rest = train(hand_data, tmp_path, resume=True)
    assert [line["epoch"] for line in first + rest if line["mode"] == "val"] == [1, 2, 3]


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
    train(hand_data, tmp_path / "stopped", epochs=2, callbacks=[AtStep(10, press_ctrl_c), Steps()])
    assert Steps.seen[-1] == (1, 10)
    assert train_records(tmp_path / "stopped") == [(1, 10)]
    train(hand_data, tmp_path / "stopped", epochs=2, resume=True)
    assert train_records(tmp_path / "stopped") == train_records(tmp_path / "straight")
