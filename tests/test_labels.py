"""find_label_issues: planted wrong labels are found, and the data set is never changed."""
import contextlib
import csv
import hashlib
import io
import shutil
import sys

import numpy as np
import pytest

from easycls.data.folder import read_dataset
from easycls.data.synthetic import make_hand_gestures
from easycls.errors import DatasetError, EasyclsError
from easycls.labels import find_label_issues, stratified_folds

PER_CLASS = 60
PLANTED = 3  # 5% of one class's training pictures, moved into another class's folder


def _snapshot(root):
    return {str(path.relative_to(root)): hashlib.sha1(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = make_hand_gestures(tmp_path_factory.mktemp("labels") / "hands", PER_CLASS, 0, 0,
                              size=32, classes=("paper", "rock", "scissors"))
    moved = []
    for source in sorted((root / "training_set" / "paper").iterdir())[:PLANTED]:
        target = root / "training_set" / "rock" / source.name
        shutil.move(source, target)
        moved.append(str(target))
    return root, moved


@pytest.fixture(scope="module")
def checked(planted, tmp_path_factory):
    root, moved = planted
    outputs = tmp_path_factory.mktemp("outputs")
    before = _snapshot(root)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        suspects = find_label_issues(root, out=outputs / "suspects.csv",
                                     save=outputs / "suspects.png", move_to=outputs / "review")
    return {"suspects": suspects, "moved": moved, "root": root, "before": before,
            "outputs": outputs, "printed": printed.getvalue()}


def test_most_planted_wrong_labels_are_among_the_top_suspects(checked):
    top = [row["image"] for row in checked["suspects"][:2 * PLANTED]]
    found = [path for path in checked["moved"] if path in top]
    assert len(found) >= 2 * PLANTED / 3, checked["suspects"][:2 * PLANTED]


def test_each_suspect_says_given_and_suggested_class_with_a_score(checked):
    rows = checked["suspects"]
    assert rows
    first = rows[0]
    assert set(first) == {"image", "given", "suggested", "score", "given_label",
                          "suggested_label"}
    assert first["given"] == ["paper", "rock", "scissors"][first["given_label"]]
    assert first["suggested"] != first["given"]
    assert [row["score"] for row in rows[:2 * PLANTED]][0] < 0.5


def test_a_planted_paper_picture_is_suggested_as_paper(checked):
    planted = [row for row in checked["suspects"] if row["image"] in checked["moved"]]
    assert planted and all(row["given"] == "rock" for row in planted)
    assert any(row["suggested"] == "paper" for row in planted)


def test_the_data_set_folder_is_unchanged_afterwards(checked):
    assert _snapshot(checked["root"]) == checked["before"]


def test_move_to_copies_the_suspects_into_given_as_suggested_folders(checked):
    review = checked["outputs"] / "review"
    for row in checked["suspects"]:
        copy = review / f"{row['given']}__as__{row['suggested']}" / row["image"].split("/")[-1]
        assert copy.read_bytes() == open(row["image"], "rb").read()


def test_out_writes_one_csv_row_per_suspect(checked):
    with open(checked["outputs"] / "suspects.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(checked["suspects"])
    assert rows[0]["image"] == checked["suspects"][0]["image"]
    assert rows[0]["given"] == checked["suspects"][0]["given"]
    assert float(rows[0]["score"]) == pytest.approx(checked["suspects"][0]["score"])


def test_save_draws_a_png_of_the_suspects(checked):
    picture = checked["outputs"] / "suspects.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_line_per_fold_the_chosen_epochs_and_a_summary_are_printed(checked):
    printed = checked["printed"]
    assert "epochs=15 (each fold trains on 144 pictures" in printed
    for fold in range(1, 6):
        assert f"Fold {fold}/5: trained on 144 pictures, scored 36" in printed
    assert f"{len(checked['suspects'])} of 180 pictures look mislabeled" in printed


def test_missing_cleanlab_says_how_to_install_it(planted, monkeypatch):
    for name in [name for name in sys.modules if name.split(".")[0] == "cleanlab"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cleanlab", None)  # import cleanlab now fails
    with pytest.raises(ImportError, match=r"pip install easycls\[labels\]"):
        find_label_issues(planted[0])


def test_folds_below_two_are_refused_with_an_example(planted):
    with pytest.raises(EasyclsError, match=r"folds=1 is not valid.*at least 2.*folds=5"):
        find_label_issues(planted[0], folds=1)


def test_more_folds_than_pictures_of_a_class_are_explained(planted):
    with pytest.raises(DatasetError, match=r"has 57 pictures.*fewer than folds=100"):
        find_label_issues(planted[0], folds=100)


def test_a_review_folder_inside_the_data_set_is_refused(planted):
    with pytest.raises(EasyclsError, match="inside the data set"):
        find_label_issues(planted[0], move_to=planted[0] / "review")


def test_an_empty_split_is_explained(planted):
    with pytest.raises(DatasetError, match=r"split='test' has no pictures.*'train'"):
        find_label_issues(read_dataset(planted[0], write_lists=False), split="test")


def test_folds_spread_each_class_evenly_and_repeat_with_the_seed():
    labels = np.repeat([0, 1, 2], [10, 7, 5])
    folds = stratified_folds(labels, 5, seed=3)
    for label in range(3):
        counts = np.bincount(folds[labels == label], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert (np.bincount(folds).max() - np.bincount(folds).min()) <= 1
    assert (stratified_folds(labels, 5, seed=3) == folds).all()
