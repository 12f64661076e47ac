"""MMEdu's MMClassification over Classifier: every MMEdu 0.1.28 method and argument, and the
patterns of MMEdu's tutorials, run with only the import line changed."""
import inspect
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from easycls import CheckpointError, DatasetError, ImageError, SettingError, TrainingError
from easycls.compat import mmedu
from easycls.compat.mmedu import MMClassification as cls

REPO = Path(__file__).resolve().parent.parent
BUNDLED = str(REPO / "checkpoints" / "lenet_hand_gray.pth")  # LeNet: paper, rock, scissors
ROCK = str(REPO / "demo" / "rock.png")
MANY = str(REPO / "demo" / "many_pictures")
REQUIRED = inspect.Parameter.empty

# MMEdu 0.1.28, MMEdu/MMEdu/Classification/Classification_Edu.py (OpenXLab-Edu/OpenMMLab-Edu):
# each method of class MMClassification with its parameters in order and their defaults,
# as read from the source (each also took **kwargs only to refuse them with an error code).
MMEDU_0_1_28 = {
    "sota": [],  # line 41, defined without self
    "__init__": [("backbone", "LeNet"), ("num_classes", -1),
                 ("dataset_path", "../dataset/cls/hand_gray")],  # line 51
    "train": [("random_seed", 0), ("save_fold", None), ("distributed", False), ("validate", True),
              ("device", "cpu"), ("metric", "accuracy"), ("save_best", "auto"),
              ("optimizer", "SGD"), ("epochs", 100), ("lr", 0.01), ("weight_decay", 0.001),
              ("checkpoint", None), ("batch_size", None), ("topk", None)],  # line 109
    "print_result": [("res", None)],  # line 236
    "load_checkpoint": [("checkpoint", None), ("device", "cpu")],  # line 246
    "inference": [("device", "cpu"), ("checkpoint", None), ("image", None), ("show", True),
                  ("save_fold", "cls_result")],  # line 287
    "fast_inference": [("image", REQUIRED), ("show", False), ("save_fold", "cls_result"),
                       ("verbose", True)],  # line 333
    "load_dataset": [("path", REQUIRED), ("check", True)],  # line 547
    "get_class": [("class_path", REQUIRED)],  # line 663
    "convert": [("checkpoint", None), ("backend", "ONNX"), ("out_file", "convert_model.onnx"),
                ("opset_version", 11), ("ir_version", 6)],  # line 693
}
# Helpers of MMEdu's class that work on its mmcv internals (lines 640 and 670): explained.
MMEDU_INTERNAL_HELPERS = ("generate_txt", "batch_infer")
# Defaults changed on purpose (docs/mmedu.md): a data set folder no longer taken silently.
DELIBERATE_DEFAULTS = {("__init__", "dataset_path"): None}


@pytest.fixture(scope="module")
def three_line_run(hand_data, tmp_path_factory):
    """MMEdu's tutorial training, one epoch: (model, save_fold, log)."""
    model = cls("LeNet")
    model.num_classes = 3
    model.load_dataset(path=str(hand_data))
    model.save_fold = str(tmp_path_factory.mktemp("mmedu") / "hand_gray")
    log = model.train(epochs=1, validate=True)
    return model, Path(model.save_fold), log


def test_every_mmedu_0_1_28_method_has_its_arguments_in_mmedus_order_with_its_defaults():
    for name, arguments in MMEDU_0_1_28.items():
        method = getattr(cls, name)
        parameters = list(inspect.signature(method).parameters.values())
        if parameters and parameters[0].name == "self":
            parameters = parameters[1:]
        ours = [(p.name, p.default) for p in parameters[:len(arguments)]]
        expected = [(arg, DELIBERATE_DEFAULTS.get((name, arg), default))
                    for arg, default in arguments]
        assert ours == expected, name
        assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters[:len(arguments)]), name
        # Anything after MMEdu's arguments is easycls's, by keyword only.
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in parameters[len(arguments):]), name


def test_mmedus_internal_helpers_are_explained_instead_of_missing():
    model = cls("LeNet")
    for name in MMEDU_INTERNAL_HELPERS:
        with pytest.raises(SettingError, match="easycls|load_dataset"):
            getattr(model, name)
    with pytest.raises(SettingError, match=r"Pass settings to train\(\)"):
        model.cfg


def test_sota_works_on_the_class_and_on_an_instance():
    assert cls.sota() == cls("ResNet18").sota()
    assert {"LeNet", "MobileNet", "ResNet18", "ResNet50"} <= set(cls.sota())


