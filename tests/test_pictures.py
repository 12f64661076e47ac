"""Figures: training curves, confusion matrix, gallery, data set preview; PNGs for 2, 10, 30 classes."""
import json

import numpy as np
import pytest
from PIL import Image

import easycls
from easycls import EasyclsError, PathNotFoundError
from easycls.visualize import fonts

CLASS_COUNTS = (2, 10, 30)


def class_names(n):
    return [f"class_{i:02d}" for i in range(n)]


def picture_folder(root, n, per_class=3):
    """A plain folder-per-class data set of small random pictures."""
    rng = np.random.default_rng(n)
    for name in class_names(n):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def fake_report(root, n):
    """A report shaped like model.evaluate()'s, over the pictures of picture_folder."""
    rng = np.random.default_rng(0)
    names = class_names(n)
    rows, counts = [], [[0] * n for _ in range(n)]
    for true, name in enumerate(names):
        for path in sorted((root / name).glob("*.png")):
            guess = true if rng.random() < 0.7 else int(rng.integers(n))
            counts[true][guess] += 1
            score = float(rng.uniform(0.3, 1.0))
            rows.append({"image": str(path), "true_label": true, "true_class": name,
                         "pred_label": guess, "pred_class": names[guess], "pred_score": score,
                         "correct": guess == true, "topk": [(names[guess], score)]})
    return {"confusion_matrix": counts, "class_names": names, "predictions": rows,
            "accuracy_top-1": 70.0, "num_images": len(rows)}


def assert_png_of_the_figure(path, figure):
    with Image.open(path) as png:
        assert png.format == "PNG"
        width, height = png.size
        assert png.convert("L").getextrema()[0] < 200  # something dark was drawn
    expected = figure.get_size_inches() * figure.dpi
    assert (width, height) == (round(expected[0]), round(expected[1]))
    assert width >= 400 and height >= 250


@pytest.mark.parametrize("n", CLASS_COUNTS)
def test_the_confusion_matrix_picture_has_every_class_name(tmp_path, n):
    report = fake_report(picture_folder(tmp_path / "data", n, per_class=2), n)
    figure = easycls.plot_confusion_matrix(report, save=tmp_path / "cm.png")
    assert_png_of_the_figure(tmp_path / "cm.png", figure)
    counts_axes, shares_axes = figure.axes[:2]  # then their colour bars
    assert [t.get_text() for t in counts_axes.get_yticklabels()] == class_names(n)
    assert counts_axes.get_ylabel() == "true class" and shares_axes.get_xlabel() == "predicted class"
    shares = shares_axes.images[0].get_array()
    rows_with_pictures = [i for i in range(n) if sum(report["confusion_matrix"][i])]
    assert np.allclose(np.asarray(shares).sum(axis=1)[rows_with_pictures], 100.0)


@pytest.mark.parametrize("n", CLASS_COUNTS)
def test_the_gallery_shows_confident_right_and_wrong_pictures(tmp_path, n):
    report = fake_report(picture_folder(tmp_path / "data", n, per_class=2), n)
    figure = easycls.plot_gallery(report, n=4, save=tmp_path / "gallery.png")
    assert_png_of_the_figure(tmp_path / "gallery.png", figure)
    titles = [axes.get_title() for axes in figure.get_axes() if axes.get_title()]
    right = sorted((r for r in report["predictions"] if r["correct"]), key=lambda r: -r["pred_score"])
    assert titles[0] == f"true: {right[0]['true_class']}\npred: {right[0]['pred_class']} {right[0]['pred_score']:.2f}"
    assert len(titles) == min(4, len(right)) + min(4, len(report["predictions"]) - len(right))


@pytest.mark.parametrize("n", CLASS_COUNTS)
def test_show_dataset_draws_each_class_with_its_count(tmp_path, n):
    root = picture_folder(tmp_path / "data", n, per_class=3)
    figure = easycls.show_dataset(root, per_class=2, save=tmp_path / "data.png")
    assert_png_of_the_figure(tmp_path / "data.png", figure)
    labels = [axes.get_ylabel() for axes in figure.axes if axes.get_ylabel()]
    assert len(labels) == n and labels[0].startswith("class_00\n(")
    assert not (root / "classes.txt").exists()  # a look writes nothing into the data set


