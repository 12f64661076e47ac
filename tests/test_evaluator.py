"""The Evaluator: per-image predictions with paths, and the metrics computed from them."""
import pytest
import torch

from easycls import DatasetError
from easycls.data.folder import labelled_images, read_dataset
from easycls.engine.checkpoint import model_from_checkpoint, read_checkpoint
from easycls.engine.evaluator import predict_samples
from easycls.metrics import topk_accuracy


@pytest.fixture(scope="module")
def best(trained):
    _, save_fold, _ = trained
    return read_checkpoint(save_fold / "best_accuracy_top-1.pth")


def predictions_on(trained, best, split):
    model, _, _ = trained
    dataset = read_dataset(model.dataset.root, notify=lambda _: None)
    return predict_samples(model_from_checkpoint(best), best.meta.input, dataset.splits[split], dataset.classes,
                           torch.device("cpu")), dataset.splits[split]


def test_predictions_name_every_picture_in_the_splits_order(trained, best):
    predictions, samples = predictions_on(trained, best, "test")
    assert predictions.paths == [path for path, _ in samples]
    assert predictions.labels.tolist() == [label for _, label in samples]
    assert predictions.probabilities.shape == (len(samples), 3)
    assert torch.allclose(predictions.probabilities.sum(dim=1), torch.ones(len(samples)), atol=1e-5)


def test_evaluating_the_validation_split_gives_the_best_validation_line(trained, best):
    predictions, _ = predictions_on(trained, best, "val")
    assert predictions.metrics((1,))["accuracy_top-1"] == best.meta.best["accuracy_top-1"]


def test_the_test_split_is_classified_well(trained, best):
    predictions, _ = predictions_on(trained, best, "test")
    assert predictions.metrics((1, 2))["accuracy_top-1"] >= 85.0


def test_topk_accuracy_by_hand():
    probabilities = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    labels = torch.tensor([0, 1, 2])
    assert topk_accuracy(probabilities, labels, (1, 2, 3)) == {
        "accuracy_top-1": pytest.approx(100 / 3), "accuracy_top-2": pytest.approx(200 / 3),
        "accuracy_top-3": 100.0}
    assert topk_accuracy(probabilities[:0], labels[:0], (1,)) == {"accuracy_top-1": 0.0}


def test_any_folder_of_class_folders_is_evaluated_whole(trained, best, tmp_path):
    model, _, _ = trained
    samples = labelled_images(model.dataset.root / "test_set", best.meta.classes)
    assert len(samples) == 36
    predictions = predict_samples(model_from_checkpoint(best), best.meta.input, samples,
                                  best.meta.classes, torch.device("cpu"))
    assert len(predictions) == 36 and predictions.metrics()["accuracy_top-1"] >= 85.0


def test_a_folder_with_a_stray_class_is_refused_by_name(tmp_path):
    (tmp_path / "rock").mkdir()
    (tmp_path / "lizard").mkdir()
    with pytest.raises(DatasetError, match="folder\\(s\\) 'lizard' that are not classes"):
        labelled_images(tmp_path, ["paper", "rock", "scissors"])
