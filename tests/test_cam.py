"""Class activation maps: one per picture and target class, at each backbone's default layer."""
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from easycls import BackboneError, EasyclsError
from easycls.data.input_spec import InputSpec
from easycls.engine.checkpoint import CheckpointMeta
from easycls.inference import Predictor
from easycls.models import IMAGENET_MEAN, IMAGENET_STD, create_model, get_spec, list_models
from easycls.visualize.cam import cam_inputs, overlay


@pytest.fixture
def model(loaded_model):
    return loaded_model


@pytest.fixture
def rock(hand_data):
    return str(sorted((hand_data / "test_set" / "rock").glob("*.png"))[0])


def test_heat_maps_for_two_target_classes_differ(model, rock):
    rock_map = model.cam(rock, target_class="rock", show=False)["cam"]
    paper_map = model.cam(rock, target_class="paper", show=False)["cam"]
    assert np.abs(rock_map - paper_map).mean() > 0.01


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "layercam", "eigencam", "Grad-CAM"])
def test_every_method_gives_a_map_between_0_and_1_at_the_input_size(model, rock, method):
    result = model.cam(rock, method=method, show=False)
    heat = result["cam"]
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1 and heat.max() > 0.5
    assert result["method"] == method.lower().replace("-", "")


def test_the_default_target_is_the_predicted_class(model, rock):
    result = model.cam(rock, show=False)
    assert {"image", "pred_label", "pred_score", "pred_class", "topk"} <= result.keys()
    assert (result["target_class"], result["target_label"]) == (result["pred_class"],
                                                                 result["pred_label"])
    assert result["layer"] == "features.6"  # LeNet's in-place ReLU after the second conv


def test_a_target_class_by_name_any_case_or_number_gives_the_same_map(model, rock):
    by_name, by_case, by_number = (model.cam(rock, target_class=target, show=False)
                                   for target in ("scissors", "SCISSORS", 2))
    assert by_name["target_label"] == by_case["target_label"] == by_number["target_label"] == 2
    assert by_name["target_class"] == by_number["target_class"] == "scissors"
    assert np.array_equal(by_name["cam"], by_number["cam"])


@pytest.mark.parametrize("target", ["spock", 3, -1])
def test_a_wrong_target_class_lists_the_classes(model, rock, target):
    with pytest.raises(EasyclsError, match="0 paper, 1 rock, 2 scissors"):
        model.cam(rock, target_class=target, show=False)


def test_a_misspelt_target_layer_lists_the_layers_and_the_default(model, rock):
    with pytest.raises(BackboneError, match=r"no layer named 'features\.66'\. Did you mean "
                                            r"'features\.6'\? Layers with feature maps: "
                                            r"features\.0, .*features\.7.* default, 'features\.6'"):
        model.cam(rock, target_layer="features.66", show=False)


def test_a_layer_without_feature_maps_is_explained(model, rock):
    with pytest.raises(BackboneError, match="'classifier' of LeNet is not a feature map"):
        model.cam(rock, target_layer="classifier", show=False)


def test_a_target_layer_by_name_is_used(model, rock):
    result = model.cam(rock, target_layer="features.2", show=False)
    assert result["layer"] == "features.2" and result["cam"].shape == (32, 32)


def test_an_unknown_method_lists_the_methods(model, rock):
    with pytest.raises(EasyclsError, match="'smoothgrad'. Choose one of: gradcam, gradcam\\+\\+, "
                                           "layercam, eigencam"):
        model.cam(rock, method="smoothgrad", show=False)


