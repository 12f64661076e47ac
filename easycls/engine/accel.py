"""GPU speed-ups (mixed precision, channels_last, cuDNN autotune); on a CPU channels_last and
bfloat16 mixed precision, for the backbones they make faster there."""
import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn


@dataclass
class Acceleration:
    device: torch.device
    amp_dtype: Optional[torch.dtype] = None
    channels_last: bool = False
    scaler: Optional[object] = None  # a GradScaler, for fp16 only

    @classmethod
    def for_device(cls, device: torch.device, enabled: bool = True,
                   channels_last_on_cpu: bool = False, bf16_on_cpu: bool = False
                   ) -> "Acceleration":
        if device.type == "cpu":
            bf16 = bf16_on_cpu and enabled and cpu_has_native_bf16()
            return cls(device, torch.bfloat16 if bf16 else None,
                       channels_last=channels_last_on_cpu and enabled)
        if device.type != "cuda" or not enabled:
            return cls(device)
        torch.backends.cudnn.benchmark = True
        bf16 = torch.cuda.is_bf16_supported()
        # fp16 needs loss scaling against underflow; bf16 has fp32's range and does not.
        return cls(device, torch.bfloat16 if bf16 else torch.float16, True,
                   None if bf16 else _grad_scaler())

    def for_scoring(self) -> "Acceleration":
        """These speed-ups for validation, less a CPU's mixed precision: scored in float32
        as evaluate() and inference score on a CPU, the accuracies in log.json match theirs."""
        if self.device.type == "cpu" and self.amp_dtype is not None:
            return dataclasses.replace(self, amp_dtype=None)
        return self

    def prepare_model(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                          max_grad_norm: Optional[float] = None) -> None:
        """One weight update; gradients longer than max_grad_norm are shortened to it."""
        if self.scaler is None:
            loss.backward()
            _clip(optimizer, max_grad_norm)
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        if max_grad_norm is not None:
            self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            _clip(optimizer, max_grad_norm)
        self.scaler.step(optimizer)
        self.scaler.update()

    def load_state_dict(self, state: Optional[dict]) -> None:
        """Loss-scaler state from a checkpoint (fp16 only), so resuming is exact."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)

    def describe(self) -> str:
        layout = ", channels_last" if self.channels_last else ""
        if self.amp_dtype is None:
            return f"{self.device.type}: float32{layout}"
        if self.device.type == "cpu":
            return f"cpu: bfloat16 mixed precision{layout}"
        return f"{self.device}: {str(self.amp_dtype).replace('torch.', '')} mixed precision, channels_last, cudnn.benchmark"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX): elsewhere
    bfloat16 is emulated and slower than float32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu, torch >= 2.1
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _clip(optimizer: torch.optim.Optimizer, max_grad_norm: Optional[float]) -> None:
    if max_grad_norm is not None:
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        nn.utils.clip_grad_norm_(parameters, max_grad_norm)


def _grad_scaler():
    if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()
