"""Inference on every kind of input, annotated pictures, printed tables, clear errors."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from easycls import CheckpointError, Classifier, EasyclsError, ImageError

CLASSES = ["paper", "rock", "scissors"]


@pytest.fixture
def model(loaded_model):
    return loaded_model


@pytest.fixture
def picture_folder(hand_data, tmp_path):
    """Two test pictures of each class, a text file and a broken 'image'."""
    folder = tmp_path / "many pictures"
    folder.mkdir()
    for name in CLASSES:
        for path in sorted((hand_data / "test_set" / name).glob("*.png"))[:2]:
            shutil.copy(path, folder / path.name)
    (folder / "notes.txt").write_text("not a picture")
    (folder / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return folder


def test_result_of_one_file_has_the_documented_keys(model, hand_data):
    path = sorted((hand_data / "test_set" / "rock").glob("*.png"))[0]
    result = model.fast_inference(str(path))
    assert set(result) == {"image", "pred_label", "pred_score", "pred_class", "topk"}
    assert result["image"] == str(path)
    assert result["pred_class"] == CLASSES[result["pred_label"]]
    assert [c for c, _ in result["topk"]][0] == result["pred_class"]
    assert sorted(c for c, _ in result["topk"]) == CLASSES
    assert abs(sum(s for _, s in result["topk"]) - 1.0) < 1e-4


def test_test_split_is_classified_well(model, hand_data):
    results = model.fast_inference(str(hand_data / "test_set" / "paper")) + \
        model.fast_inference(str(hand_data / "test_set" / "rock")) + \
        model.fast_inference(str(hand_data / "test_set" / "scissors"))
    truth = [r["image"].replace("\\", "/").split("/")[-2] for r in results]
    accuracy = np.mean([r["pred_class"] == t for r, t in zip(results, truth)])
    assert accuracy >= 0.85


def test_folder_gives_sorted_results_with_errors_for_broken_files(model, picture_folder, capsys):
    results = model.fast_inference(picture_folder)
    names = [r["image"].replace("\\", "/").rsplit("/", 1)[1] for r in results]
    assert names == sorted(p.name for p in picture_folder.glob("*.png"))
    assert "error" in results[-1] and "zz_broken.png" in results[-1]["error"]
    assert all("pred_class" in r for r in results[:-1])
    assert "Skipping 1 file(s)" in capsys.readouterr().out


def test_pil_numpy_and_file_inputs_agree(model, hand_data):
    path = sorted((hand_data / "test_set" / "scissors").glob("*.png"))[0]
    from_file = model.fast_inference(str(path))
    pil = Image.open(path)
    gray = np.asarray(pil)
    rgb = np.asarray(pil.convert("RGB"))
    for image in (pil, gray, gray[:, :, None], rgb, rgb.astype(np.float32) / 255,
                  np.asarray(pil.convert("RGBA"))):
        result = model.fast_inference(image)
        assert result["image"] is None
        assert result["pred_label"] == from_file["pred_label"]
        assert result["pred_score"] == pytest.approx(from_file["pred_score"], abs=1e-3)


def test_list_input_gives_one_result_per_element(model, hand_data):
    path = sorted((hand_data / "test_set" / "rock").glob("*.png"))[0]
    results = model.fast_inference([str(path), np.zeros((20, 20), np.uint8)])
    assert len(results) == 2 and results[0]["image"] == str(path) and results[1]["image"] is None


def test_show_writes_annotated_copies_with_the_same_names(model, picture_folder, tmp_path, capsys):
    out = tmp_path / "cls_result"
    results = model.fast_inference(picture_folder, show=True, save_fold=out)
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in picture_folder.glob("*.png") if p.name != "zz_broken.png")
    picture = Image.open(out / written[0])
    assert min(picture.size) >= 256
    assert f"Saved {len(results) - 1} annotated picture(s)" in capsys.readouterr().out


def test_annotation_draws_non_ascii_class_names(tmp_path):
    from easycls.visualize import annotate

    plain = Image.new("RGB", (64, 64), "gray")
    marked = annotate(plain, "石头 0.98")
    assert marked.size == (256, 256)
    band = np.asarray(marked)[:20]
    assert band.max() > 200  # white text was drawn on the dark band


def test_inference_with_checkpoint_loads_it(trained, hand_data, tmp_path):
    _, save_fold, _ = trained
    path = sorted((hand_data / "test_set" / "rock").glob("*.png"))[0]
    result = Classifier("LeNet").inference(str(path), checkpoint=save_fold / "latest.pth",
                                           save_fold=tmp_path / "out")
    assert (tmp_path / "out" / path.name).exists() and result["pred_class"] in CLASSES


def test_inference_without_weights_says_how_to_get_them():
    with pytest.raises(CheckpointError, match="has no weights yet. Load a checkpoint first"):
        Classifier("LeNet").fast_inference(np.zeros((8, 8), np.uint8))


def test_missing_image_says_where_it_looked(model):
    with pytest.raises(FileNotFoundError, match="'no/such.png' does not exist"):
        model.fast_inference("no/such.png")


def test_non_image_file_given_directly_is_explained(model, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ImageError, match="Cannot read .*notes.txt' as an image"):
        model.fast_inference(str(path))


def test_folder_without_images_is_explained(model, tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ImageError, match="has no image files"):
        model.fast_inference(tmp_path)


@pytest.mark.parametrize("array, words", [
    (np.zeros((2, 3, 4, 5)), "must be HxW"),
    (np.zeros((5, 5, 2)), "must be HxW"),
    (np.full((5, 5), 3.0), r"must hold values in \[0, 1\]"),
    (np.array([[np.nan]]), "NaN"),
])
def test_bad_numpy_arrays_are_explained(model, array, words):
    with pytest.raises(ImageError, match=words):
        model.fast_inference(array)


def test_unsupported_input_type_lists_what_is_accepted(model):
    with pytest.raises(ImageError, match="Cannot classify a dict. Pass a file path"):
        model.fast_inference({"a": 1})


def test_missing_checkpoint_lists_the_checkpoints_beside_it(trained):
    _, save_fold, _ = trained
    with pytest.raises(FileNotFoundError, match="best.pth' does not exist. .pth files in that folder: best_accuracy_top-1.pth"):
        Classifier("LeNet").load_checkpoint(save_fold / "best.pth")


def test_a_file_that_is_not_a_checkpoint_is_explained(tmp_path):
    path = tmp_path / "weights.pth"
    path.write_bytes(b"nonsense")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        Classifier("LeNet").load_checkpoint(path)


def test_a_plain_state_dict_is_not_mistaken_for_a_checkpoint(tmp_path):
    import torch

    path = tmp_path / "weights.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="is not an easycls checkpoint: expected a dict with 'state_dict'"):
        Classifier("LeNet").load_checkpoint(path)


def test_pickled_objects_are_refused(tmp_path):
    import torch

    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "meta": {"payload": Image.new("L", (1, 1))}}, path)
    with pytest.raises(CheckpointError, match="refuses it"):
        Classifier("LeNet").load_checkpoint(path)


def test_print_result_prints_the_last_results_as_a_table_and_returns_nothing(model, picture_folder, capsys):
    results = model.fast_inference(picture_folder)
    capsys.readouterr()
    assert model.print_result() is None  # a notebook cell shows the table, not the dicts again
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["image", "class", "score", "top-k"]
    assert len(table) == 2 + len(results) and "ERROR" in table[-1]


def test_print_result_in_chinese(model, hand_data, capsys):
    result = model.fast_inference(str(sorted((hand_data / "test_set" / "rock").glob("*.png"))[0]))
    model.print_result(result, lang="zh")
    assert capsys.readouterr().out.split()[:4] == ["图片", "类别", "置信度", "前k个"]


def test_print_result_before_inference_says_what_to_do():
    with pytest.raises(EasyclsError, match="no results to print yet"):
        Classifier("LeNet").print_result()


def test_a_folder_with_one_broken_file_gives_an_error_entry(model, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"nonsense")
    results = model.fast_inference(tmp_path)
    assert len(results) == 1 and "error" in results[0]


def test_annotated_copies_of_inputs_sharing_a_name_do_not_overwrite(model, hand_data, tmp_path):
    first = sorted((hand_data / "test_set" / "rock").glob("*.png"))[0]
    twin = tmp_path / "other" / first.name
    twin.parent.mkdir()
    shutil.copy(first, twin)
    arrays = [np.zeros((9, 9), np.uint8), np.ones((9, 9), np.uint8)]
    results = model.fast_inference([str(first), str(twin), first, *arrays], show=True,
                                   save_fold=tmp_path / "out")
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    names = [Path(r["image"]) for r in results[:2]]
    base = Path(os.path.commonpath([p.parent for p in names]))
    assert written == sorted([names[0].relative_to(base).as_posix(),
                              names[0].relative_to(base).with_name(first.stem + "_1.png").as_posix(),
                              names[1].relative_to(base).as_posix(), "image_3.png", "image_4.png"])


@pytest.mark.parametrize("call, words", [
    (lambda m: m.load_checkpoint(None), "must be given as a file path"),
    (lambda m: m.load_dataset(5), "must be given as a folder path"),
    (lambda m: m.load_dataset("dataset/hand_gray", check="fast"), "check='fast' is not valid"),
    (lambda m: m.print_result("x.png"), "print_result takes what inference returns"),
])
def test_wrong_argument_types_are_explained(call, words):
    with pytest.raises(EasyclsError, match=words):
        call(Classifier("LeNet"))


def test_print_result_in_an_unknown_language_is_explained(model, hand_data):
    result = model.fast_inference(str(sorted((hand_data / "test_set" / "rock").glob("*.png"))[0]))
    with pytest.raises(EasyclsError, match="lang='cn' is not supported"):
        model.print_result(result, lang="cn")


def test_without_a_chinese_font_pictures_show_the_class_number(no_cjk_font, tmp_path, capsys):
    from easycls.inference import InputItem
    from easycls.visualize import label_text, save_annotated

    result = {"pred_class": "石头", "pred_label": 1, "pred_score": 0.9}
    assert label_text(result) == "class 1 0.90"
    item = InputItem(None, Image.new("L", (30, 30)), "x.png")
    save_annotated([item], [result], tmp_path)
    assert "sudo apt-get install fonts-noto-cjk" in capsys.readouterr().out
    assert (tmp_path / "x.png").exists()


def test_a_font_named_by_the_user_draws_class_names(monkeypatch):
    from easycls.visualize import fonts, label_text

    latin = fonts.latin_font_path()
    monkeypatch.setenv(fonts.FONT_VARIABLE, latin)
    fonts.cjk_font_path.cache_clear()
    try:
        assert label_text({"pred_class": "石头", "pred_label": 1, "pred_score": 0.5}) == "石头 0.50"
    finally:
        fonts.cjk_font_path.cache_clear()


def test_inference_with_a_checkpoint_does_not_change_what_training_starts_from(
        trained, hand_data, tmp_path, capsys):
    _, save_fold, _ = trained
    model = Classifier("LeNet")
    model.load_dataset(hand_data, check=None)
    model.inference(str(sorted((hand_data / "test_set" / "rock").glob("*.png"))[0]),
                    checkpoint=save_fold / "best_accuracy_top-1.pth", show=False)
    history = model.train(epochs=1, lr=1e-4, save_fold=tmp_path)
    assert "Starting from the weights loaded" not in capsys.readouterr().out
    assert history[-1]["accuracy_top-1"] < 85.0  # a fresh LeNet, not the trained weights


@pytest.fixture(scope="module")
def colour_model(tmp_path_factory):
    """A colour LeNet that tells reddish from bluish pictures (noise and shapes vary)."""
    root = tmp_path_factory.mktemp("colour") / "data"
    rng = np.random.default_rng(0)
    for split, count in (("training_set", 24), ("val_set", 6)):
        for name, channel in (("red", 0), ("blue", 2)):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                picture = rng.integers(0, 90, (24, 24, 3), dtype=np.uint8)
                picture[:, :, channel] = rng.integers(160, 256, (24, 24))
                Image.fromarray(picture).save(folder / f"{i}.png")
    model = Classifier("LeNet")
    model.load_dataset(root, check=None)
    model.train(epochs=3, save_fold=tmp_path_factory.mktemp("colour_run"), verbose=False)
    return model, root


def test_opencv_bgr_arrays_are_read_right_with_color_order_bgr(colour_model):
    import cv2

    model, root = colour_model
    paths = sorted((root / "val_set").rglob("*.png"))
    from_files = model.fast_inference([str(p) for p in paths])
    truth = [p.parent.name for p in paths]
    assert [r["pred_class"] for r in from_files] == truth
    bgr = [cv2.imread(str(p)) for p in paths]
    as_bgr = model.fast_inference(bgr, color_order="bgr")
    assert [r["pred_class"] for r in as_bgr] == truth
    assert [r["pred_score"] for r in as_bgr] == pytest.approx([r["pred_score"] for r in from_files], abs=1e-5)
    swapped = model.fast_inference(bgr)  # read as RGB, red and blue trade places
    assert all(r["pred_class"] != t for r, t in zip(swapped, truth))


def test_the_first_colour_array_says_how_arrays_are_read_once(colour_model, capsys):
    from easycls.inference import _say_arrays_are_rgb

    model, _ = colour_model
    _say_arrays_are_rgb.cache_clear()
    model.fast_inference(np.zeros((24, 24, 3), np.uint8))
    model.fast_inference(np.zeros((24, 24, 3), np.uint8))
    model.fast_inference(np.zeros((24, 24, 3), np.uint8), color_order="rgb")
    assert capsys.readouterr().out.count("pass color_order='bgr'") == 1


def test_an_unknown_color_order_is_explained(colour_model):
    model, _ = colour_model
    with pytest.raises(ImageError, match=r"color_order='brg' is not valid: use 'rgb' .* 'bgr' for cv2.imread"):
        model.fast_inference(np.zeros((24, 24, 3), np.uint8), color_order="brg")


@pytest.fixture
def class_folders(hand_data, tmp_path):
    """A folder holding only class sub-folders whose pictures share file names."""
    folder = tmp_path / "by_class"
    for name in CLASSES:
        (folder / name).mkdir(parents=True)
        for i, path in enumerate(sorted((hand_data / "test_set" / name).glob("*.png"))[:2]):
            shutil.copy(path, folder / name / f"{i}.png")
    return folder


def test_a_folder_of_class_folders_offers_recursive(model, class_folders):
    with pytest.raises(ImageError, match=r"no pictures directly inside it, but its sub-folders "
                                         r"\(paper, rock, scissors\) hold 6. .* recursive=True"):
        model.fast_inference(class_folders)


def test_recursive_classifies_sub_folders_and_keeps_their_paths(model, class_folders, tmp_path, capsys):
    results = model.fast_inference(class_folders, recursive=True, show=True, save_fold=tmp_path / "out")
    assert [Path(r["image"]).relative_to(class_folders).as_posix() for r in results] == [
        f"{name}/{i}.png" for name in CLASSES for i in range(2)]
    model.print_result(results)
    table = capsys.readouterr().out
    assert "rock/0.png" in table and "paper/0.png" in table
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert written == [f"{name}/{i}.png" for name in CLASSES for i in range(2)]


def test_a_list_of_files_in_several_folders_keeps_their_folders_in_the_copies(
        model, class_folders, tmp_path, capsys):
    files = [class_folders / "rock" / "0.png", class_folders / "paper" / "0.png"]
    results = model.fast_inference(files, show=True, save_fold=tmp_path / "out")
    model.print_result(results)
    table = capsys.readouterr().out
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["paper/0.png", "rock/0.png"]
    assert "rock/0.png" in table and "paper/0.png" in table


def test_a_folder_with_pictures_and_sub_folders_says_what_it_skipped(model, class_folders, hand_data, capsys):
    shutil.copy(sorted((hand_data / "test_set" / "rock").glob("*.png"))[0], class_folders / "top.png")
    results = model.fast_inference(class_folders)
    assert len(results) == 1
    assert "Skipping 6 picture(s) in the sub-folders" in capsys.readouterr().out


def test_inferring_into_the_same_folder_again_says_what_it_replaced(model, picture_folder, tmp_path, capsys):
    model.fast_inference(picture_folder, show=True, save_fold=tmp_path / "out")
    assert "replacing" not in capsys.readouterr().out
    model.fast_inference(picture_folder, show=True, save_fold=tmp_path / "out")
    assert "replacing 6 of the same name(s) from an earlier run" in capsys.readouterr().out


def test_the_table_rule_fits_the_terminal(model, monkeypatch):
    import os as os_module

    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback=None: os_module.terminal_size((30, 20)))
    from easycls.results import format_results

    long = {"image": "x" * 80 + ".png", "pred_label": 0, "pred_class": "paper", "pred_score": 0.5,
            "topk": [("paper", 0.5), ("rock", 0.3), ("scissors", 0.2)]}
    assert format_results([long]).splitlines()[1] == "-" * 30


def test_a_notebook_shows_a_dozen_pictures_and_says_where_the_rest_are(monkeypatch, tmp_path, capsys):
    import sys
    import types

    from easycls.inference import InputItem
    from easycls.visualize import save_annotated

    shown = []
    display = types.ModuleType("IPython.display")  # a notebook's display(), without IPython
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    items = [InputItem(None, Image.new("L", (30, 30)), f"{i}.png") for i in range(15)]
    rows = [{"pred_class": "rock", "pred_label": 1, "pred_score": 0.9}] * 15
    save_annotated(items, rows, tmp_path, display=True)
    assert len(shown) == 12 and len(list(tmp_path.iterdir())) == 15
    assert "the first 12 are shown above" in capsys.readouterr().out


def test_a_web_address_is_explained(model):
    with pytest.raises(ImageError, match="is a web address: easycls reads pictures from this computer"):
        model.fast_inference("https://example.com/cat.jpg")


def test_a_folder_given_as_checkpoint_lists_its_files(trained):
    _, save_fold, _ = trained
    with pytest.raises(CheckpointError, match=r"is a folder; give one checkpoint file in it, e.g. "
                                              r".*Its .pth files: best_accuracy_top-1.pth, latest.pth"):
        Classifier("LeNet").load_checkpoint(save_fold)
