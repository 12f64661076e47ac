"""Top-k accuracy of a model over batches of uint8 images."""
from typing import Dict, Iterable, Sequence

import torch


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, topk: Sequence[int]) -> Dict[int, int]:
    """How many labels are among the k highest scores, for each k."""
    ranked = logits.topk(max(topk), dim=1).indices
    hits = ranked == labels[:, None]
    return {k: int(hits[:, :k].any(dim=1).sum()) for k in topk}


@torch.inference_mode()
def evaluate(model, batches: Iterable, prepare, topk: Sequence[int]) -> Dict[str, float]:
    """{'accuracy_top-1': percent, ...}; `prepare` turns a uint8 batch into model input."""
    model.eval()
    correct, total = {k: 0 for k in topk}, 0
    for images, labels in batches:
        logits = model(prepare(images))
        for k, hits in topk_correct(logits.float(), labels.to(logits.device), topk).items():
            correct[k] += hits
        total += len(labels)
    return {f"accuracy_top-{k}": round(100.0 * correct[k] / max(1, total), 4) for k in topk}
