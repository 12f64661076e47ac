"""The dataset doctor names every problem of a broken data set."""
import shutil

import pytest
from PIL import Image

import easycls
from easycls import Classifier, DatasetError, check_dataset
from easycls.data.synthetic import make_hand_gestures


@pytest.fixture
def data(tmp_path):
    return make_hand_gestures(tmp_path / "data", train_per_class=12, val_per_class=4,
                              test_per_class=2, size=32)


def only(report, words):
    """The single warning or error containing `words`."""
    found = [line for line in report.warnings + report.errors if words in line]
    assert len(found) == 1, (words, report.warnings, report.errors)
    return found[0]


def test_a_clean_data_set_has_no_problems(data, capsys):
    report = check_dataset(data)
    assert report.ok and not report.warnings
    assert report.counts == {"train": [12, 12, 12], "val": [4, 4, 4], "test": [2, 2, 2]}
    assert "no problems found" in capsys.readouterr().out


def test_litter_and_stray_files_are_named(data):
    (data / "training_set" / "__MACOSX").mkdir()
    (data / "training_set" / "rock" / "Thumbs.db").write_bytes(b"x")
    (data / "training_set" / ".ipynb_checkpoints").mkdir()
    (data / "training_set" / "rock" / "notes.docx").write_bytes(b"x")
    report = check_dataset(data, verbose=False)
    litter = only(report, "leftover")
    assert "__MACOSX" in litter and "Thumbs.db" in litter and ".ipynb_checkpoints" in litter
    assert "notes.docx" in only(report, "not images")


def test_empty_class_folder_is_named(data):
    for path in (data / "val_set" / "rock").iterdir():
        path.unlink()
    (data / "val.txt").unlink()
    report = check_dataset(data, verbose=False)
    assert "val_set/rock" in only(report, "class folder(s) with no images")
    assert "rock" in only(report, "Validation has no images of")


def test_unreadable_and_truncated_images_are_named_with_the_reason(data):
    target = data / "training_set" / "paper" / "paper_0000.png"
    target.write_bytes(target.read_bytes()[:80])
    quick = check_dataset(data, verbose=False)
    full = check_dataset(data, check="full", verbose=False)
    assert "paper_0000.png" in only(full, "unreadable image(s)")
    assert "Training skips them" not in " ".join(quick.errors)
    assert "truncated" in only(full, "unreadable").lower() or "OSError" in only(full, "unreadable")


def test_many_unreadable_images_are_an_error(data):
    for path in list((data / "training_set" / "paper").glob("*.png"))[:3]:
        path.write_bytes(b"not a png")
    report = check_dataset(data, verbose=False)
    assert not report.ok and "more than 1%" in only(report, "unreadable")


def test_mixed_modes_tiny_images_and_imbalance_are_reported(data):
    Image.new("RGB", (32, 32), "red").save(data / "training_set" / "rock" / "colour.png")
    Image.new("L", (4, 4)).save(data / "training_set" / "rock" / "tiny.png")
    for i in range(30):
        Image.new("L", (32, 32), i).save(data / "training_set" / "paper" / f"extra_{i}.png")
    report = check_dataset(data, verbose=False)
    assert "RGB 1" in only(report, "Mixed image modes")
    assert "tiny.png (4x4)" in only(report, "tiny image(s)")
    assert "paper has 42 training images but scissors only 12" in only(report, "imbalanced")


def test_files_shared_between_splits_are_leakage(data):
    shutil.copy(data / "training_set" / "rock" / "rock_0000.png", data / "val_set" / "rock" / "leak.png")
    (data / "val.txt").unlink()
    report = check_dataset(data, verbose=False)
    assert "leak.png" in only(report, "more than one split")


def test_classes_only_in_validation_are_reported(data):
    shutil.rmtree(data / "training_set" / "scissors")
    report = check_dataset(data, verbose=False)
    assert any(w.startswith("val has images of scissors, which training has none of") for w in report.warnings)


def test_val_txt_errors_are_errors_in_the_report(data):
    (data / "val.txt").write_text("paper/paper_0000.png 9\n")
    report = check_dataset(data, verbose=False)
    assert not report.ok and "label 9 is outside 0..2" in report.errors[0]


def test_the_doctor_does_not_write_into_the_data_set(data):
    (data / "classes.txt").unlink()
    (data / "val.txt").unlink()
    check_dataset(data, verbose=False)
    assert not (data / "classes.txt").exists() and not (data / "val.txt").exists()


