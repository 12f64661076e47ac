"""MMEdu / OpenMMLab checkpoints: ResNet and MobileNetV2 load, others are refused clearly."""
import numpy as np
import pytest
import torch
import torchvision

from easycls import CheckpointError, Classifier

CLASSES = ["rock", "paper", "scissors"]


def mmedu_file(tmp_path, state_dict, meta=None):
    """A checkpoint laid out as MMEdu (mmcv) saves one."""
    path = tmp_path / "mmedu_epoch_5.pth"
    torch.save({"meta": {"mmcv_version": "1.4.2", "CLASSES": CLASSES, "epoch": 5,
                         "config": "model = dict(type='ImageClassifier', ...)", **(meta or {})},
                "state_dict": state_dict, "optimizer": {}}, path)
    return path


def mmcls_resnet18_state():
    """torchvision's ResNet18 under MMClassification's names (backbone.*, head.fc.*)."""
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(num_classes=3).eval()
    renamed = {("head." + k if k.startswith("fc.") else "backbone." + k): v
               for k, v in reference.state_dict().items()}
    return reference, renamed


def test_an_mmedu_resnet18_loads_and_predicts_with_mmedus_test_pipeline(tmp_path, capsys):
    reference, state = mmcls_resnet18_state()
    model = Classifier("ResNet18")
    meta = model.load_checkpoint(mmedu_file(tmp_path, state), device="cpu")
    assert "is an MMEdu/OpenMMLab checkpoint: loaded as ResNet18" in capsys.readouterr().out
    assert meta["classes"] == CLASSES and meta["image_size"] == 224 and meta["epoch"] == 5
    assert meta["resize"] == "center-crop" and meta["crop_pct"] == pytest.approx(224 / 256)
    # Shorter side already 256, so MMEdu's pipeline only cuts the 224-px centre out of it.
    picture = np.random.default_rng(0).integers(0, 255, (256, 300, 3), dtype=np.uint8)
    result = model.fast_inference(picture)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    centre = picture[16:240, 38:262]
    x = (torch.from_numpy(centre).permute(2, 0, 1)[None].float() / 255 - mean) / std
    with torch.no_grad():
        expected = reference(x).softmax(1)[0]
    assert result["pred_class"] == CLASSES[int(expected.argmax())]
    assert result["pred_score"] == pytest.approx(float(expected.max()), abs=1e-4)


def test_an_mmedu_mobilenet_v2_loads_by_position_and_shape(tmp_path):
    reference = torchvision.models.mobilenet_v2(num_classes=3).state_dict()
    # MMClassification names its MobileNetV2 layers differently; the order is the same.
    state = {f"backbone.layer{i}.weight" if not k.startswith("classifier") else f"head.fc.{k.rsplit('.', 1)[1]}": v
             for i, (k, v) in enumerate(reference.items())}
    model = Classifier("MobileNet")
    model.load_checkpoint(mmedu_file(tmp_path, state))
    assert torch.equal(model.net.features[0][0].weight, reference["features.0.0.weight"])


def test_an_mmedu_checkpoint_loaded_into_another_backbone_names_both(tmp_path):
    _, state = mmcls_resnet18_state()
    with pytest.raises(CheckpointError, match="trained with backbone ResNet18, but this model is LeNet"):
        Classifier("LeNet").load_checkpoint(mmedu_file(tmp_path, state))


def test_an_mmedu_lenet_is_refused_with_the_reason(tmp_path):
    lenet = {"backbone.features.0.weight": torch.zeros(6, 1, 5, 5),
             "backbone.features.3.weight": torch.zeros(16, 6, 5, 5),
             "backbone.features.6.weight": torch.zeros(120, 16, 5, 5),
             "head.fc.weight": torch.zeros(3, 84)}
    with pytest.raises(CheckpointError, match=r"classes: rock, paper, scissors\), but its network is not one easycls can load.*LeNet is built differently"):
        Classifier("LeNet").load_checkpoint(mmedu_file(tmp_path, lenet))


def test_an_openmmlab_checkpoint_without_class_names_is_refused(tmp_path):
    _, state = mmcls_resnet18_state()
    path = tmp_path / "no_classes.pth"
    torch.save({"meta": {"mmcv_version": "1.4.2"}, "state_dict": state}, path)
    with pytest.raises(CheckpointError, match=r"without its class names \(meta\['CLASSES'\]\)"):
        Classifier("ResNet18").load_checkpoint(path)


def test_fine_tuning_starts_from_an_mmedu_checkpoint(tmp_path, hand_data):
    _, state = mmcls_resnet18_state()
    model = Classifier("ResNet18")
    model.load_dataset(hand_data, check=None)
    history = model.train(epochs=1, image_size=32, checkpoint=mmedu_file(tmp_path, state),
                          save_fold=tmp_path / "run", verbose=False)
    assert history[-1]["mode"] == "val"


@pytest.mark.parametrize("height, width", [(720, 1280), (300, 257), (427, 640)])
def test_the_mmedu_crop_matches_mmcls_to_the_pixel(height, width):
    import cv2
    from PIL import Image

    from easycls.data.images import to_model_array
    from easycls.data.input_spec import InputSpec
    from easycls.models import IMAGENET_MEAN, IMAGENET_STD

    rng = np.random.default_rng(height)
    picture = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    spec = InputSpec(224, 3, IMAGENET_MEAN, IMAGENET_STD, resize="center-crop", crop_pct=224 / 256)
    # mmcls 0.x: Resize(size=(256, -1)) truncates the longer side; CenterCrop rounds its offset.
    if width <= height:
        size = (256, int(256 * height / width))
    else:
        size = (int(256 * width / height), 256)
    resized = cv2.resize(picture, size, interpolation=cv2.INTER_LINEAR)
    top = int(round((resized.shape[0] - 224) / 2.0))
    left = int(round((resized.shape[1] - 224) / 2.0))
    expected = resized[top:top + 224, left:left + 224].transpose(2, 0, 1)
    assert np.array_equal(to_model_array(Image.fromarray(picture), spec), expected)


def test_pth_info_says_where_an_imported_checkpoint_came_from(tmp_path, capsys):
    import easycls

    _, state = mmcls_resnet18_state()
    path = mmedu_file(tmp_path, state)
    info = easycls.pth_info(path)
    out = capsys.readouterr().out
    assert f"imported   from OpenMMLab/MMEdu checkpoint {path}" in out
    assert "written by easycls" not in out and info["backbone"] == "ResNet18"
