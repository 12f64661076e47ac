"""Choosing the device: 'auto' picks the fastest one present."""
import torch

from ..errors import TrainingError


def resolve_device(device="auto") -> torch.device:
    """'auto' -> cuda if present, else mps, else cpu; explicit names are checked."""
    if isinstance(device, torch.device):
        device = str(device)
    if device is None or str(device).lower() == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    name = str(device).lower()
    try:
        chosen = torch.device(name)
    except RuntimeError as exc:
        raise TrainingError(f"Unknown device {device!r}. Use 'auto', 'cpu', 'cuda', 'cuda:0' "
                            f"(the GPU number) or 'mps' (Apple).") from exc
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError(f"device={device!r} was asked for, but this computer has no "
                                f"usable NVIDIA GPU (torch.cuda.is_available() is False). Use "
                                f"device='cpu', or 'auto' to pick the best device present.")
        count = torch.cuda.device_count()
        if chosen.index is not None and chosen.index >= count:
            raise TrainingError(f"device={device!r} was asked for, but there are only {count} "
                                f"GPU(s), numbered 0 to {count - 1}.")
    if chosen.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                     and torch.backends.mps.is_available()):
        raise TrainingError(f"device={device!r} was asked for, but Apple's MPS is not available "
                            f"here. Use device='cpu' or 'auto'.")
    if chosen.type not in ("cpu", "cuda", "mps"):
        raise TrainingError(f"Unsupported device {device!r}. Use 'auto', 'cpu', 'cuda' or 'mps'.")
    return chosen
