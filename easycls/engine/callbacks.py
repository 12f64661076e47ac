"""Listeners of the training loop: log.json, the progress bar, the checkpoints, yours.

The loop (trainer.py) announces what happened; these decide what to do with it.
Write your own by subclassing Callback and passing it to `train(callbacks=[...])`:

    class PrintAccuracy(easycls.Callback):
        def on_epoch_end(self, run, epoch, metrics):
            print(epoch, metrics.get("accuracy_top-1"))

`run` is the running Trainer: run.model, run.epoch, run.step, run.steps_per_epoch,
run.recipe (every option's value), run.best, run.history; set
`run.stop_training = True` to end training after the current epoch.
"""
import time
from pathlib import Path
from typing import List, Optional

from ..errors import TrainingError
from ..i18n import tr
from ..log import logger
from .checkpoint import save_atomic
from .log_json import LogWriter
from .run_folder import writing


class Callback:
    """Base class with every hook; override the ones you need.

    Example:
        >>> class Watch(easycls.Callback):
        ...     def on_epoch_end(self, run, epoch, metrics):
        ...         print(f"epoch {epoch}: {sorted(metrics)}")
        ...         run.stop_training = metrics['accuracy_top-1'] == 100.0
        >>> model = cls('LeNet')
        >>> dataset = model.load_dataset('dataset/hand_gray')
        >>> history = model.train(epochs=1, callbacks=[Watch()], save_fold='checkpoints/watched')
        epoch 1: ['accuracy_top-1']
    """

    def on_run_start(self, run) -> None:
        """Before the first epoch of this call to train()."""

    def on_epoch_start(self, run, epoch: int) -> None:
        """Before the first step of an epoch (also of a resumed, half-done one)."""

    def on_step_end(self, run, step: int) -> None:
        """After each optimizer step; `step` counts from 1 within the epoch."""

    def on_log(self, run, record: dict) -> None:
        """A log.json record: {"mode": "train"|"val"|"warning", ...}."""

    def on_epoch_end(self, run, epoch: int, metrics: dict) -> None:
        """After the epoch and its validation; metrics: {'accuracy_top-1': percent, ...}
        (empty without validation). run.improved names the metrics that reached a new best."""

    def on_interrupt(self, run, progress: Optional[dict]) -> None:
        """Ctrl-C: the state is consistent up to the last finished step (progress says where)."""

    def on_run_end(self, run) -> None:
        """After training ends in any way; run.interrupted and run.failed say how."""


class CallbackList:
    """Calls a hook on every callback that has it, in order."""

    def __init__(self, callbacks: List):
        self.callbacks = list(callbacks)

    def __getattr__(self, hook: str):
        def call(*args):
            for callback in self.callbacks:
                method = getattr(callback, hook, None)
                if method is not None:
                    method(*args)
        return call


class LogJsonWriter(Callback):
    """Appends the run's header and every record to save_fold/log.json."""

    def __init__(self, save_fold):
        self.save_fold = Path(save_fold)
        self.log = LogWriter(self.save_fold / "log.json")

    def on_run_start(self, run) -> None:
        header = run.meta(run.completed_epochs).to_dict()
        # OpenMMLab's log tools read any line with an "epoch" as a training record.
        header["completed_epochs"] = header.pop("epoch")
        header.update(run.facts)
        with writing(self.log.path, self.save_fold):
            self.log.write(header, sync=True)

    def on_log(self, run, record: dict) -> None:
        # Forced to disk once an epoch (with the validation line), not for every line.
        with writing(self.log.path, self.save_fold):
            self.log.write(record, sync=record.get("mode") == "val")


class TensorBoardLogger(Callback):
    """Training loss, learning rate and validation metrics as TensorBoard scalars in
    `log_dir` (train(tensorboard=True) uses save_fold/tensorboard; unset, TensorBoard's own
    runs/ folder): `tensorboard --logdir checkpoints/x/tensorboard`. Needs the tensorboard
    package, which easycls does not install.

    Example:
        >>> model = cls('LeNet')
        >>> dataset = model.load_dataset('dataset/hand_gray')
        >>> logger = easycls.TensorBoardLogger('runs/lenet')  # doctest: +SKIP
        >>> history = model.train(epochs=1, callbacks=[logger])  # doctest: +SKIP
    """

    def __init__(self, log_dir=None):
        self.log_dir, self.writer = log_dir, None
        self.writer_class = self.summary_writer()  # before any picture is decoded

    @staticmethod
    def summary_writer():
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise TrainingError("TensorBoard logging needs the tensorboard package, which is not "
                                "installed: pip install tensorboard. Or train without "
                                "tensorboard=True; log.json has the same numbers "
                                "(easycls.plot_log draws them).") from None
        return SummaryWriter

    def on_run_start(self, run) -> None:
        self.writer = self.writer_class(None if self.log_dir is None else str(self.log_dir))

    def on_log(self, run, record: dict) -> None:
        step = (record.get("epoch", 1) - 1) * run.steps_per_epoch + record.get("iter", 0)
        if record.get("mode") == "train":
            self.writer.add_scalar("train/loss", record["loss"], step)
            self.writer.add_scalar("train/lr", record["lr"], step)
        elif record.get("mode") == "val":
            for name, value in record.items():
                if name.startswith("accuracy_"):
                    self.writer.add_scalar(f"val/{name}", value, record["epoch"])

    def on_run_end(self, run) -> None:
        if self.writer is not None:
            self.writer.close()