def test_the_three_line_tutorial_trains_and_returns_the_lines_of_its_log(three_line_run):
    model, save_fold, log = three_line_run
    assert log[0]["backbone"] == "LeNet" and log[0]["classes"] == ["paper", "rock", "scissors"]
    assert [line["mode"] for line in log[1:]][-1] == "val" and "accuracy_top-1" in log[-1]
    assert {"latest.pth", "best_accuracy_top-1.pth", "log.json"} <= {p.name for p in save_fold.iterdir()}
    assert model.checkpoint == str(save_fold / "latest.pth") and model.num_classes == 3
    # MMEdu's lr=0.01 left as it is: easycls chose for LeNet and the batch size.
    assert log[0]["recipe"]["lr"] != 0.01 and log[0]["recipe"]["epochs"] == 1


def test_continuing_training_from_a_checkpoint_starts_from_its_weights(three_line_run, hand_data, tmp_path, capsys):
    _, save_fold, _ = three_line_run
    model = cls("LeNet")
    model.num_classes = 3
    model.load_dataset(path=str(hand_data))
    model.save_fold = str(tmp_path / "hand_gray_continue")
    checkpoint = str(save_fold / "latest.pth")
    model.train(epochs=1, validate=True, checkpoint=checkpoint)
    assert f"Continuing training from the weights in '{checkpoint}'" in capsys.readouterr().out


def test_continuing_from_a_checkpoint_of_another_backbone_trains_that_one_with_a_note(three_line_run, hand_data, tmp_path, capsys):
    _, save_fold, _ = three_line_run
    model = cls(backbone="ResNet18")
    model.load_dataset(path=str(hand_data), check=False)
    log = model.train(epochs=1, checkpoint=str(save_fold / "latest.pth"),
                      save_fold=str(tmp_path / "run"))
    assert "was trained with LeNet, not ResNet18: this model is now a LeNet" in capsys.readouterr().out
    assert model.backbone == "LeNet" and log[0]["backbone"] == "LeNet"


def test_train_takes_all_mmedu_arguments_by_position_and_uses_the_values_given(hand_data, tmp_path):
    model = cls("LeNet", 3, str(hand_data))  # dataset_path: train() loads it
    log = model.train(7, str(tmp_path / "run"), False, True, "cpu", "accuracy", "auto", "SGD", 1,
                      0.01, 0.001, None, 16, (1,))
    recipe = log[0]["recipe"]
    assert (recipe["random_seed"], recipe["epochs"], recipe["batch_size"]) == (7, 1, 16)
    assert (recipe["lr"], recipe["weight_decay"]) == (0.01, 0.001)  # given, so used
    assert model.save_fold == str(tmp_path / "run")


def test_inference_on_a_file_returns_mmedus_dict_with_the_file_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = cls("LeNet")
    result = model.inference(image=ROCK, show=True, checkpoint=BUNDLED)
    assert result == {"pred_label": 1, "pred_score": result["pred_score"], "pred_class": "rock",
                      "image": ROCK}
    assert (tmp_path / "cls_result" / "rock.png").is_file()  # MMEdu's folder, the file's name


def test_inference_on_a_folder_returns_one_result_per_picture_in_sorted_order(tmp_path):
    model = cls("LeNet")
    results = model.inference(image=MANY, show=False, checkpoint=BUNDLED)
    names = sorted(p.name for p in Path(MANY).iterdir())
    assert [Path(r["image"]).name for r in results] == names
    assert [r["pred_class"] for r in results] == [name.split("_")[0] for name in names]


