"""Which process of a run this is: only the main one writes files and prints.

Launchers of multi-process training (torchrun, torch.distributed, SLURM via
torchrun) set RANK (global) and LOCAL_RANK (on this machine) for every process.
One process writes lists, checkpoints, log.json and messages; the others only
compute, so N processes never write the same file N times.
"""
import os


def process_rank() -> int:
    """This process's global rank: 0 when run alone."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank()
    except ImportError:  # a torch without the distributed package
        pass
    for variable in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(variable, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def is_main_process() -> bool:
    """True in a single-process run, and in rank 0 of a multi-process one."""
    return process_rank() == 0
