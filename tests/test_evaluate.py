"""model.evaluate(): metrics arithmetic, the report, files of per-picture rows, class weights."""
import csv
import json

import pytest
import torch

from easycls import Classifier, DatasetError, EasyclsError, TrainingError
from easycls.engine.trainer import loss_weights
from easycls.metrics import confusion_matrix, per_class_metrics

CLASSES = ["cat", "dog", "fox"]


@pytest.fixture(scope="module")
def model(trained, hand_data):
    """The trained run's best checkpoint, with its data set loaded."""
    _, save_fold, _ = trained
    model = Classifier("LeNet")
    model.load_checkpoint(save_fold / "best_accuracy_top-1.pth")
    model.load_dataset(hand_data, check=None)
    return model


def test_confusion_matrix_rows_are_the_true_classes():
    assert confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 3) == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_per_class_metrics_match_a_hand_computed_case():
    # true cat x3, dog x2, fox x1; predicted: cat cat dog | dog cat | fox
    counts = confusion_matrix([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 0, 2], 3)
    m = per_class_metrics(counts, CLASSES)
    assert m["support"] == {"cat": 3, "dog": 2, "fox": 1}
    assert m["precision"]["cat"] == pytest.approx(100 * 2 / 3)  # 2 of 3 "cat" guesses right
    assert m["recall"]["cat"] == pytest.approx(100 * 2 / 3)
    assert m["precision"]["dog"] == pytest.approx(50.0) and m["recall"]["dog"] == pytest.approx(50.0)
    assert m["f1_score"]["fox"] == pytest.approx(100.0)
    assert m["macro_recall"] == pytest.approx((200 / 3 + 50 + 100) / 3)
    assert m["macro_f1_score"] == pytest.approx((200 / 3 + 50 + 100) / 3)


def test_a_class_never_predicted_scores_zero_instead_of_nan():
    counts = confusion_matrix([0, 1, 2], [0, 0, 0], 3)
    m = per_class_metrics(counts, CLASSES)
    assert m["precision"]["dog"] == 0.0 and m["recall"]["dog"] == 0.0 and m["f1_score"]["dog"] == 0.0
    assert m["precision"]["cat"] == pytest.approx(100 / 3)
    assert all(value == value for value in m["f1_score"].values())  # no NaN


def test_a_class_without_samples_is_left_out_of_the_averages():
    counts = confusion_matrix([0, 0, 1], [0, 0, 1], 3)  # no fox in this split
    m = per_class_metrics(counts, CLASSES)
    assert m["support"]["fox"] == 0 and m["recall"]["fox"] == 0.0
    assert m["macro_recall"] == pytest.approx(100.0) and m["macro_f1_score"] == pytest.approx(100.0)


def test_evaluate_on_the_validation_split_agrees_with_the_last_validation_line(trained):
    model, _, history = trained
    report = model.evaluate("val")
    assert report["accuracy_top-1"] == history[-1]["accuracy_top-1"]
    assert report["num_images"] == sum(report["support"].values()) == 36
    assert sum(map(sum, report["confusion_matrix"])) == 36
    assert report["class_names"] == ["paper", "rock", "scissors"]


def test_evaluate_prints_a_report_and_returns_every_picture(model, hand_data, capsys):
    report = model.evaluate()
    out = capsys.readouterr().out
    assert f"Evaluated 36 pictures: the test split of '{hand_data}'" in out
    assert "precision" in out and "macro avg" in out and "accuracy: top-1" in out
    matrix = out.split("confusion matrix (rows: true class, columns: predicted class):\n")[1]
    assert matrix.splitlines()[0].split() == ["paper", "rock", "scissors"]
    assert [int(n) for n in matrix.splitlines()[1].split()[1:]] == report["confusion_matrix"][0]
    assert len(report["predictions"]) == 36
    row = report["predictions"][0]
    assert row["image"].endswith(".png") and row["true_class"] == "paper"
    assert row["correct"] == (row["pred_class"] == row["true_class"])
    assert row["topk"][0] == (row["pred_class"], row["pred_score"])
    accuracy = 100 * sum(r["correct"] for r in report["predictions"]) / 36
    assert report["accuracy_top-1"] == pytest.approx(accuracy)


def test_the_report_speaks_chinese(model, hand_data, capsys):
    model.evaluate("val", lang="zh")
    out = capsys.readouterr().out
    assert "评估了 36 张图片" in out and "精确率" in out and "宏平均" in out


