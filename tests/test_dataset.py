"""Reading data set folders: classes fixed once, splits checked by name, clear errors."""
import shutil

import pytest

import easycls
from easycls import Classifier, DatasetError
from easycls.data.folder import read_dataset


def quiet(_):
    pass


def test_missing_classes_and_val_lists_are_derived_and_written(fresh_data, capsys):
    dataset = read_dataset(fresh_data)
    assert dataset.classes == ["paper", "rock", "scissors"]
    assert (fresh_data / "classes.txt").read_text().split() == dataset.classes
    lines = (fresh_data / "val.txt").read_text().splitlines()
    assert len(lines) == 9 and lines[0].startswith("paper/") and lines[0].endswith(" 0")
    out = capsys.readouterr().out
    assert "classes.txt was missing" in out and "val.txt was missing" in out


def test_classes_txt_fixes_the_label_order(fresh_data):
    (fresh_data / "classes.txt").write_text("scissors\nrock\npaper\n")
    dataset = read_dataset(fresh_data, notify=quiet)
    assert dataset.classes == ["scissors", "rock", "paper"]
    assert all(("scissors" in path) == (label == 0) for path, label in dataset.splits["train"])


def test_num_classes_mismatch_names_both_numbers_and_the_classes(fresh_data):
    model = Classifier("LeNet", num_classes=4)
    with pytest.raises(DatasetError, match=r"set to 4 classes, but .* has 3: paper, rock, scissors"):
        model.load_dataset(fresh_data)


def test_num_classes_is_taken_from_the_data_set_when_unset(fresh_data):
    model = Classifier("LeNet")
    model.load_dataset(fresh_data)
    assert model.num_classes == 3


def test_a_training_folder_that_is_not_a_class_is_an_error(fresh_data):
    (fresh_data / "classes.txt").write_text("paper\nrock\nscissors\n")
    shutil.copytree(fresh_data / "training_set" / "rock", fresh_data / "training_set" / "spock")
    with pytest.raises(DatasetError, match=r"folder\(s\) 'spock' that are not classes"):
        read_dataset(fresh_data, notify=quiet)


def test_notebook_and_mac_litter_is_ignored(fresh_data):
    (fresh_data / "training_set" / ".ipynb_checkpoints").mkdir()
    (fresh_data / "training_set" / "__MACOSX").mkdir()
    assert read_dataset(fresh_data, notify=quiet).classes == ["paper", "rock", "scissors"]


def test_val_txt_label_contradicting_its_folder_is_an_error(fresh_data):
    read_dataset(fresh_data, notify=quiet)
    lines = (fresh_data / "val.txt").read_text().splitlines()
    lines[0] = lines[0].rsplit(" ", 1)[0] + " 2"
    (fresh_data / "val.txt").write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=r"line 1: .* is in folder 'paper' but has label 2 \(scissors\)"):
        read_dataset(fresh_data, notify=quiet)


def test_val_txt_naming_missing_files_lists_them(fresh_data):
    read_dataset(fresh_data, notify=quiet)
    with open(fresh_data / "val.txt", "a") as handle:
        handle.write("rock/gone.png 1\n")
    with pytest.raises(DatasetError, match=r"names 1 file\(s\) that do not exist .*rock/gone.png"):
        read_dataset(fresh_data, notify=quiet)


def test_val_txt_label_out_of_range_is_an_error(fresh_data):
    read_dataset(fresh_data, notify=quiet)
    (fresh_data / "val.txt").write_text("paper/paper_0000.png 7\n")
    with pytest.raises(DatasetError, match=r"label 7 is outside 0..2"):
        read_dataset(fresh_data, notify=quiet)


def test_flat_val_images_without_val_txt_are_an_error(fresh_data):
    val = fresh_data / "val_set"
    for path in list(val.rglob("*.png")):
        path.rename(val / f"{path.parent.name}_{path.name}")
    for folder in [p for p in val.iterdir() if p.is_dir()]:
        folder.rmdir()
    with pytest.raises(DatasetError, match="no val.txt to say their labels"):
        read_dataset(fresh_data, notify=quiet)


def test_missing_folder_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="'nowhere' does not exist"):
        Classifier("LeNet").load_dataset("nowhere")


