"""Training on several processes with torch.distributed, started by torchrun.

torchrun (or any launcher that sets WORLD_SIZE, RANK, LOCAL_RANK and MASTER_ADDR,
as SLURM jobs calling torchrun do) starts one process per GPU or CPU share. Each
process here:

- takes its share of every batch of the same seeded order, so `batch_size` is the
  global batch and the schedule is the one a single process would follow;
- draws the augmentation of the whole batch and keeps its share of the draws, so
  every process's random generator stays in step with the others;
- lets DistributedDataParallel average the gradients, each share's loss weighted by
  its size, so a step is the step a single process would take on the whole batch;
- normalises with BatchNorm statistics of the whole batch (SyncBatchNorm on GPUs,
  CpuSyncBatchNorm on CPUs), so every process holds the same weights and buffers;
- scores its share of the validation pictures and gathers everyone's predictions,
  so every process computes the same metrics.

Only rank 0 writes and prints (process.py).
"""
import contextlib
import dataclasses
import datetime
import inspect
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import nn

from ..errors import TrainingError
from ..log import logger
from .rendezvous import fresh_store

TIMEOUT = datetime.timedelta(minutes=30)  # a rank stuck longer than this fails the group


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


@dataclass(frozen=True)
class World:
    """The processes of one training run, as the launcher described them."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0  # on this computer
    local_size: int = 1
    node: int = 0  # which computer (torchrun's GROUP_RANK)
    restarted: bool = False  # torchrun restarted the group after a failure
    launch: Optional[str] = None  # identifies the torchrun that started this process

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def from_environment(cls) -> "World":
        size = _env_int("WORLD_SIZE", 1)
        if size <= 1:
            return cls()
        local_size = _env_int("LOCAL_WORLD_SIZE", size)
        return cls(rank=_env_int("RANK", 0), size=size, local_rank=_env_int("LOCAL_RANK", 0),
                   local_size=local_size, node=_env_int("GROUP_RANK", 0),
                   restarted=_env_int("TORCHELASTIC_RESTART_COUNT", 0) > 0, launch=_launcher_identity())

    # ------------------------------------------------------------ talking to the others

    def from_main(self, compute: Callable[[], Any]) -> Any:
        """`compute()` on rank 0 only, its answer (or its error) given to every rank: for
        files that exist on rank 0's computer only."""
        if not self.distributed:
            return compute()
        try:
            answer = [compute() if self.rank == 0 else None]
        except Exception as exc:  # noqa: BLE001 - raised on every rank below
            answer = [exc]
        dist.broadcast_object_list(answer, src=0)
        if isinstance(answer[0], Exception):
            raise answer[0]
        return answer[0]

    def gather(self, value: Any) -> List[Any]:
        """Every rank's `value`, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        values: List[Any] = [None] * self.size
        dist.all_gather_object(values, value)
        return values

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any."""
        return any(self.gather(bool(flag))) if self.distributed else bool(flag)

    def barrier(self) -> None:
        if self.distributed:
            self.gather(None)  # works for gloo and nccl alike, on any device


SINGLE = World()


def _launcher_identity() -> Optional[str]:
    """torchrun's agent is this process's parent and outlives the restarts it makes: its pid and
    start time tell a restarted worker of this launch from a later launch into the same folder."""
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/stat", encoding="ascii") as handle:
            started = handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
    return f"{os.environ.get('TORCHELASTIC_RUN_ID', '')}:{parent}:{started}"


@contextlib.contextmanager
def process_group(device: torch.device, distributed: Optional[bool]) -> Iterator[Tuple[World, torch.device]]:
    """The run's World and this process's device, with torch.distributed started when
    launched by torchrun (and stopped again afterwards, if it was started here)."""
    world = World.from_environment()
    if distributed is False or not world.distributed:
        if distributed:
            raise TrainingError(
                "distributed=True trains on several processes, but this one was started alone "
                "(WORLD_SIZE is not set). Start the script with torchrun, e.g.\n"
                "    torchrun --nproc_per_node=2 train.py\n"
                "or on the command line: torchrun --nproc_per_node=2 -m easycls train DATA. "
                "Without torchrun, remove distributed=True.")
        yield SINGLE, device
        return
    device = _device_of_rank(device, world)
    started = not dist.is_initialized()
    if started:
        backend = "nccl" if device.type == "cuda" else "gloo"
        store, _, _ = next(dist.rendezvous("env://", timeout=TIMEOUT))
        store, restarted = fresh_store(store, world.rank, world.size, TIMEOUT)
        dist.init_process_group(backend, store=store, rank=world.rank, world_size=world.size,
                                timeout=TIMEOUT)
        world = dataclasses.replace(world, restarted=world.restarted or restarted)
    logger.info(f"Training on {world.size} processes ({dist.get_backend()}): batch_size is the "
                f"batch of all of them together.")
    try:
        yield world, device
    finally:
        if started and dist.is_initialized():
            dist.destroy_process_group()