def test_a_folder_gives_one_result_per_picture_and_coloured_overlays_of_the_same_names(
        model, hand_data, tmp_path, capsys):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for name in ("paper", "rock"):
        for path in sorted((hand_data / "test_set" / name).glob("*.png"))[:2]:
            shutil.copy(path, folder / path.name)
    (folder / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    results = model.cam(folder, save_fold=tmp_path / "out")
    assert len(results) == 5 and "zz_broken.png" in results[-1]["error"]
    assert all(r["cam"].shape == (32, 32) for r in results[:-1])
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(p.name for p in folder.glob("*.png") if p.name != "zz_broken.png")
    overlay = np.asarray(Image.open(tmp_path / "out" / written[0]).convert("RGB")).astype(int)
    assert min(overlay.shape[:2]) >= 256  # 32-px pictures enlarged, like annotated results
    assert np.abs(overlay[..., 0] - overlay[..., 2]).mean() > 10  # gray picture, coloured map
    assert "Saved 4 heat-map picture(s)" in capsys.readouterr().out


def test_the_model_is_left_as_it_was(model, rock):
    net = model.net
    marked = next(net.parameters())
    marked.grad = torch.ones_like(marked)
    try:
        for method in ("gradcam", "eigencam"):
            model.cam(rock, method=method, show=False)
        assert all(not m._forward_hooks and not m._backward_hooks for m in net.modules())
        assert not net.training and all(p.requires_grad for p in net.parameters())
        assert torch.equal(marked.grad, torch.ones_like(marked))
        assert all(p.grad is None for p in list(net.parameters())[1:])
    finally:
        marked.grad = None


def test_resnet18_uses_its_registry_layer(tmp_path):
    torch.manual_seed(0)
    spec = InputSpec(64, 3, IMAGENET_MEAN, IMAGENET_STD)
    meta = CheckpointMeta("ResNet18", ["cat", "dog"], spec)
    predictor = Predictor(create_model("ResNet18", 2, 3), meta, torch.device("cpu"))
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 60, 3), np.uint8))
    result = cam_inputs(predictor, get_spec("ResNet18"), [picture], target_class="dog",
                        save_fold=tmp_path)
    assert result[0]["layer"] == "layer4" and result[0]["cam"].shape == (64, 64)
    assert Image.open(tmp_path / "image_0.png").size == (256, 341)  # the picture's own shape


def test_a_center_cropping_model_colours_only_the_part_it_saw():
    spec = InputSpec(32, 1, (0.5,), (0.5,), resize="center-crop", crop_pct=0.5)
    result = {"cam": np.zeros((32, 32), np.float32), "target_class": "rock", "target_label": 1,
              "target_score": 0.9, "method": "gradcam", "pred_class": "rock", "pred_label": 1,
              "pred_score": 0.9}
    picture = np.asarray(overlay(Image.new("RGB", (512, 256), "white"), result, spec))
    assert picture[200, 20].tolist() == [255, 255, 255]  # outside the centre crop
    assert picture[128, 256, 2] > picture[128, 256, 0] + 50  # inside: blue, the map's zero


@pytest.mark.parametrize("backbone", list_models())
def test_every_backbone_names_a_cam_layer_with_feature_maps(backbone):
    spec = get_spec(backbone)
    channels = spec.channels or 1
    with torch.device("meta"):  # shapes only: no weights, no arithmetic
        net = create_model(backbone, 3, channels).eval()
    shapes = []
    layer = net.get_submodule(spec.cam_layer)
    layer.register_forward_hook(lambda module, inputs, output: shapes.append(output.shape))
    net(torch.zeros(1, channels, spec.image_size, spec.image_size, device="meta"))
    assert len(shapes[0]) == 4 and min(shapes[0][2:]) > 1


def test_eigencam_says_it_does_not_look_at_classes(model, rock, capsys):
    result = model.cam(rock, method="eigencam", target_class="paper", show=False)
    assert "EigenCAM does not look at classes" in capsys.readouterr().out
    assert result["target_class"] == result["pred_class"]


def test_an_empty_map_is_explained_instead_of_shown_blank(model, rock, monkeypatch, capsys):
    from easycls.visualize import cam

    real_rows = cam._batch_results
    monkeypatch.setattr(cam, "_batch_results", lambda *args: [  # as when no evidence is found
        dict(row, cam=np.zeros((32, 32), np.float32)) for row in real_rows(*args)])
    model.cam(rock, target_class="paper", show=False)
    out = capsys.readouterr().out
    assert "Grad-CAM found no evidence for the target class in 1 picture(s), so their maps are " \
           "empty" in out and "(predicted rock)" in out


def test_the_overlay_names_the_method_and_the_prediction_when_the_target_differs():
    from easycls.visualize.cam import overlay_label

    row = {"method": "gradcam++", "pred_class": "rock", "pred_label": 1, "pred_score": 0.97,
           "target_class": "paper", "target_label": 0, "target_score": 0.02}
    assert overlay_label(row) == "Grad-CAM++ paper 0.02 (predicted rock 0.97)"
    assert overlay_label(dict(row, target_class="rock", target_label=1, target_score=0.97)) == \
        "Grad-CAM++ rock 0.97"