def write_log(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def run_records(epochs, steps=20, top5=False):
    header = [{"easycls_version": "x", "backbone": "LeNet"}]
    lines = []
    for epoch in range(1, epochs + 1):
        for step in (10, 20):
            lines.append({"mode": "train", "epoch": epoch, "iter": step, "lr": 0.1,
                          "loss": 2.0 / (epoch + step / steps)})
        lines.append({"mode": "val", "epoch": epoch, "iter": steps, "accuracy_top-1": 10.0 * epoch,
                      **({"accuracy_top-5": 15.0 * epoch} if top5 else {})})
    return header, lines


def test_training_curves_of_two_runs_share_one_picture(tmp_path):
    header, lines = run_records(3, top5=True)
    first = write_log(tmp_path / "lenet" / "log.json", header + lines)
    second = write_log(tmp_path / "resnet" / "log.json", header + run_records(2)[1])
    figure = easycls.plot_log([first, tmp_path / "resnet"], save=tmp_path / "curves.png")
    assert_png_of_the_figure(tmp_path / "curves.png", figure)
    loss_axes, accuracy_axes = figure.axes
    assert [t.get_text() for t in loss_axes.get_legend().get_texts()] == ["lenet", "resnet"]
    assert [t.get_text() for t in accuracy_axes.get_legend().get_texts()] == [
        "lenet top-1", "lenet top-5", "resnet top-1"]
    assert list(accuracy_axes.lines[0].get_ydata()) == [10.0, 20.0, 30.0]
    assert second.exists()


def test_a_resumed_run_is_drawn_once(tmp_path):
    header, lines = run_records(3)
    # killed in epoch 2 after its first record; resumed from the end of epoch 1
    resumed = header + lines[:3] + lines[3:4] + header + lines[3:]
    figure = easycls.plot_log(write_log(tmp_path / "run" / "log.json", resumed))
    steps = list(figure.axes[0].lines[0].get_xdata())
    assert steps == sorted(set(steps)) and len(steps) == 6
    assert list(figure.axes[1].lines[0].get_xdata()) == [1, 2, 3]


def test_a_run_without_validation_says_so_on_the_picture(tmp_path):
    header, lines = run_records(2)
    figure = easycls.plot_log(write_log(tmp_path / "log.json", header + [r for r in lines if r["mode"] == "train"]))
    assert "no validation" in figure.axes[1].texts[0].get_text()


def test_plot_log_of_a_missing_file_says_what_it_expected(tmp_path):
    with pytest.raises(PathNotFoundError, match="Give the log.json a run wrote, or its save_fold"):
        easycls.plot_log(tmp_path / "nothing")


def test_plot_log_of_a_file_without_training_records_is_explained(tmp_path):
    with pytest.raises(EasyclsError, match="holds no training records"):
        easycls.plot_log(write_log(tmp_path / "log.json", [{"mode": "val", "epoch": 1}]))


def test_plot_log_of_a_real_run(trained, tmp_path):
    _, save_fold, history = trained
    figure = easycls.plot_log(save_fold)
    val = [r["accuracy_top-1"] for r in history if r["mode"] == "val"]
    assert list(figure.axes[1].lines[0].get_ydata()) == pytest.approx(val)


def test_pictures_take_what_evaluate_returns_and_explain_anything_else():
    with pytest.raises(EasyclsError, match=r"report = model.evaluate\('test'\); easycls.plot_confusion_matrix"):
        easycls.plot_confusion_matrix([[1, 0], [0, 1]])
    with pytest.raises(EasyclsError, match=r"easycls.plot_gallery\(report\)"):
        easycls.plot_gallery({"accuracy_top-1": 50})


def test_without_a_chinese_font_figures_show_class_numbers_and_warn_once(no_cjk_font, capsys):
    report = {"confusion_matrix": [[2, 0], [1, 1]], "class_names": ["石头", "rock"]}
    figure = easycls.plot_confusion_matrix(report)
    easycls.plot_confusion_matrix(report)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["class 0", "rock"]
    assert capsys.readouterr().out.count("No font that can draw these class names") == 1


@pytest.mark.skipif(fonts.cjk_font_path() is None, reason="no CJK font on this machine")
def test_chinese_class_names_are_drawn_with_a_cjk_font(tmp_path):
    report = {"confusion_matrix": [[2, 0], [1, 1]], "class_names": ["石头", "剪刀"]}
    figure = easycls.plot_confusion_matrix(report, save=tmp_path / "cm.png")
    label = figure.axes[0].get_yticklabels()[0]
    assert label.get_text() == "石头"
    assert len(label.get_fontproperties().get_family()) == 2  # DejaVu, then the CJK font


def test_a_notebook_shows_a_returned_figure_as_a_picture(monkeypatch):
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    from easycls.visualize import figures

    shell = InteractiveShell.instance()  # what get_ipython() returns in a notebook's kernel
    monkeypatch.setattr(figures, "in_notebook", lambda: True)
    figures._show_figures_in_notebooks.cache_clear()
    figure = easycls.plot_confusion_matrix({"confusion_matrix": [[2, 0], [1, 1]],
                                            "class_names": ["a", "b"]})
    shown, _ = shell.display_formatter.format(figure)
    assert shown["image/png"][:8] == b"\x89PNG\r\n\x1a\n" and shown["text/plain"] == ""


def test_plot_log_of_a_checkpoint_says_it_is_not_a_log(trained):
    _, save_fold, _ = trained
    with pytest.raises(EasyclsError, match=r"is not a log.json: it is not text \(a checkpoint"):
        easycls.plot_log(save_fold / "latest.pth")


def test_a_picture_saved_as_jpg_is_a_jpeg(tmp_path):
    easycls.plot_confusion_matrix({"confusion_matrix": [[1, 0], [0, 1]], "class_names": ["a", "b"]},
                                  save=tmp_path / "cm.jpg")
    with Image.open(tmp_path / "cm.jpg") as picture:
        assert picture.format == "JPEG"
