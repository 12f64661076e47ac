"""Learning rate: linear warm-up, then cosine decay to zero, set per iteration."""
import math


class WarmupCosine:
    """Its whole state is the iteration count, so resuming restores it exactly."""

    def __init__(self, optimizer, base_lr: float, total_steps: int, warmup_steps: int):
        self.optimizer, self.base_lr = optimizer, base_lr
        self.total_steps, self.warmup_steps = max(1, total_steps), warmup_steps
        self.step_count = 0
        self._apply()

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.base_lr * (0.1 + 0.9 * step / self.warmup_steps)
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def _apply(self):
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step_count)

    def step(self):
        self.step_count += 1
        self._apply()

    def rescale(self, factor: float):
        """The peak lr times `factor` from now on (a run backing off from a divergence)."""
        self.base_lr *= factor
        self._apply()

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict):
        self.step_count = int(state["step_count"])
        # A run that backed off saved its lowered peak lr; older files have the recipe's.
        self.base_lr = float(state.get("base_lr", self.base_lr))
        self._apply()
