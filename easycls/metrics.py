"""Metrics computed from predictions: plain numbers, unrounded (rounding is for printing).

Percentages throughout (0-100), as in log.json and OpenMMLab's metrics.
"""
from typing import Dict, List, Sequence

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


def confusion_matrix(labels: Sequence[int], predicted: Sequence[int],
                     num_classes: int) -> List[List[int]]:
    """counts[true][predicted]: rows are the true classes."""
    counts = [[0] * num_classes for _ in range(num_classes)]
    for true, guess in zip(labels, predicted):
        counts[int(true)][int(guess)] += 1
    return counts


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0  # never predicted / no samples: 0, not NaN


def per_class_metrics(counts: List[List[int]], classes: Sequence[str]) -> dict:
    """Precision, recall, F1 and support per class (keyed by name) from a confusion matrix,
    and their macro averages over the classes that have samples.

    A class never predicted has precision 0; a class without samples has recall 0
    and is left out of the averages, since nothing about it was measured.
    """
    n = len(classes)
    support = [sum(counts[i]) for i in range(n)]
    predicted = [sum(counts[t][i] for t in range(n)) for i in range(n)]
    precision = [_percent(counts[i][i], predicted[i]) for i in range(n)]
    recall = [_percent(counts[i][i], support[i]) for i in range(n)]
    f1 = [2 * p * r / (p + r) if p + r else 0.0 for p, r in zip(precision, recall)]
    measured = [i for i in range(n) if support[i]]

    def macro(values):
        return sum(values[i] for i in measured) / len(measured) if measured else 0.0

    def by_name(values):
        return {name: values[i] for i, name in enumerate(classes)}

    return {"precision": by_name(precision), "recall": by_name(recall), "f1_score": by_name(f1),
            "support": by_name(support), "macro_precision": macro(precision),
            "macro_recall": macro(recall), "macro_f1_score": macro(f1)}
