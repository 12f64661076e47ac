"""Backing off when a run diverges early: weights back to the start, a smaller lr, go on.

A learning rate that suits a backbone on one data set can blow another run up in
its first steps (ResNet50 from scratch on 400 CIFAR-10 pictures: loss 8.4 rising to
16.6 at lr 0.05). Stopping with an error there would leave a beginner with nothing;
this guard restarts from the run's first weights at a fifth of the learning rate,
says so, and lets the run go on; after MAX_BACKOFFS it gives up with an error. Later
in a run a NaN loss is a real problem and is still an error (Trainer._check_finite).
"""
import copy
import math
from typing import Optional

import torch

from ..errors import TrainingError
from ..log import logger

BACKOFF = 5  # the lr is divided by this at each back-off
MAX_BACKOFFS = 3
WATCHED_EPOCHS = 2  # "early": within the first epochs of training
# A model that guesses uniformly has a loss of ln(classes); a mean loss this many times
# higher means it is confidently wrong about most pictures: it is not learning but blowing up.
EXPLODED = 3.0
# With few classes three times ln(classes) is within an early run's normal swings (from
# scratch on 180 pictures of 3 classes, MobileNet and ResNet18 passed 3.8, above 3 ln 3 = 3.3,
# and then learnt): the limit is never below this loss (the right class at 1/400 on average).
LOWEST_LIMIT = 6.0


class DivergenceGuard:
    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule,
                 num_classes: int, from_the_start: bool):
        self.model, self.optimizer, self.schedule = model, optimizer, schedule
        self.limit = max(LOWEST_LIMIT, EXPLODED * math.log(max(2, num_classes)))
        self.backoffs = 0
        # Only runs at their very start are watched: a resumed run's weights are not
        # a known-good state to go back to.
        self.start = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
                      ) if from_the_start else None

    def diverged(self, loss: float) -> bool:
        return not math.isfinite(loss) or loss > self.limit

    def check(self, loss: float, epoch: int, step: int) -> Optional[dict]:
        """A warning record after backing off, when `loss` shows an early divergence; else None."""
        if self.start is None or epoch > WATCHED_EPOCHS or not self.diverged(loss):
            return None
        if self.backoffs == MAX_BACKOFFS:
            raise TrainingError(
                f"The loss reached {loss:.4g} by epoch {epoch}, step {step}, after starting "
                f"again {MAX_BACKOFFS} times at ever smaller learning rates (now "
                f"{self.schedule.base_lr:.3g}): training diverged. Try a smaller learning "
                f"rate, e.g. train(lr={self.schedule.base_lr / 10:.3g}), or check that the "
                f"pictures and labels are right (easycls.check_dataset).")
        self.backoffs += 1
        weights, optimizer_state = self.start
        self.model.load_state_dict(weights)
        self.optimizer.load_state_dict(optimizer_state)
        old = self.schedule.base_lr
        self.schedule.rescale(1 / BACKOFF)
        logger.warning(
            f"Warning: the loss reached {loss:.4g} by epoch {epoch}, step {step} at lr "
            f"{old:.3g}: training was diverging. Starting again from the first weights with "
            f"lr {self.schedule.base_lr:.3g} (a fifth) and going on; pass a smaller lr= to "
            f"train() to start there.")
        return {"mode": "warning", "epoch": epoch, "iter": step, "diverged_loss": loss,
                "lr_from": old, "lr_to": self.schedule.base_lr}