def test_predictions_go_to_a_csv_a_spreadsheet_opens(model, tmp_path):
    report = model.evaluate(out=tmp_path / "rows.csv")
    with open(tmp_path / "rows.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 36 and list(rows[0]) == ["image", "true_class", "pred_class",
                                                 "pred_score", "correct", "topk"]
    assert rows[5]["pred_class"] == report["predictions"][5]["pred_class"]


def test_a_json_file_holds_the_whole_report(model, tmp_path):
    report = model.evaluate(out=tmp_path / "report.json")
    saved = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert saved["confusion_matrix"] == report["confusion_matrix"]
    assert len(saved["predictions"]) == 36


def test_an_unknown_output_type_is_explained_before_any_picture_is_scored(model, tmp_path, capsys):
    with pytest.raises(EasyclsError, match=r"end the name with .csv"):
        model.evaluate(out=tmp_path / "rows.xlsx")
    assert "Evaluated" not in capsys.readouterr().out


def test_any_folder_of_class_folders_can_be_evaluated(trained, hand_data):
    _, save_fold, _ = trained
    model = Classifier("LeNet")
    report = model.evaluate(hand_data / "test_set", checkpoint=save_fold / "best_accuracy_top-1.pth")
    assert report["num_images"] == 36 and report["split"] is None
    assert model.net is None  # evaluating a checkpoint does not change the model


def test_a_data_set_without_a_test_split_is_evaluated_on_its_validation_split(
        six_class_data, tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(six_class_data, check=None)
    model.train(epochs=1, verbose=False, save_fold=tmp_path)
    report = model.evaluate()
    assert report["split"] == "val" and "has no test pictures" in capsys.readouterr().out
    assert {"accuracy_top-1", "accuracy_top-5"} <= report.keys()


def test_evaluating_a_split_without_a_data_set_says_what_to_do(trained):
    _, save_fold, _ = trained
    model = Classifier("LeNet")
    model.load_checkpoint(save_fold / "best_accuracy_top-1.pth")
    with pytest.raises(DatasetError, match="No data set is loaded, so there is no 'test' split"):
        model.evaluate("test")


def test_a_data_set_of_other_classes_is_refused_by_name(trained, six_class_data):
    _, save_fold, _ = trained
    model = Classifier("LeNet")
    model.load_checkpoint(save_fold / "best_accuracy_top-1.pth")
    with pytest.raises(DatasetError, match="The model knows the classes paper, rock, scissors, but"):
        model.evaluate(six_class_data)


def test_a_bad_topk_for_evaluate_is_explained(model):
    with pytest.raises(EasyclsError, match="topk=7 is not valid for 3 classes"):
        model.evaluate(topk=7)


def test_balanced_class_weights_count_rare_classes_more():
    weights = loss_weights("balanced", [0, 0, 0, 1], 2)
    assert weights.tolist() == pytest.approx([4 / 6, 4 / 2])
    assert loss_weights(None, [0, 1], 2) is None
    assert loss_weights([1.0, 3.0], [0, 1], 2).tolist() == [1.0, 3.0]


def test_class_weight_is_recorded_in_the_checkpoint_and_kept_on_resume(fresh_data, tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(fresh_data, check=None)
    model.train(epochs=1, class_weight=[1, 2, 3], save_fold=tmp_path, verbose=False)
    saved = torch.load(tmp_path / "latest.pth", weights_only=True)
    assert saved["meta"]["recipe"]["class_weight"] == [1.0, 2.0, 3.0]
    model.train(epochs=2, resume=True, class_weight="balanced", save_fold=tmp_path)
    assert "ignoring class_weight" in capsys.readouterr().out
    assert torch.load(tmp_path / "latest.pth", weights_only=True)["meta"]["recipe"][
        "class_weight"] == [1.0, 2.0, 3.0]


def test_a_class_weight_list_of_the_wrong_length_is_explained(fresh_data, tmp_path):
    model = Classifier("LeNet")
    model.load_dataset(fresh_data, check=None)
    with pytest.raises(TrainingError, match=r"a list of 3 weights of 0 or more, one per class"):
        model.train(epochs=1, class_weight=[1, 2], save_fold=tmp_path)


def test_a_notebook_echoes_the_report_briefly_and_it_stays_a_plain_dict(model):
    pretty = pytest.importorskip("IPython.lib.pretty").pretty
    report = model.evaluate()
    echo = pretty(report)
    assert "'predictions': [... 36 items]" in echo and len(echo) < 2000
    assert isinstance(report, dict) and json.loads(json.dumps(report))["num_images"] == 36


def test_a_misspelt_split_name_is_suggested(model):
    with pytest.raises(FileNotFoundError, match=r"neither a split name .* Did you mean 'test'\?"):
        model.evaluate("tset")