def test_duplicate_class_names_in_classes_txt_are_an_error(fresh_data):
    (fresh_data / "classes.txt").write_text("paper\nrock\npaper\n")
    with pytest.raises(DatasetError, match="lists paper more than once"):
        read_dataset(fresh_data, notify=quiet)


def test_split_folder_aliases_are_understood(fresh_data):
    (fresh_data / "training_set").rename(fresh_data / "train")
    (fresh_data / "val_set").rename(fresh_data / "valid")
    dataset = read_dataset(fresh_data, notify=quiet)
    assert dataset.sizes() == {"train": 18, "val": 9}


def test_missing_val_set_holds_out_part_of_training_reproducibly(fresh_data):
    shutil.rmtree(fresh_data / "val_set")
    first = read_dataset(fresh_data, notify=quiet)
    second = read_dataset(fresh_data, notify=quiet)
    assert first.splits == second.splits
    assert first.counts("val") == [1, 1, 1] and first.counts("train") == [5, 5, 5]
    assert not set(first.splits["train"]) & set(first.splits["val"])


def test_plain_folder_per_class_collection_is_accepted(fresh_data, tmp_path):
    collection = tmp_path / "photos"
    shutil.copytree(fresh_data / "training_set", collection)
    dataset = read_dataset(collection, notify=quiet)
    assert dataset.classes == ["paper", "rock", "scissors"]
    assert dataset.sizes() == {"train": 15, "val": 3}


def test_unwritable_lists_are_kept_in_memory(fresh_data, capsys, monkeypatch):
    import builtins

    real_open = builtins.open

    def read_only_open(path, mode="r", *args, **kwargs):
        if "w" in mode:
            raise PermissionError(13, "Permission denied")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only_open)
    dataset = read_dataset(fresh_data)
    assert dataset.classes == ["paper", "rock", "scissors"] and dataset.sizes()["val"] == 9
    assert not (fresh_data / "classes.txt").exists()
    assert "in memory only (could not write it: Permission denied)" in capsys.readouterr().out


def test_val_txt_with_windows_backslashes_is_read(fresh_data):
    read_dataset(fresh_data, notify=quiet)
    text = (fresh_data / "val.txt").read_text().replace("/", "\\")
    (fresh_data / "val.txt").write_text(text)
    assert read_dataset(fresh_data, notify=quiet).sizes()["val"] == 9


def test_classes_txt_saved_as_gbk_is_read_with_a_note(fresh_data, capsys):
    (fresh_data / "classes.txt").write_bytes("paper\nrock\nscissors\n".encode("gbk"))
    for name, chinese in (("paper", "布"), ("rock", "石头"), ("scissors", "剪刀")):
        (fresh_data / "training_set" / name).rename(fresh_data / "training_set" / chinese)
        (fresh_data / "val_set" / name).rename(fresh_data / "val_set" / chinese)
    (fresh_data / "classes.txt").write_bytes("布\n石头\n剪刀\n".encode("gbk"))
    dataset = read_dataset(fresh_data)
    assert dataset.classes == ["布", "石头", "剪刀"]
    assert "is not UTF-8: read it as GBK" in capsys.readouterr().out


def test_classes_txt_in_no_known_encoding_is_explained(fresh_data):
    (fresh_data / "classes.txt").write_bytes(b"\xff\xfe\x00\xd8 broken")
    with pytest.raises(DatasetError, match="is not UTF-8 text .* save it with the encoding UTF-8"):
        read_dataset(fresh_data, notify=quiet)


def test_a_failed_load_writes_no_derived_lists(fresh_data):
    (fresh_data / "classes.txt").write_text("paper\nrock\nscissors\n")
    shutil.copytree(fresh_data / "val_set" / "rock", fresh_data / "val_set" / "lizard")
    with pytest.raises(DatasetError, match="'lizard'"):
        read_dataset(fresh_data, notify=quiet)
    assert not (fresh_data / "val.txt").exists()


def test_a_second_data_set_with_another_class_count_loads(fresh_data, six_class_data, capsys):
    model = Classifier("LeNet")
    model.load_dataset(fresh_data)
    assert model.num_classes == 3
    model.load_dataset(six_class_data)
    assert model.num_classes == 6 and len(model.dataset.classes) == 6