class CheckpointSaver(Callback):
    """latest.pth every epoch, best_<metric>.pth on improvement, epoch_N.pth every N epochs."""

    def __init__(self, save_fold, save_interval: Optional[int] = None):
        self.save_fold, self.save_interval = Path(save_fold), save_interval

    def on_epoch_end(self, run, epoch: int, metrics: dict) -> None:
        checkpoint = run.checkpoint()
        names = [f"best_{name}.pth" for name in run.improved] + ["latest.pth"]
        if self.save_interval and epoch % self.save_interval == 0:
            names.append(f"epoch_{epoch}.pth")
        for name in names:
            self._save(checkpoint, name)
        run.saved_epoch = epoch

    def _save(self, checkpoint: dict, name: str) -> Path:
        with writing(self.save_fold / name, self.save_fold):
            return save_atomic(checkpoint, self.save_fold / name)

    def on_interrupt(self, run, progress: Optional[dict]) -> None:
        self._save(run.checkpoint(progress), "latest.pth")

    def on_run_end(self, run) -> None:
        if run.interrupted or run.failed:
            return
        if run.stop_training and run.completed_epochs < run.recipe.epochs:
            logger.info(f"Stopped after epoch {run.completed_epochs} of {run.recipe.epochs}: "
                        f"{run.stop_reason or 'a callback asked to'}.")
        if run.best:
            best = tr(", ").join(f"{k} {v:.2f}%" for k, v in run.best.items())
            logger.info(tr("Best validation: {metrics}. Checkpoints in '{folder}'.",
                           metrics=best, folder=self.save_fold))
        else:
            logger.info(f"Saved latest.pth in '{self.save_fold}' (without validation there is "
                        f"no best_accuracy_top-1.pth).")


class ProgressBar(Callback):
    """A live bar per epoch (loss and lr while training, accuracy after validation), in a
    terminal or a notebook; it makes way for EpochSummary's line when the epoch ends."""

    def __init__(self, bar_class):
        self.bar_class, self.bar = bar_class, None

    def on_epoch_start(self, run, epoch: int) -> None:
        self.bar = self.bar_class(total=run.steps_per_epoch, initial=run.step, leave=False,
                                  desc=f"Epoch {epoch}/{run.recipe.epochs}", dynamic_ncols=True,
                                  unit="batch")

    def on_step_end(self, run, step: int) -> None:
        self.bar.update(1)

    def on_log(self, run, record: dict) -> None:
        if self.bar is None:
            return
        if record.get("mode") == "train":
            self.bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.3g}")
        elif record.get("mode") == "val":
            self.bar.set_postfix({key.replace("accuracy_", "val_"): f"{value:.2f}%"
                                  for key, value in record.items() if key.startswith("accuracy_")})

    def on_epoch_end(self, run, epoch: int, metrics: dict) -> None:
        self._close()

    def on_run_end(self, run) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EarlyStopping(Callback):
    """Ends training when validation top-1 has not improved for `patience` epochs in a row
    (counted within this train() call); best_accuracy_top-1.pth keeps the best epoch."""

    def __init__(self, patience: int):
        self.patience, self.waited, self.best_epoch = patience, 0, None

    def on_epoch_end(self, run, epoch: int, metrics: dict) -> None:
        if "accuracy_top-1" not in metrics:
            return
        if "accuracy_top-1" in run.improved:
            self.waited, self.best_epoch = 0, epoch
            return
        self.waited += 1
        if self.waited >= self.patience:
            run.stop_training = True
            since = f"since epoch {self.best_epoch}" if self.best_epoch else "in this run"
            run.stop_reason = (f"validation top-1 has not improved for {self.waited} epochs "
                               f"(patience={self.patience}; best {run.best['accuracy_top-1']:.2f}% "
                               f"{since}, kept in best_accuracy_top-1.pth)")


class EpochSummary(Callback):
    """One plain line per epoch, readable in a terminal, a notebook or a redirected file:
    Epoch 3/10: loss 0.4123, lr 0.0213, val top-1 93.33%, 2.1 s"""

    def __init__(self):
        self.started, self.losses = 0.0, []

    def on_epoch_start(self, run, epoch: int) -> None:
        self.started, self.losses, self.step = time.perf_counter(), [], run.step

    def on_log(self, run, record: dict) -> None:
        if record.get("mode") == "train":  # a record's loss is the mean of its steps
            self.losses.append((record["loss"], record["iter"] - self.step))
            self.step, self.lr = record["iter"], record["lr"]

    def on_epoch_end(self, run, epoch: int, metrics: dict) -> None:
        steps = sum(count for _, count in self.losses)
        loss = sum(loss * count for loss, count in self.losses) / max(1, steps)
        parts = [tr("loss {loss:.4f}", loss=loss), tr("lr {lr:.3g}", lr=self.lr)] if self.losses else []
        parts += [tr("val {metric} {value:.2f}%", metric=name.replace("accuracy_", ""), value=value)
                  for name, value in metrics.items()]
        seconds = time.perf_counter() - self.started
        parts.append(tr("{seconds:.1f} s", seconds=seconds) if seconds >= 1
                     else tr("{seconds:.2f} s", seconds=seconds))  # never "0.0 s"
        logger.info(tr("Epoch {epoch}/{epochs}: ", epoch=epoch, epochs=run.recipe.epochs)
                    + tr(", ").join(parts))