def test_an_unreadable_picture_in_a_folder_gets_an_error_entry_and_the_rest_are_classified(tmp_path):
    for name in ("paper_0.png", "rock_0.png"):
        (tmp_path / name).write_bytes((Path(MANY) / name).read_bytes())
    (tmp_path / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    model = cls("LeNet")
    results = model.inference(image=str(tmp_path), show=False, checkpoint=BUNDLED)
    assert [r.get("pred_class") for r in results] == ["paper", "rock", None]
    assert set(results[2]) == {"image", "error"}
    chinese = model.print_result(results)
    assert chinese[2]["图片"] == "zz_broken.png" and "错误" in chinese[2]


def test_setting_model_checkpoint_then_inference_uses_that_file(tmp_path):
    model = cls("LeNet")
    model.checkpoint = BUNDLED
    result = model.inference(image=ROCK, show=False)
    assert result["pred_class"] == "rock"


def test_fast_inference_after_load_checkpoint_reads_no_checkpoint_again(capsys):
    model = cls(backbone="LeNet")
    model.load_checkpoint(checkpoint=BUNDLED)
    capsys.readouterr()
    for _ in range(3):
        result = model.fast_inference(image=ROCK, verbose=False)
        model.print_result(result)
    assert result["pred_class"] == "rock"
    assert capsys.readouterr().out.count("分类结果如下：") == 3


def test_print_result_prints_mmedus_header_and_returns_its_chinese_keys(capsys):
    model = cls("LeNet")
    result = model.inference(image=MANY, show=False, checkpoint=BUNDLED)
    capsys.readouterr()
    x = model.print_result(result)
    out = capsys.readouterr().out
    assert out.startswith("分类结果如下：\n[{'标签': 0, '置信度': ")
    assert x[0]["标签"] == 0 and x[0]["预测结果"] == "paper" and x[0]["图片"] == "paper_0.png"
    assert 0 < x[0]["置信度"] <= 1
    assert model.print_result() == x  # no argument: the last results, as MMEdu's tutorial calls it
    assert model.chinese_res == x


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_convert_writes_onnx_and_a_script_beside_it_that_classifies_with_it(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    model = cls(backbone="LeNet")
    path = model.convert(checkpoint=BUNDLED, out_file="hand.onnx")
    assert path == "hand.onnx" and (tmp_path / "hand.onnx").is_file()
    from easycls import onnx_predict

    assert onnx_predict(path, ROCK)["pred_class"] == "rock"
    printed = runpy.run_path(str(tmp_path / "hand.py"))["result"]  # MMEdu wrote such a .py too
    assert printed["pred_class"] in ("paper", "rock", "scissors")
    # A script of that name written by someone else is kept; MMEdu's opset/ir are noted.
    (tmp_path / "mine.py").write_text("print('my lesson')\n")
    model.convert(BUNDLED, "ONNX", "mine.onnx", 13, 7)
    assert (tmp_path / "mine.py").read_text() == "print('my lesson')\n"
    out = capsys.readouterr().out
    assert "exists and is not easycls's" in out and "opset_version=13 and ir_version=7 are not used" in out


def test_a_lenet_checkpoint_inferred_through_a_resnet18_model_builds_lenet_with_a_note(capsys):
    model = cls(backbone="ResNet18")  # MMEdu's own demo/cls_demo.py does this
    result = model.inference(image=ROCK, show=False, checkpoint=BUNDLED, device="cpu")
    lines = [line for line in capsys.readouterr().out.splitlines() if "was trained with" in line]
    assert lines == [f"Note: '{BUNDLED}' was trained with LeNet, not ResNet18: this model is now a "
                     f"LeNet, built as the checkpoint names it."]
    assert model.backbone == "LeNet" and result["pred_class"] == "rock"


def test_an_mmedu_trained_resnet18_checkpoint_is_used_through_any_model(tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(num_classes=3)
    state = {("head." if k.startswith("fc.") else "backbone.") + k: v
             for k, v in reference.state_dict().items()}
    path = tmp_path / "best_accuracy_top-1_epoch_4.pth"
    torch.save({"meta": {"mmcv_version": "1.4.5", "CLASSES": ["paper", "rock", "scissors"],
                         "tool": "MMEdu0.1.28", "epoch": 4}, "state_dict": state}, path)
    model = cls(backbone="LeNet")
    model.load_checkpoint(checkpoint=str(path))
    result = model.fast_inference(image=ROCK)
    assert model.backbone == "ResNet18" and result["pred_class"] in ("paper", "rock", "scissors")


def test_a_numpy_picture_is_read_as_rgb_as_mmedus_fast_inference_took_it(tmp_path):
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    Image.fromarray(colours).save(tmp_path / "colours.png")
    model = cls("LeNet")
    model.load_checkpoint(BUNDLED)
    from_file = model.fast_inference(str(tmp_path / "colours.png"))
    from_array = model.fast_inference(colours)  # MMEdu returned [] here
    swapped = model.fast_inference(np.ascontiguousarray(colours[:, :, ::-1]))
    assert from_array["image"] is None and from_array["pred_score"] == from_file["pred_score"]
    assert swapped["pred_score"] != from_file["pred_score"]
    assert model.fast_inference(Image.fromarray(colours))["pred_score"] == from_file["pred_score"]


def test_unknown_arguments_get_easycls_message_with_the_valid_names_not_an_error_code(three_line_run):
    model = three_line_run[0]
    with pytest.raises(TypeError, match=r"train\(\) has no argument 'epoch'. Did you mean epochs=\? "
                                        r"Its arguments are random_seed, save_fold, distributed") as error:
        model.train(epoch=10)
    assert "Error Code" not in str(error.value) and "image_size" in str(error.value)
    with pytest.raises(TypeError, match=r"inference\(\) has no argument 'imgae'. Did you mean image=\?"):
        model.inference(imgae=ROCK)
    with pytest.raises(TypeError, match=r"MMClassification\(\) has no argument 'num_class'. Did you mean num_classes=\?"):
        cls("LeNet", num_class=3)
    with pytest.raises(SettingError, match=r"Did you mean model.save_fold\?"):
        model.save_folder = "checkpoints"
    with pytest.raises(SettingError, match=r"Pass it to train\(\): model.train\(lr=0.1\)"):
        model.lr = 0.1


def test_class_path_of_older_tutorials_is_accepted_with_a_one_line_note(capsys):
    mmedu._note_class_path.cache_clear()
    model = cls("LeNet")
    result = model.inference(image=ROCK, show=False, class_path="dataset/hand_gray/classes.txt",
                             checkpoint=BUNDLED)
    model.fast_inference(image=ROCK, class_path="dataset/hand_gray/classes.txt")
    assert result["pred_class"] == "rock"
    assert capsys.readouterr().out.count("class_path is no longer needed") == 1


def test_a_picture_given_first_to_inference_is_explained_by_mmedus_argument_order():
    with pytest.raises(TypeError, match=r"first argument is device, in MMEdu's order.*image=\.\.\."):
        cls("LeNet").inference(ROCK)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this computer has a GPU")
def test_device_cuda_without_a_gpu_gives_easycls_message():
    model = cls("LeNet")
    with pytest.raises(TrainingError, match="no usable NVIDIA GPU"):
        model.load_checkpoint(checkpoint=BUNDLED, device="cuda")
    with pytest.raises(TrainingError, match="no usable NVIDIA GPU"):
        model.inference(device="cuda", image=ROCK, checkpoint=BUNDLED)


def test_distributed_training_is_refused_clearly_outside_torchrun(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TrainingError, match="not supported by easycls yet"):
        cls("LeNet").train(epochs=1, distributed=True)


def test_metrics_other_than_accuracy_are_noted_before_the_missing_data_set_is_explained(capsys):
    with pytest.raises(DatasetError, match=r"No data set is loaded"):
        cls("LeNet").train(metric="precision", save_best=None)
    out = capsys.readouterr().out
    assert "come from model.classifier.evaluate()" in out and "save_best=None changes nothing" in out


def test_num_classes_minus_one_means_the_data_decides_and_a_wrong_count_is_explained(hand_data):
    model = cls("LeNet")
    assert model.num_classes == -1
    model.load_dataset(str(hand_data), check=False)
    assert model.num_classes == 3
    wrong = cls("LeNet", num_classes=4)
    with pytest.raises(DatasetError, match="has 3"):
        wrong.load_dataset(str(hand_data), check=False)


def test_no_weights_and_no_picture_are_explained():
    with pytest.raises(CheckpointError, match=r"model.checkpoint = '...pth'"):
        cls("LeNet").fast_inference(ROCK)
    with pytest.raises(ImageError, match="needs the picture"):
        cls("LeNet").inference(checkpoint=BUNDLED)


def test_every_mmedu_method_takes_all_its_arguments_by_position(hand_data, tmp_path):
    model = cls("LeNet", -1, None)
    model.load_dataset(str(hand_data), False)
    model.load_checkpoint(BUNDLED, "cpu")
    assert model.fast_inference(ROCK, True, str(tmp_path / "fast"), False)["pred_class"] == "rock"
    result = model.inference("cpu", BUNDLED, ROCK, True, str(tmp_path / "slow"))
    assert model.print_result(result)[0]["预测结果"] == "rock"
    assert {p.name for p in tmp_path.glob("*/rock.png")} == {"rock.png"}
    assert model.get_class(str(hand_data / "classes.txt")) == ["paper", "rock", "scissors"]


def test_a_video_gives_mmedu_shaped_results_frame_by_frame(tmp_path):
    import cv2
    import numpy as np

    from easycls import MMClassification

    frames = [cv2.imread(str(REPO / "demo" / "many_pictures" / "rock_0.png"))] * 4
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    model = MMClassification(backbone="LeNet")
    model.load_checkpoint(BUNDLED)
    rows = list(model.fast_inference(image=str(clip)))
    assert len(rows) == 4 and {"pred_label", "pred_score", "pred_class", "frame"} <= rows[0].keys()
    assert [row["frame"] for row in rows] == [0, 1, 2, 3]
    assert model.print_result()[0]["预测结果"] == rows[-1]["pred_class"]