def test_the_num_classes_the_user_set_stays_theirs_and_is_checked(fresh_data, six_class_data):
    model = Classifier("LeNet", num_classes=3)
    model.load_dataset(fresh_data)
    with pytest.raises(DatasetError, match=r"set to 3 classes, but .* has 6: .* Remove "
                                           r"`model.num_classes = 3`"):
        model.load_dataset(six_class_data)
    model.num_classes = None
    model.load_dataset(six_class_data)
    assert model.num_classes == 6


def test_a_list_easycls_wrote_follows_pictures_added_to_the_class_folders(fresh_data, capsys):
    read_dataset(fresh_data, notify=quiet)
    shutil.copy(fresh_data / "training_set" / "rock" / "rock_0000.png",
                fresh_data / "val_set" / "rock" / "new.png")
    dataset = read_dataset(fresh_data)
    assert dataset.sizes()["val"] == 10
    assert "rock/new.png 1" in (fresh_data / "val.txt").read_text()
    assert ("val.txt was written by easycls and the folders have changed since (9 images then, "
            "10 now): wrote it from the class folders in val_set/") in capsys.readouterr().out


def test_a_picture_moved_between_class_folders_moves_its_label(fresh_data):
    read_dataset(fresh_data, notify=quiet)
    moved = fresh_data / "val_set" / "rock" / "rock_0000.png"
    moved.rename(fresh_data / "val_set" / "paper" / "was_rock.png")
    dataset = read_dataset(fresh_data, notify=quiet)
    assert (str(fresh_data / "val_set" / "paper" / "was_rock.png"), 0) in dataset.splits["val"]


def test_a_picture_moved_between_class_folders_moves_its_label_in_test_txt_too(fresh_data):
    from easycls.data.synthetic import make_hand_gestures

    data = make_hand_gestures(fresh_data.parent / "with_test", train_per_class=4, val_per_class=2,
                              test_per_class=3, size=16)
    read_dataset(data, notify=quiet)
    (data / "test_set" / "rock" / "rock_0000.png").rename(data / "test_set" / "paper" / "was_rock.png")
    notes = []
    dataset = read_dataset(data, notify=notes.append)
    assert (str(data / "test_set" / "paper" / "was_rock.png"), 0) in dataset.splits["test"]
    assert any(n.startswith("test.txt was written by easycls and the folders have changed since "
                            "(9 images then, 9 now): wrote it from the class folders in test_set/")
               for n in notes), notes


def test_a_list_an_earlier_easycls_wrote_follows_its_folders_too(fresh_data):
    read_dataset(fresh_data, notify=quiet)
    (fresh_data / ".easycls_lists.json").unlink()  # earlier versions kept no record
    read_dataset(fresh_data, notify=quiet)  # val.txt is exactly what easycls writes: claimed
    (fresh_data / "val_set" / "rock" / "rock_0000.png").rename(
        fresh_data / "val_set" / "paper" / "was_rock.png")
    dataset = read_dataset(fresh_data, notify=quiet)
    assert (str(fresh_data / "val_set" / "paper" / "was_rock.png"), 0) in dataset.splits["val"]


def test_a_hand_written_list_that_disagrees_with_the_folders_is_reported_and_kept(fresh_data):
    (fresh_data / "classes.txt").write_text("paper\nrock\nscissors\n")
    (fresh_data / "val.txt").write_text("paper/paper_0000.png 0\nrock/rock_0000.png 1\n")
    report = easycls.check_dataset(fresh_data, verbose=False)
    warning = [w for w in report.warnings if "written by hand" in w]
    assert warning == ["val.txt (written by hand) lists 2 images, the class folders in val_set/ "
                       "hold 9 (7 only in the folders, 0 listed elsewhere or with another "
                       "class). easycls uses val.txt; delete it to use the folders instead."]
    assert read_dataset(fresh_data, notify=quiet).sizes()["val"] == 2
    assert (fresh_data / "val.txt").read_text().count("\n") == 2  # never rewritten


def test_a_hand_written_list_naming_a_moved_picture_gives_both_counts(fresh_data):
    read_dataset(fresh_data, notify=quiet)
    with open(fresh_data / "val.txt", "a") as handle:  # edited by hand: no longer easycls's
        handle.write("rock/gone.png 1\n")
    with pytest.raises(DatasetError, match=r"names 1 file\(s\) that do not exist .*rock/gone.png "
                                           r"\(val.txt lists 10 images; the class folders hold 9\)"):
        read_dataset(fresh_data, notify=quiet)


