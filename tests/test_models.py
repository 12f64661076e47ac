"""Every backbone in sota() trains, saves, reloads and infers; names are forgiving."""
import numpy as np
import pytest
import torch

from easycls import BackboneError, Classifier, CheckpointError
from easycls.models import create_model, get_spec, list_models
from easycls.models.torchvision_presets import load_imagenet_state


def test_sota_lists_the_core_presets_on_the_class_and_on_an_instance():
    assert {"LeNet", "MobileNet", "ResNet18", "ResNet50"} <= set(Classifier.sota())
    assert Classifier("LeNet").sota() == Classifier.sota() == list_models()


@pytest.mark.parametrize("typed, name", [("lenet", "LeNet"), ("RESNET18", "ResNet18"),
                                         ("mobilenet_v2", "MobileNet"), ("MobileNetV2", "MobileNet"),
                                         ("resnet-50", "ResNet50")])
def test_backbone_names_ignore_case_and_punctuation(typed, name):
    assert Classifier(typed).backbone == name


def test_unknown_backbone_lists_what_is_offered():
    with pytest.raises(BackboneError, match=r"Unknown backbone 'VGG99'. easycls offers: LeNet, FastNet, MobileNet"):
        Classifier("VGG99")


def test_backbone_given_as_a_non_string_is_explained():
    with pytest.raises(BackboneError, match="must be given by name as a string, got int 18"):
        Classifier(18)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from easycls.data.synthetic import make_hand_gestures

    return make_hand_gestures(tmp_path_factory.mktemp("tiny") / "tiny", train_per_class=4,
                              val_per_class=2, test_per_class=0, size=32)


@pytest.mark.parametrize("backbone", list_models())
def test_every_backbone_trains_saves_reloads_and_infers(backbone, tiny_data, tmp_path):
    model = Classifier(backbone)
    model.load_dataset(tiny_data)
    history = model.train(epochs=1, batch_size=4, image_size=32, save_fold=tmp_path, verbose=False)
    assert history[-1]["mode"] == "val"
    again = Classifier(backbone)
    meta = again.load_checkpoint(tmp_path / "latest.pth")
    assert meta["classes"] == ["paper", "rock", "scissors"] and meta["image_size"] == 32
    result = again.fast_inference(np.zeros((40, 30, 3), dtype=np.uint8))
    assert result["pred_class"] in meta["classes"] and 0.0 <= result["pred_score"] <= 1.0
    reloaded = torch.load(tmp_path / "latest.pth", weights_only=True)["state_dict"]
    for key, value in again.net.state_dict().items():
        assert torch.equal(value.cpu(), reloaded[key])


def test_lenet_follows_the_channels_it_is_given():
    for channels in (1, 3):
        net = create_model("LeNet", 4, channels)
        assert net(torch.zeros(2, channels, 32, 32)).shape == (2, 4)


def test_lenet_has_no_pretrained_weights_and_says_what_to_do():
    with pytest.raises(BackboneError, match="LeNet has no pretrained weights"):
        create_model("LeNet", 3, 1, pretrained=True)


def test_pretrained_weights_come_from_the_torchvision_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = create_model("ResNet18", 1000, 3).state_dict()
    weights_file = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    weights_file.parent.mkdir(parents=True)
    torch.save(reference, weights_file)
    model = create_model("ResNet18", 5, 3, pretrained=True)
    assert torch.equal(model.conv1.weight, reference["conv1.weight"])
    assert model.fc.out_features == 5


def test_missing_pretrained_weights_offline_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match=r"could not be downloaded .* Expected the file .*resnet18-f37072fd.pth"):
        load_imagenet_state("resnet18")


def test_loading_a_checkpoint_of_another_backbone_names_both(trained):
    _, save_fold, _ = trained
    with pytest.raises(CheckpointError, match=r"trained with backbone LeNet, but this model is ResNet18"):
        Classifier("ResNet18").load_checkpoint(save_fold / "latest.pth")


def test_spec_stats_follow_the_channel_count():
    mean, std = get_spec("ResNet18").stats_for(1)
    assert len(mean) == len(std) == 1 and 0.4 < mean[0] < 0.5