def test_load_dataset_prints_warnings_and_stops_on_errors(data, capsys):
    (data / "training_set" / "rock" / "notes.docx").write_bytes(b"x")
    Classifier("LeNet").load_dataset(data)
    assert "Warning: 1 file(s) that are not images" in capsys.readouterr().out
    for path in list((data / "training_set" / "paper").glob("*.png"))[:3]:
        path.write_bytes(b"broken")
    with pytest.raises(DatasetError, match="unreadable image"):
        Classifier("LeNet").load_dataset(data)


def test_bad_check_level_is_explained(data):
    with pytest.raises(ValueError, match="check='deep' is not valid"):
        easycls.check_dataset(data, check="deep")


def test_report_prints_a_table_of_counts(data, capsys):
    check_dataset(data)
    out = capsys.readouterr().out
    assert "paper" in out and "train" in out and "=>" in out


def test_several_label_problems_are_all_named_with_the_image_checks(data):
    (data / "val.txt").write_text("paper/paper_0000.png 9\nrock/rock_0000.png 0\n")
    (data / "test.txt").write_text("rock/gone.png 1\n")
    shutil.copytree(data / "training_set" / "rock", data / "training_set" / "spock")
    target = data / "training_set" / "paper" / "paper_0001.png"
    target.write_bytes(b"broken")
    report = check_dataset(data, verbose=False)
    text = " | ".join(report.errors)
    assert "label 9 is outside 0..2" in text and "is in folder 'rock' but has label 0" in text
    assert "rock/gone.png" in text and "'spock'" in text
    assert "paper_0001.png" in only(report, "unreadable image(s)")
    assert report.classes == ["paper", "rock", "scissors"]


def test_load_dataset_lists_every_label_problem(data):
    (data / "val.txt").write_text("paper/paper_0000.png 9\n")
    (data / "test.txt").write_text("rock/gone.png 1\n")
    with pytest.raises(DatasetError, match=r"has 2 problems:\n- .*label 9.*\n- .*rock/gone.png"):
        Classifier("LeNet").load_dataset(data)


@pytest.fixture
def fifty_four(tmp_path):
    """54 training images (18 a class), the first one broken."""
    data = make_hand_gestures(tmp_path / "data", train_per_class=18, val_per_class=3,
                              test_per_class=0, size=32)
    broken = sorted((data / "training_set" / "paper").glob("*.png"))[0]
    broken.write_bytes(b"not a picture")
    return data, broken


def test_the_doctor_and_training_agree_on_one_unreadable_file_among_54(fifty_four, tmp_path, capsys):
    data, broken = fifty_four
    report = check_dataset(data, verbose=False)
    assert report.ok and "Training skips them" in only(report, "unreadable image(s)")
    model = Classifier("LeNet")
    model.load_dataset(data)  # the doctor lets it through ...
    model.train(epochs=1, save_fold=tmp_path / "run", verbose=False)  # ... and training skips it
    from easycls import read_log

    assert read_log(tmp_path / "run" / "log.json")[0]["skipped_files"] == [str(broken)]


def test_the_doctor_and_training_agree_on_two_unreadable_files_among_54(fifty_four, tmp_path):
    data, _ = fifty_four
    sorted((data / "training_set" / "rock").glob("*.png"))[0].write_bytes(b"not a picture")
    report = check_dataset(data, verbose=False)
    assert not report.ok and "more than 1%" in only(report, "unreadable")
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    with pytest.raises(easycls.TrainingError, match="2 of 54 training images cannot be read"):
        model.train(epochs=1, save_fold=tmp_path / "run", verbose=False)


def test_the_doctor_applies_the_rule_split_by_split_as_training_does(tmp_path):
    data = make_hand_gestures(tmp_path / "data", train_per_class=50, val_per_class=10,
                              test_per_class=10, size=32)
    for path in sorted((data / "val_set" / "rock").glob("*.png"))[:2]:
        path.write_bytes(b"not a picture")
    report = check_dataset(data, verbose=False)  # 2 of 30 validation images: too many
    assert not report.ok and "In val, that is more than 1%" in only(report, "unreadable")
    model = Classifier("LeNet")
    model.load_dataset(data, check=None)
    with pytest.raises(easycls.TrainingError, match="2 of 30 validation images cannot be read"):
        model.train(epochs=1, save_fold=tmp_path / "run", verbose=False)


def test_a_report_with_errors_is_shown_even_when_only_warnings_are(data, capsys):
    import logging

    (data / "val.txt").write_text("paper/paper_0000.png 9\n")
    logging.getLogger("easycls").setLevel(logging.WARNING)
    try:
        check_dataset(data)
    finally:
        logging.getLogger("easycls").setLevel(logging.INFO)
    assert "label 9 is outside 0..2" in capsys.readouterr().out
