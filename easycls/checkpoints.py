"""Checkpoint files at a glance: what one holds, and a smaller copy to share."""
from pathlib import Path
from typing import Union

from .engine.checkpoint import checkpoint_info, format_checkpoint_info, publish_checkpoint
from .log import logger
from .process import is_main_process


def pth_info(checkpoint: Union[str, Path]) -> dict:
    """Print what a checkpoint holds (backbone, classes, input, epochs, best accuracy,
    settings, whether it can resume) and return it as a dict.

    Example:
        >>> info = easycls.pth_info('checkpoints/lenet_hand_gray.pth')
        >>> info['backbone'], info['classes'], info['resumable']
        ('LeNet', ['paper', 'rock', 'scissors'], False)
    """
    info = checkpoint_info(checkpoint)
    logger.info(format_checkpoint_info(info))
    return info


def publish(checkpoint: Union[str, Path], out: Union[str, Path]) -> str:
    """A copy to share: weights and meta only (smaller; it cannot resume), named
    OUT-<first 8 hex digits of its sha256>.pth so anyone can check the file.

    Example:
        >>> easycls.publish('checkpoints/hand_gray/latest.pth', 'release/hand_gray.pth')
        'release/hand_gray-....pth'
    """
    if not is_main_process():
        return ""
    path = publish_checkpoint(checkpoint, out)
    logger.info(f"Published '{checkpoint}' as '{path}' ({path.stat().st_size / 1e6:.1f} MB, "
                f"weights and meta only).")
    return str(path)
