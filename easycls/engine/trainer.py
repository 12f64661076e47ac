"""The training loop: batches in, announcements out.

It knows nothing of files or screens: log.json, checkpoints and the progress bar
are callbacks (callbacks.py) that listen to what the loop announces.
"""
import math
import time
from typing import Dict, List, Optional

import torch
from torch import nn

from ..data.augment import BatchAugment, Normalize
from ..data.batches import share_of
from ..errors import TrainingError, TrainingInterrupted
from .accel import Acceleration
from .callbacks import CallbackList
from .checkpoint import CheckpointMeta, checkpoint_dict, unwrap
from .divergence import DivergenceGuard
from .distributed import SINGLE, World, batch_norm_layers, sum_over_ranks, wrap_model
from .evaluator import Evaluator, Scorer, gather_predictions
from .interrupt import stop_at_step_boundaries
from .options import Recipe, augment_settings
from .schedule import WarmupCosine
from .training_data import TrainingData, check_unreadable

LOG_INTERVAL = 10  # iterations between train records, as OpenMMLab's default
# An epoch of fewer steps than this leaves BatchNorm's running averages (momentum 0.1)
# behind the weights, which change fast early on: validation then sees a network that
# answers one class for everything. Such runs measure the statistics afresh
# ("precise BN", as in pycls) over up to PRECISE_BN_IMAGES training pictures before
# each validation and save; longer epochs keep their running averages as they are.
# 1,024 pictures drawn from all of them score as the whole training set does (within
# half a point on rps28 and Fashion-MNIST, docs/benchmarks.md) at a fraction of the work.
PRECISE_BN_BELOW_STEPS = 200
PRECISE_BN_IMAGES = 1024


def build_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    params, wd = model.parameters(), recipe.weight_decay
    if recipe.optimizer == "SGD":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=0.9, nesterov=True, weight_decay=wd)
    if recipe.optimizer == "Adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=wd)
    if recipe.optimizer == "AdamW":
        return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=wd)
    return torch.optim.Adagrad(params, lr=recipe.lr, weight_decay=wd)


def loss_weights(class_weight, labels: List[int], num_classes: int) -> Optional[torch.Tensor]:
    """The cross-entropy weight of each class: given, or 'balanced' as scikit-learn counts it
    (pictures / (classes x pictures of the class))."""
    if class_weight is None:
        return None
    if class_weight == "balanced":
        counts = torch.bincount(torch.tensor(labels, dtype=torch.int64), minlength=num_classes)
        return len(labels) / (num_classes * counts.clamp(min=1).double())
    return torch.tensor(class_weight, dtype=torch.float64)


def seed_everything(seed: int) -> None:
    """Seed torch's global generators (weight initialisation, dropout) on every device."""
    torch.manual_seed(seed)


