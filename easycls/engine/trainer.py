"""The training loop: batches in, log.json lines and checkpoints out."""
import math
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
from torch import nn

from ..version import __version__
from ..data.augment import BatchAugment, Normalize
from ..data.folder import FolderDataset
from ..data.pipeline import check_unreadable, make_batches, should_cache
from ..errors import TrainingError
from .accel import Acceleration
from .checkpoint import save_atomic
from .evaluate import evaluate
from .interrupt import stop_at_step_boundaries
from .log import LogWriter
from .recipe import Recipe
from .schedule import WarmupCosine

LOG_INTERVAL = 10  # iterations between train lines, as OpenMMLab's default


def build_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    params, wd = model.parameters(), recipe.weight_decay
    if recipe.optimizer == "SGD":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=0.9, nesterov=True, weight_decay=wd)
    if recipe.optimizer == "Adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=wd)
    if recipe.optimizer == "AdamW":
        return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=wd)
    return torch.optim.Adagrad(params, lr=recipe.lr, weight_decay=wd)


def gpu_memory_budget(device: torch.device) -> int:
    """Bytes of GPU memory the cached images may take: a quarter of what is free."""
    if device.type != "cuda":
        return 0
    free, _ = torch.cuda.mem_get_info(device)
    return free // 4


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
    """Runs epochs of one recipe on one data set and writes everything to save_fold."""

    def __init__(self, model: nn.Module, dataset: FolderDataset, recipe: Recipe,
                 save_fold: Path, device: torch.device, *, validate: bool = True,
                 save_interval: Optional[int] = None, verbose: bool = True,
                 notify: Callable[[str], None] = print):
        self.model, self.dataset, self.recipe = model, dataset, recipe
        self.save_fold, self.device, self.notify = Path(save_fold), device, notify
        self.validate = validate and bool(dataset.splits.get("val"))
        self.save_interval, self.verbose = save_interval, verbose
        self.log = LogWriter(self.save_fold / "log.json")
        self.generator = torch.Generator().manual_seed(recipe.seed)
        self.best: Dict[str, float] = {}
        self.start_epoch, self.completed_epochs = 1, 0
        self.interrupted = False
        self._step_rng: Optional[dict] = None
        # Where the running epoch is: its image order and the steps done, so that an
        # interrupted epoch can be finished exactly as it would have gone.
        self.progress: Optional[dict] = None
        self.accel = Acceleration.for_device(device)
        self._prepare_data()
        self.model = self.accel.prepare_model(model)
        self.optimizer = build_optimizer(self.model, recipe)
        steps = len(self.train_batches)
        self.schedule = WarmupCosine(self.optimizer, recipe.lr, recipe.epochs * steps,
                                     warmup_steps=steps if recipe.epochs > 1 else 0)
        self.augment = BatchAugment(recipe.image_size) if recipe.augment else None
        self.normalize = Normalize(recipe.mean, recipe.std, device)

    def _prepare_data(self) -> None:
        recipe, splits = self.recipe, self.dataset.splits
        count = len(splits["train"]) + (len(splits["val"]) if self.validate else 0)
        self.cached = should_cache(recipe.cache, count, recipe.channels, recipe.image_size)
        common = dict(channels=recipe.channels, image_size=recipe.image_size,
                      batch_size=recipe.batch_size, cached=self.cached)
        started = time.perf_counter()
        self.train_batches, skipped = make_batches(splits["train"], shuffle=True,
                                                   generator=self.generator, drop_single=True,
                                                   **common)
        check_unreadable(skipped, len(splits["train"]), "training", self.notify)
        self.skipped = [path for path, _ in skipped]
        self.val_batches = None
        if self.validate:
            self.val_batches, skipped = make_batches(splits["val"], shuffle=False, **common)
            check_unreadable(skipped, len(splits["val"]), "validation", self.notify)
            self.skipped += [path for path, _ in skipped]
        if not len(self.train_batches):
            raise TrainingError("No training batch could be made: every training image "
                                "failed to load. Check the files in the training folder.")
        gpu_budget = gpu_memory_budget(self.device)
        self.data_place = self.train_batches.place(self.device, gpu_budget)
        if self.val_batches is not None:
            self.val_batches.place(self.device, gpu_budget - self.train_batches.images.numel()
                                   if self.data_place == "gpu" else 0)
        self.decode_seconds = time.perf_counter() - started if self.cached else 0.0

    def resume_from(self, checkpoint: dict) -> None:
        """Continue where `checkpoint` (a latest.pth with training state) stopped."""
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.schedule.load_state_dict(checkpoint["scheduler"])
        restore_rng(checkpoint["rng"], self.generator)
        self.completed_epochs = int(checkpoint["meta"]["epoch"])
        self.start_epoch = self.completed_epochs + 1
        self.best = dict(checkpoint["meta"].get("best", {}))
        self.accel.load_state_dict(checkpoint.get("scaler"))
        self.progress = checkpoint.get("progress")
        if self.progress is not None and len(self.progress["order"]) != self.train_batches.count:
            self.notify(f"The training set changed since the run was interrupted "
                        f"({len(self.progress['order'])} images then, "
                        f"{self.train_batches.count} now): epoch {self.start_epoch} starts over.")
            self.progress = None

    def _prepare(self, images: torch.Tensor, augment: bool) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if augment and self.augment is not None:
            images = self.augment(images, self.generator)
        return self.accel.prepare_input(self.normalize(images))

    def meta(self, epoch: int) -> dict:
        recipe = self.recipe
        return {"easycls_version": __version__, "backbone": recipe.backbone,
                "num_classes": len(self.dataset.classes), "classes": list(self.dataset.classes),
                "in_channels": recipe.channels, "image_size": recipe.image_size,
                "mean": list(recipe.mean), "std": list(recipe.std), "resize": "stretch-bilinear",
                "epoch": epoch, "best": dict(self.best), "recipe": recipe.to_meta()}

    def _checkpoint(self, epoch: int, progress: Optional[dict] = None) -> dict:
        state = {"state_dict": self.model.state_dict(), "meta": self.meta(epoch),
                 "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.schedule.state_dict(), "rng": rng_state(self.generator)}
        if progress is not None:
            state["progress"] = progress
        if self.accel.scaler is not None:
            state["scaler"] = self.accel.scaler.state_dict()
        return state

    def _log_header(self) -> None:
        header = self.meta(self.start_epoch - 1)
        # OpenMMLab's log tools read any line with an "epoch" as a training record.
        header["completed_epochs"] = header.pop("epoch")
        header.update(device=str(self.device), precision=self.accel.describe(),
                      cached=self.cached, data_place=self.data_place,
                      decode_seconds=round(self.decode_seconds, 3),
                      dataset=str(self.dataset.root), dataset_sizes=self.dataset.sizes(),
                      skipped_files=self.skipped, start_epoch=self.start_epoch)
        self.log.write(header, sync=True)

    def run(self) -> List[dict]:
        """Train the remaining epochs; return the log lines written."""
        if self.start_epoch > self.recipe.epochs:
            self.notify(f"Nothing to do: the checkpoint has already trained "
                        f"{self.start_epoch - 1} epochs and epochs={self.recipe.epochs}. Pass a "
                        f"larger epochs= to train further.")
            return []
        self._log_header()
        self.history, self.completed_epochs = [], self.start_epoch - 1
        try:
            with stop_at_step_boundaries() as self.stop_request:
                self._epochs()
        except KeyboardInterrupt:
            self._save_interrupted()
        return self.history

    def _epochs(self) -> None:
        for epoch in range(self.start_epoch, self.recipe.epochs + 1):
            with self._progress(epoch) as bar:
                self.history += self._train_epoch(epoch, bar)
                if self.validate:
                    self.history.append(self._validate(epoch))
                    bar.set_postfix({key.replace("accuracy_", "val_"): f"{value:.2f}%"
                                     for key, value in self.history[-1].items()
                                     if key.startswith("accuracy_")})
            # From here on the state is "after epoch", whatever an interrupt saves.
            self.completed_epochs, self.progress = epoch, None
            self._report_streamed_bad_files()
            save_atomic(self._checkpoint(epoch), self.save_fold / "latest.pth")
            if self.save_interval and epoch % self.save_interval == 0:
                save_atomic(self._checkpoint(epoch), self.save_fold / f"epoch_{epoch}.pth")

    def _save_interrupted(self) -> None:
        """Ctrl-C: keep everything up to the last finished step, and say how to go on."""
        self.interrupted = True
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            self._check_finite(float("nan"), self.completed_epochs + 1,
                               self.progress["step"] if self.progress else 0)
        done = self.completed_epochs
        progress = self.progress
        if not progress or progress["epoch"] != done + 1:
            progress = None
        if self._step_rng is not None:  # the unfinished step will be drawn again
            restore_rng(self._step_rng, self.generator)
        save_atomic(self._checkpoint(done, progress), self.save_fold / "latest.pth")
        where = (f"epoch {done + 1}, step {progress['step']} of {len(self.train_batches)}"
                 if progress else f"the end of epoch {done}")
        self.notify(f"\nTraining interrupted. Progress up to {where} is saved in "
                    f"'{self.save_fold / 'latest.pth'}'. To continue exactly from there:\n"
                    f"    model.train(epochs={self.recipe.epochs}, resume=True, "
                    f"save_fold={str(self.save_fold)!r})")

    def _report_streamed_bad_files(self) -> None:
        new = sorted(set(self.train_batches.bad_files) - set(self.skipped))
        if new:
            check_unreadable([(path, "unreadable") for path in new], len(self.dataset.splits["train"]),
                             "training", self.notify)
            self.skipped += new
            self.log.write({"mode": "warning", "skipped_files": new})

    def _progress(self, epoch: int):
        from tqdm.auto import tqdm
        return tqdm(total=len(self.train_batches), desc=f"Epoch {epoch}/{self.recipe.epochs}",
                    disable=not self.verbose, leave=True, dynamic_ncols=True, unit="batch")

    def _train_epoch(self, epoch: int, bar) -> List[dict]:
        self.model.train()
        lines, steps = [], len(self.train_batches)
        if self.progress is None or self.progress["epoch"] != epoch:
            order = self.train_batches.new_order()
            self.progress = {"epoch": epoch, "step": 0,
                             "order": torch.arange(self.train_batches.count) if order is None else order}
        done = self.progress["step"]
        bar.update(done)
        window = {"loss": torch.zeros((), device=self.device), "time": 0.0, "data_time": 0.0,
                  "count": 0}
        tick = time.perf_counter()
        batches = self.train_batches.iterate(self.progress["order"], skip=done)
        for step, (images, labels) in enumerate(batches, start=done + 1):
            self._step_rng = rng_state(self.generator)  # what an interrupted step restores
            inputs = self._prepare(images, augment=True)
            labels = labels.to(self.device, non_blocking=True)
            data_done = time.perf_counter()
            with self.accel.autocast():
                loss = nn.functional.cross_entropy(self.model(inputs), labels)
            self.optimizer.zero_grad(set_to_none=True)
            lr = self.schedule.lr
            self.accel.backward_and_step(loss, self.optimizer)
            self.schedule.step()
            self.progress["step"], self._step_rng = step, None  # the step is done
            if self.stop_request.requested:
                raise KeyboardInterrupt
            # Summed on the device: reading the loss every step would stall a GPU.
            window["loss"] += loss.detach().float()
            now = time.perf_counter()
            window["data_time"] += data_done - tick
            window["time"] += now - tick
            window["count"] += 1
            tick = now
            bar.update(1)
            if step % LOG_INTERVAL == 0 or step == steps:
                n = window["count"]
                mean_loss = float(window["loss"]) / n
                self._check_finite(mean_loss, epoch, step)
                bar.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{lr:.3g}")
                lines.append(self.log.write({
                    "mode": "train", "epoch": epoch, "iter": step, "lr": lr,
                    "loss": round(mean_loss, 6), "time": round(window["time"] / n, 6),
                    "data_time": round(window["data_time"] / n, 6)}))
                window = {"loss": torch.zeros((), device=self.device), "time": 0.0,
                          "data_time": 0.0, "count": 0}
        return lines

    def _check_finite(self, loss: float, epoch: int, step: int) -> None:
        if not math.isfinite(loss):
            raise TrainingError(
                f"The loss became {loss} by epoch {epoch}, iteration {step} (lr "
                f"{self.schedule.lr:.3g}): training diverged. Try a smaller learning rate, "
                f"e.g. train(lr={self.recipe.lr / 10:.3g}). The checkpoints saved so far in "
                f"'{self.save_fold}' are kept as they were.")

    def _validate(self, epoch: int) -> dict:
        with self.accel.autocast():
            metrics = evaluate(self.model, self.val_batches,
                               lambda images: self._prepare(images, augment=False),
                               self.recipe.topk)
        improved = [name for name, value in metrics.items() if value > self.best.get(name, -1.0)]
        self.best.update({name: metrics[name] for name in improved})
        for name in improved:
            save_atomic(self._checkpoint(epoch), self.save_fold / f"best_{name}.pth")
        return self.log.write({"mode": "val", "epoch": epoch, "iter": len(self.train_batches),
                               "lr": self.schedule.lr, **metrics}, sync=True)
