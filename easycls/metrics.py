"""Metrics computed from predictions: plain numbers, unrounded (rounding is for printing)."""
from typing import Dict, Sequence

import torch


def topk_accuracy(probabilities: torch.Tensor, labels: torch.Tensor,
                  topk: Sequence[int]) -> Dict[str, float]:
    """{'accuracy_top-k': percent of labels among the k highest scores} for each k."""
    if len(labels) == 0:
        return {f"accuracy_top-{k}": 0.0 for k in topk}
    ranked = probabilities.topk(min(max(topk), probabilities.shape[1]), dim=1).indices
    hits = ranked == labels[:, None].to(ranked.device)
    return {f"accuracy_top-{k}": 100.0 * float(hits[:, :k].any(dim=1).sum()) / len(labels)
            for k in topk}