def rng_state(generator: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "data": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """Runs the epochs of one recipe and tells its callbacks about each step and epoch.

    Callbacks receive the Trainer as `run`; its public attributes are what they may read.
    """

    def __init__(self, model: nn.Module, data: TrainingData, recipe: Recipe,
                 device: torch.device, generator: torch.Generator, callbacks: List,
                 world: World = SINGLE, accel: Optional[Acceleration] = None):
        self.data, self.recipe, self.device, self.world = data, recipe, device, world
        self.generator = generator
        self.callbacks = CallbackList(callbacks)
        self.accel = accel or Acceleration.for_device(device)
        self.model = wrap_model(self.accel.prepare_model(model), world, device)
        self.optimizer = build_optimizer(self.model, recipe)
        self.steps_per_epoch = len(data.train)
        self.schedule = WarmupCosine(self.optimizer, recipe.lr, recipe.epochs * self.steps_per_epoch,
                                     warmup_steps=self.steps_per_epoch * min(
                                         recipe.warmup_epochs, recipe.epochs - 1))
        weights = loss_weights(recipe.class_weight, [label for _, label in data.train.samples],
                               len(data.classes))
        self.class_weights = None if weights is None else weights.float().to(device)
        augment = augment_settings(recipe.augment)  # None, or flip, shift, scale and rotate
        self.augment = (BatchAugment(recipe.image_size, shift_fraction=augment["shift"],
                                     flip=augment["flip"], scale=augment["scale"],
                                     rotate=augment["rotate"]) if augment else None)
        self.normalize = Normalize(recipe.input_spec.mean, recipe.input_spec.std, device)
        self.evaluator = Evaluator(Scorer(unwrap(self.model), recipe.input_spec, device,
                                          self.accel.for_scoring()), data.classes)
        self.best: Dict[str, float] = {}
        self.improved: List[str] = []
        self.history: List[dict] = []
        self.completed_epochs, self.epoch, self.step = 0, 1, 0
        # The epoch whose end latest.pth holds (the checkpoint saver says), None before any:
        # what an interrupted run can honestly promise to resume from.
        self.saved_epoch: Optional[int] = None
        self.resumable = False  # after an interruption: latest.pth has a state to resume from
        self.stop_training = self.interrupted = self.failed = self._updating = False
        self.stop_reason: Optional[str] = None  # why a callback set stop_training, to say so
        self.last_lr = recipe.lr  # of the latest step
        self._step_rng: Optional[dict] = None
        # Where the running epoch is: its image order and the steps done, so that an
        # interrupted epoch can be finished exactly as it would have gone.
        self.progress: Optional[dict] = None

    # ---------------------------------------------------------- what callbacks read

    @property
    def facts(self) -> dict:
        return {"device": str(self.device), "precision": self.accel.describe(),
                "processes": self.world.size, **self.data.facts, "skipped_files": list(self.data.skipped),
                "start_epoch": self.completed_epochs + 1}

    def meta(self, epoch: int) -> CheckpointMeta:
        return CheckpointMeta(self.recipe.backbone, list(self.data.classes), self.recipe.input_spec,
                              epoch=epoch, best=dict(self.best), recipe=self.recipe.recorded())

    def checkpoint(self, progress: Optional[dict] = None) -> dict:
        """This run as a checkpoint dict after its last completed epoch (plus `progress`
        inside the next one, when interrupted)."""
        training = {"optimizer": self.optimizer.state_dict(),
                    "scheduler": self.schedule.state_dict(), "rng": rng_state(self.generator),
                    "progress": progress, "launch": self.world.launch,
                    "scaler": self.accel.scaler.state_dict() if self.accel.scaler else None}
        return checkpoint_dict(self.model, self.meta(self.completed_epochs), training)

    @property
    def network(self) -> nn.Module:
        """The trained network, unwrapped from any parallel or compiled wrapper."""
        return unwrap(self.model)

    # ------------------------------------------------------------------ resuming

    def resume_from(self, training: dict, meta: CheckpointMeta) -> Optional[str]:
        """Continue where a checkpoint with training state stopped; returns a note, if any."""
        self.optimizer.load_state_dict(training["optimizer"])
        self.schedule.load_state_dict(training["scheduler"])
        restore_rng(training["rng"], self.generator)
        self.completed_epochs = self.saved_epoch = meta.epoch
        self.best = dict(meta.best)
        self.accel.load_state_dict(training.get("scaler"))
        self.progress = training.get("progress")
        if self.progress is not None and len(self.progress["order"]) != self.data.train.count:
            note = (f"The training set changed since the run was interrupted "
                    f"({len(self.progress['order'])} images then, {self.data.train.count} "
                    f"now): epoch {self.completed_epochs + 1} starts over.")
            self.progress = None
            return note
        return None

    # ------------------------------------------------------------------ the loop

    def fit(self) -> List[dict]:
        """Train the remaining epochs; return the train and val records announced."""
        if self.completed_epochs >= self.recipe.epochs:
            return []
        stopped = None
        try:
            self.callbacks.on_run_start(self)
            with stop_at_step_boundaries() as self.stop_request:
                self._epochs()
        except KeyboardInterrupt:
            stopped = self._interrupted()
        except BaseException:
            self.failed = True
            raise
        finally:
            self.callbacks.on_run_end(self)
        if stopped:
            raise TrainingInterrupted(stopped)
        return self.history

    def _epochs(self) -> None:
        self.divergence = DivergenceGuard(self.model, self.optimizer, self.schedule, len(
            self.data.classes), from_the_start=self.completed_epochs == 0 and not self.progress)
        for epoch in range(self.completed_epochs + 1, self.recipe.epochs + 1):
            self.epoch = epoch
            self._train_epoch(epoch)
            if self.steps_per_epoch < PRECISE_BN_BELOW_STEPS:
                self._measure_batch_norm_statistics()
            metrics = self._validate(epoch) if self.data.val is not None else {}
            # From here on the state is "after epoch", whatever an interrupt saves.
            self.completed_epochs, self.progress = epoch, None
            self._report_streamed_bad_files()
            self.callbacks.on_epoch_end(self, epoch, metrics)
            # A callback of one process may stop the run: all stop, or the others would wait.
            if self.world.any(self.stop_training):
                self.stop_training = True
                break

    def _interrupted(self) -> str:
        """Ctrl-C: restore the state after the last finished step, have it saved, and say
        what was saved."""
        self.interrupted = True
        done, saved = self.completed_epochs, self.saved_epoch
        self.resumable = saved is not None
        kept = (f"latest.pth still holds the end of epoch {saved}, and resuming from it is "
                f"exact" if saved is not None else "nothing was saved yet")
        if self._updating:  # a second Ctrl-C inside a weight update: half of it may be done
            return f"Training stopped in the middle of a weight update, so it was not saved: {kept}."
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            self._check_finite(float("nan"), done + 1, self.progress["step"] if self.progress else 0)
        progress = self.progress
        if not progress or progress["epoch"] != done + 1:
            progress = None
        if self._step_rng is not None:  # the unfinished step will be drawn again
            restore_rng(self._step_rng, self.generator)
        try:
            self.callbacks.on_interrupt(self, progress)
        except KeyboardInterrupt:  # pressed again while saving: files are replaced whole
            return f"Training stopped again while saving, so the save was dropped: {kept}."
        self.resumable = True
        where = (f"epoch {done + 1}, step {progress['step']} of {self.steps_per_epoch}"
                 if progress else f"the end of epoch {done}")
        return f"Training interrupted; its progress up to {where} is saved in latest.pth."

    def _report_streamed_bad_files(self) -> None:
        """Files found unreadable while streaming: warned once, logged, counted against the rule."""
        for split, batches in (("training", self.data.train), ("validation", self.data.val)):
            found = self.world.gather([(path, batches.reason(path))
                                       for path in getattr(batches, "bad_files", ())])
            if batches is not None:
                batches.why_bad.update(pair for part in found for pair in part)
            new = sorted({path for part in found for path, _ in part} - set(self.data.skipped))
            if new:
                check_unreadable([(path, batches.reason(path)) for path in new], len(batches.samples),
                                 split)
                self.data.skipped += new
                self.callbacks.on_log(self, {"mode": "warning", "skipped_files": new})

    def _announce(self, record: dict) -> None:
        self.history.append(record)
        self.callbacks.on_log(self, record)

    def _train_epoch(self, epoch: int) -> None:
        self.model.train()
        batches = self.data.train
        if self.progress is None or self.progress["epoch"] != epoch:
            order = batches.new_order()
            self.progress = {"epoch": epoch, "step": 0,
                             "order": torch.arange(batches.count) if order is None else order}
        self.step = done = self.progress["step"]
        self.callbacks.on_epoch_start(self, epoch)
        window = _Window(self.device, self.world)
        tick = time.perf_counter()
        slices = batches.slices()
        for step, batch in enumerate(batches.iterate(self.progress["order"], skip=done),
                                     start=done + 1):
            self._step_rng = rng_state(self.generator)  # what an interrupted step restores
            images = batch.images.to(self.device, non_blocking=True)
            start, stop = slices[step - 1]
            first, _ = share_of(stop - start, *batches.share)
            if self.augment is not None:
                images = self.augment(images, self.generator, part_of=(first, stop - start))
            inputs = self.accel.prepare_input(self.normalize(images))
            labels = batch.labels.to(self.device, non_blocking=True)
            data_done = time.perf_counter()
            with self.accel.autocast():
                loss = nn.functional.cross_entropy(self.model(inputs), labels,
                                                   weight=self.class_weights,
                                                   label_smoothing=self.recipe.label_smoothing)
            # DDP averages the processes' gradients; weighting each part's mean loss by its
            # share of the batch makes that the gradient of the whole batch's mean loss.
            share = len(labels) / (stop - start) if self.world.distributed else 1.0
            weighted = loss * (share * self.world.size) if self.world.distributed else loss
            self.optimizer.zero_grad(set_to_none=True)
            lr = self.last_lr = self.schedule.lr
            self._updating = True  # from here until the step is counted, weights are changing
            self.accel.backward_and_step(weighted, self.optimizer, self.recipe.grad_clip)
            self.schedule.step()
            self.progress["step"] = self.step = step
            self._step_rng, self._updating = None, False  # the step is done
            now = time.perf_counter()
            window.add(loss, share, data_done - tick, now - tick)
            tick = now
            self.callbacks.on_step_end(self, step)
            if step % LOG_INTERVAL == 0 or step == self.steps_per_epoch:
                record = window.record(epoch, step, lr)
                backoff = self.divergence.check(record["loss"], epoch, step)
                if backoff is None:
                    self._check_finite(record["loss"], epoch, step)
                self._announce(backoff or record)
                window = _Window(self.device, self.world)
            if self.stop_request.requested:  # Ctrl-C: stop here, with the step fully told
                raise KeyboardInterrupt

    @torch.no_grad()
    def _measure_batch_norm_statistics(self) -> None:
        """BatchNorm's mean and variance averaged over up to PRECISE_BN_IMAGES training pictures
        (not augmented, drawn from all of them), with the weights as they are now; other layers
        (dropout) as at evaluation."""
        network = self.network  # its synchronised BatchNorm sums over processes, without DDP
        norms = batch_norm_layers(network)
        if not norms:
            return
        momenta = [norm.momentum for norm in norms]
        network.eval()
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a plain average over the batches below
            norm.train()
        seen = 0
        try:
            batches = self.data.train
            # A sample of every class: the pictures are stored class by class, so the first
            # ones alone would normalise for a few classes. Its own generator keeps the
            # training's draws (and so resuming and the processes' agreement) as they were.
            sample = torch.randperm(batches.count, generator=torch.Generator().manual_seed(
                self.recipe.random_seed))
            for (start, stop), batch in zip(batches.slices(), batches.iterate(sample)):
                inputs = self.accel.prepare_input(self.normalize(batch.images.to(self.device)))
                with self.accel.autocast():
                    network(inputs)
                # The whole batch counts, so that every process stops at the same one: each
                # forward pass sums BatchNorm's statistics over all of them.
                seen += stop - start
                if seen >= PRECISE_BN_IMAGES:
                    break
        finally:
            for norm, momentum in zip(norms, momenta):
                norm.momentum = momentum
            network.train()

    def _check_finite(self, loss: float, epoch: int, step: int) -> None:
        if not math.isfinite(loss):
            self.failed = True
            raise TrainingError(
                f"The loss became {loss} by epoch {epoch}, iteration {step} (lr "
                f"{self.schedule.lr:.3g}): training diverged. Try a smaller learning rate, "
                f"e.g. train(lr={self.recipe.lr / 10:.3g}). The checkpoints saved so far are "
                f"kept as they were.")

    def _validate(self, epoch: int) -> Dict[str, float]:
        metrics = gather_predictions(self.evaluator.predict(self.data.val),
                                     self.world).metrics(self.recipe.topk)
        self.improved = [name for name, value in metrics.items()
                         if value > self.best.get(name, -1.0)]
        self.best.update({name: metrics[name] for name in self.improved})
        self._announce({"mode": "val", "epoch": epoch, "iter": self.steps_per_epoch,
                        "lr": self.last_lr, **metrics})  # the epoch's last step, as its line says
        return metrics


class _Window:
    """Loss and timings summed over the steps between two train records."""

    def __init__(self, device: torch.device, world: World = SINGLE):
        # Summed on the device: reading the loss every step would stall a GPU.
        self.loss, self.time, self.data_time, self.count = torch.zeros((), device=device), 0.0, 0.0, 0
        self.world = world

    def add(self, loss: torch.Tensor, share: float, data_time: float, step_time: float) -> None:
        """`share`: this process's part of the batch, whose mean loss is the sum of the parts'."""
        self.loss += loss.detach().float() * share
        self.data_time += data_time
        self.time += step_time
        self.count += 1

    def record(self, epoch: int, step: int, lr: float) -> dict:
        n = max(1, self.count)
        loss = sum_over_ranks(self.loss, self.world)  # every process logs the same loss
        return {"mode": "train", "epoch": epoch, "iter": step, "lr": lr,
                "loss": round(float(loss) / n, 6), "time": round(self.time / n, 6),
                "data_time": round(self.data_time / n, 6)}