def _device_of_rank(device: torch.device, world: World) -> torch.device:
    if device.type == "mps":
        raise TrainingError("Training on several processes needs CUDA GPUs or the CPU; Apple's "
                            "MPS has no torch.distributed backend. Use device='cpu'.")
    if device.type != "cuda":
        return device
    index = world.local_rank if device.index is None else device.index
    if index >= torch.cuda.device_count():
        raise TrainingError(
            f"Process {world.rank} is local rank {world.local_rank}, but this computer has only "
            f"{torch.cuda.device_count()} GPU(s). Start at most that many processes per "
            f"computer (torchrun --nproc_per_node={torch.cuda.device_count()}).")
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def check_batch_size(batch_size: int, world: World) -> None:
    """Each process needs two pictures of every batch at least, for BatchNorm."""
    if world.distributed and batch_size < 2 * world.size:
        raise TrainingError(
            f"batch_size={batch_size} is the batch of all {world.size} processes together, so "
            f"some would get fewer than 2 pictures a step. Use batch_size={2 * world.size} or "
            f"more, or fewer processes.")


def wrap_model(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The model as DistributedDataParallel, its BatchNorm layers synchronised (on GPUs by
    torch's SyncBatchNorm, on CPUs by CpuSyncBatchNorm): every process normalises with the
    statistics of the whole batch, as a single process would."""
    if not world.distributed:
        return model
    synced = nn.SyncBatchNorm if device.type == "cuda" else CpuSyncBatchNorm
    model = _replace_batch_norm(
        model, lambda m: isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, SYNCED),
        lambda m: synced)
    ddp = nn.parallel.DistributedDataParallel
    # Buffers are synchronised by the layers above, not by copying rank 0's each step.
    keep_buffers = ({"forward_sync_buffers": False}
                    if "forward_sync_buffers" in inspect.signature(ddp).parameters
                    else {"broadcast_buffers": False})
    return ddp(model, device_ids=[device.index] if device.type == "cuda" else None,
               **keep_buffers)


class _SumOverRanks(torch.autograd.Function):
    """The sum of a tensor over every process, whose gradient is the sum of theirs."""

    @staticmethod
    def forward(ctx, value: torch.Tensor) -> torch.Tensor:
        total = value.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


class CpuSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are summed over every process, for CPUs, where
    torch's SyncBatchNorm does not run. Its weights and buffers are BatchNorm's, so
    checkpoints do not change; in evaluation it is plain BatchNorm."""

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        channels = x.shape[1]
        count = torch.tensor([x.numel() / channels], dtype=x.dtype, device=x.device)
        totals = _SumOverRanks.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        n = totals[-1]
        mean = totals[:channels] / n
        var = (totals[channels:2 * channels] / n - mean * mean).clamp(min=0)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach() * n / (n - 1).clamp(min=1))
        shape = [1, channels] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        self.num_batches_tracked += 1
        # momentum None: a plain average over the batches seen, as BatchNorm does
        factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                  else self.momentum)
        self.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased_var, alpha=factor)


SYNCED = (nn.SyncBatchNorm, CpuSyncBatchNorm)


def plain_batch_norm(model: nn.Module) -> nn.Module:
    """The network with its synchronised BatchNorm layers back as the BatchNorm they were
    (for inference and export after a run on several processes)."""
    return _replace_batch_norm(model, lambda m: isinstance(m, SYNCED),
                               lambda m: getattr(m, "plain_kind", nn.BatchNorm2d))


def _replace_batch_norm(module: nn.Module, replace: Callable[[nn.Module], bool],
                        kind: Callable[[nn.Module], type]) -> nn.Module:
    """`module` with each BatchNorm layer that `replace` picks rebuilt as `kind(layer)`, with
    the same parameters and buffers."""
    if replace(module):
        new = kind(module)(module.num_features, module.eps, module.momentum, module.affine,
                           module.track_running_stats)
        if isinstance(new, SYNCED):
            new.plain_kind = type(module)
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        new.running_mean, new.running_var = module.running_mean, module.running_var
        new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        module = new
    for name, child in module.named_children():
        module.add_module(name, _replace_batch_norm(child, replace, kind))
    return module


def batch_norm_layers(model: nn.Module) -> List[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def sum_over_ranks(value: torch.Tensor, world: World) -> torch.Tensor:
    if world.distributed:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value