@pytest.mark.parametrize("train_name, val_name, test_name", [
    ("Training Set", "validation_set", "testing_set"),
    ("train", "Validation", "testing"),
    ("TRAIN_SET", "valid_set", "test-set"),
    ("training", "eval", "Test"),
])
def test_common_spellings_of_split_folders_are_read(fresh_data, train_name, val_name, test_name):
    shutil.copytree(fresh_data / "val_set", fresh_data / "test_set")
    for old, new in (("training_set", train_name), ("val_set", val_name), ("test_set", test_name)):
        (fresh_data / old).rename(fresh_data / new)
    assert read_dataset(fresh_data, notify=quiet).sizes() == {"train": 18, "val": 9, "test": 9}


def test_a_folder_of_images_that_is_not_a_split_is_named(fresh_data):
    shutil.copytree(fresh_data / "val_set", fresh_data / "vaildation")
    dataset = read_dataset(fresh_data, notify=quiet)
    assert any("found 9 images in 'vaildation/', which are not used: rename it to val_set/" in n
               for n in dataset.notes)


def test_loading_the_training_folder_instead_of_the_data_set_is_explained(fresh_data):
    with pytest.raises(DatasetError, match=r"is the training folder of a data set \(beside it "
                                           r"in .*: val_set/\). Load the data set folder itself"):
        Classifier("LeNet").load_dataset(fresh_data / "training_set")
    assert not (fresh_data / "training_set" / "classes.txt").exists()


def test_class_names_that_differ_only_in_case_are_explained(fresh_data):
    (fresh_data / "classes.txt").write_text("Paper\nRock\nScissors\n")
    with pytest.raises(DatasetError, match=r"differ from classes.txt only in capital letters or "
                                           r"spaces \(folder 'paper' / class 'Paper'"):
        read_dataset(fresh_data, notify=quiet)


def test_classes_on_one_line_of_classes_txt_are_explained(fresh_data):
    (fresh_data / "classes.txt").write_text("Paper, Rock, Scissors\n")
    with pytest.raises(DatasetError, match=r"has all its classes on one line \('Paper, Rock, "
                                           r"Scissors'\).*one class name per line.*case included:"
                                           r"\n    Paper\n    Rock\n    Scissors$"):
        read_dataset(fresh_data, notify=quiet)


def test_split_folders_without_a_training_folder_are_explained(fresh_data):
    shutil.rmtree(fresh_data / "training_set")
    with pytest.raises(DatasetError, match="has val_set/ but no training folder"):
        read_dataset(fresh_data, notify=quiet)


def test_pictures_added_to_the_bundled_data_set_are_used(tmp_path):
    from pathlib import Path as P

    data = tmp_path / "hand_gray"
    shutil.copytree(P(__file__).resolve().parent.parent / "dataset" / "hand_gray", data)
    shutil.copy(data / "training_set" / "rock" / "rock_0000.png", data / "val_set" / "rock" / "new.png")
    assert read_dataset(data, notify=quiet).sizes()["val"] == 91


def test_a_data_set_unpacked_one_folder_down_is_explained(fresh_data, tmp_path):
    outer = tmp_path / "download"
    outer.mkdir()
    shutil.move(str(fresh_data), str(outer / "hand_gray"))
    with pytest.raises(DatasetError, match=r"holds a data set one folder down, in 'hand_gray/'.*"
                                           r"model.load_dataset\('.*download/hand_gray'\)"):
        Classifier("LeNet").load_dataset(outer)


def test_a_single_class_is_refused(fresh_data, tmp_path):
    only = tmp_path / "only_rock"
    shutil.copytree(fresh_data / "training_set" / "rock", only / "rock")
    with pytest.raises(DatasetError, match=r"has only one class \(rock, from the sorted training "
                                           r"folder names\): a classifier needs at least two"):
        Classifier("LeNet").load_dataset(only)


def test_load_dataset_names_the_cause_when_class_names_differ_only_in_case(fresh_data):
    (fresh_data / "classes.txt").write_text("Paper\nRock\nScissors\n")
    with pytest.raises(DatasetError, match=r"differ from classes.txt only in capital letters"):
        Classifier("LeNet").load_dataset(fresh_data)


def test_a_loaded_data_set_shows_a_summary_not_every_file(fresh_data):
    text = repr(Classifier("LeNet").load_dataset(fresh_data))
    assert "sizes={'train': 18, 'val': 9}" in text and ".png" not in text
