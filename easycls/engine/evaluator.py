"""Predictions of a model on a split or any folder: per image, with paths, and their metrics.

The trainer's validation, `inference` (through Scorer) and evaluation all score
pictures here, the same way: uint8 batches, the checkpoint's normalisation, softmax.
"""
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..data.augment import Normalize
from ..data.input_spec import InputSpec
from ..data.pipeline import make_batches, should_cache
from ..metrics import topk_accuracy
from .accel import Acceleration

EVAL_BATCH_SIZE = 64


class Scorer:
    """A model with its input normalisation: uint8 NxCxHxW in, class probabilities out."""

    def __init__(self, model: nn.Module, spec: InputSpec, device: torch.device,
                 accel: Optional[Acceleration] = None):
        self.model, self.spec, self.device = model, spec, device
        self.accel = accel or Acceleration(device)
        self.normalize = Normalize(spec.mean, spec.std, device)

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Probabilities (float32, on the CPU) of a uint8 batch on any device."""
        inputs = self.accel.prepare_input(self.normalize(images.to(self.device, non_blocking=True)))
        with self.accel.autocast():
            logits = self.model(inputs)
        return logits.float().softmax(dim=1).cpu()


@dataclass
class Predictions:
    """What a model said about each picture of a split, in the split's order.

    positions[i] is the picture's place in the split's sample list and paths[i]
    its file; labels[i] its true class; probabilities[i] the model's scores.
    """

    classes: List[str]
    positions: torch.Tensor
    paths: List[str]
    labels: torch.Tensor
    probabilities: torch.Tensor
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # (path, why) not scored

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def predicted(self) -> torch.Tensor:
        return self.probabilities.argmax(dim=1)

    def metrics(self, topk: Sequence[int] = (1,)) -> Dict[str, float]:
        return topk_accuracy(self.probabilities, self.labels, topk)


def gather_predictions(predictions: Predictions, world) -> Predictions:
    """Each process's predictions of its part of a split, put together in the split's order on
    every process (`world`: distributed.World), so all compute the same metrics."""
    if not world.distributed:
        return predictions
    parts = world.gather(predictions)
    positions = torch.cat([part.positions for part in parts])
    order = positions.argsort()
    paths = [path for part in parts for path in part.paths]
    return Predictions(predictions.classes, positions[order], [paths[i] for i in order.tolist()],
                       torch.cat([part.labels for part in parts])[order],
                       torch.cat([part.probabilities for part in parts])[order],
                       sorted({pair for part in parts for pair in part.skipped}))


class Evaluator:
    """Scores every picture of a batch source, keeping which picture each score is for."""

    def __init__(self, scorer: Scorer, classes: Sequence[str]):
        self.scorer, self.classes = scorer, list(classes)

    def predict(self, batches: Iterable, skipped: Sequence[Tuple[str, str]] = ()) -> Predictions:
        """Predictions for a batch source (CachedBatches or StreamedBatches)."""
        self.scorer.model.eval()
        positions, labels, probabilities = [], [], []
        for batch in batches:
            probabilities.append(self.scorer(batch.images))
            labels.append(batch.labels.cpu())
            positions.append(batch.positions.cpu())
        skipped = list(skipped) + [(path, batches.reason(path)) for path in sorted(set(batches.bad_files))]
        if not labels:
            return Predictions(self.classes, torch.zeros(0, dtype=torch.int64), [],
                               torch.zeros(0, dtype=torch.int64),
                               torch.zeros(0, len(self.classes)), skipped)
        positions = torch.cat(positions)
        return Predictions(self.classes, positions,
                           [batches.samples[i][0] for i in positions.tolist()], torch.cat(labels),
                           torch.cat(probabilities), skipped)


def predict_samples(model: nn.Module, spec: InputSpec, samples: Sequence[Tuple[str, int]],
                    classes: Sequence[str], device: torch.device,
                    batch_size: int = EVAL_BATCH_SIZE) -> Predictions:
    """Predictions for (path, label) samples: a data set's split, or `labelled_images(folder)`.

    Scored with the same precision as training's validation on that device, so the
    numbers agree with log.json's.
    """
    batches, skipped = make_batches(samples, spec, batch_size=batch_size, shuffle=False,
                                    cached=should_cache("auto", len(samples), spec))
    accel = Acceleration.for_device(device)
    scorer = Scorer(accel.prepare_model(model), spec, device, accel)
    return Evaluator(scorer, classes).predict(batches, skipped)
