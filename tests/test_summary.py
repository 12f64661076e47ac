"""model.summary() and Classifier.sota(details=True): parameters, FLOPs, per-block table.

FLOPs follow torch.utils.flop_counter: a multiply-add counts as 2, and only
convolutions and matrix products are counted.
"""
import pytest
import torch
import torchvision
from torch import nn

import easycls
from easycls.errors import BackboneError
from easycls.models import create_model, get_spec, list_models
from easycls.models.summary import (backbone_table, format_backbone_table, format_summary,
                                    summarize)


def meta_model(name: str, num_classes: int = 10) -> nn.Module:
    with torch.device("meta"):
        return create_model(name, num_classes, get_spec(name).channels or 1)


def test_lenet_parameters_are_the_sum_of_its_tensors():
    net = create_model("LeNet", 10, 1)
    info = summarize(net, "LeNet", 1, 32)
    assert info["parameters"] == sum(p.numel() for p in net.parameters()) == 61750
    assert info["trainable_parameters"] == info["parameters"]


def test_frozen_parameters_are_not_counted_as_trainable():
    net = create_model("LeNet", 10, 1)
    for p in net.features.parameters():
        p.requires_grad = False
    info = summarize(net, "LeNet", 1, 32)
    frozen = sum(p.numel() for p in net.features.parameters())
    assert info["trainable_parameters"] == info["parameters"] - frozen


def test_lenet_flops_at_32_pixels_are_twice_its_hand_counted_multiply_adds():
    conv1 = 6 * 28 * 28 * (1 * 5 * 5)     # 6 maps of 28x28, each pixel a 1x5x5 window
    conv2 = 16 * 10 * 10 * (6 * 5 * 5)    # after pooling to 14x14: 16 maps of 10x10
    linear = 400 * 120 + 120 * 84 + 84 * 10
    info = summarize(create_model("LeNet", 10, 1), "LeNet", 1, 32)
    assert info["macs"] == conv1 + conv2 + linear == 416520
    assert info["flops"] == 2 * info["macs"]


def test_resnet18_at_224_matches_torchvisions_documented_multiply_adds():
    # torchvision lists resnet18 as "1.81 GFLOPS": multiply-adds, with a 1000-class head.
    documented = torchvision.models.ResNet18_Weights.DEFAULT.meta["_ops"] * 1e9
    info = summarize(meta_model("ResNet18", num_classes=1000), "ResNet18", 3, 224)
    assert info["macs"] == pytest.approx(documented, rel=0.005)
    assert info["flops"] == pytest.approx(3.63e9, rel=0.005)


@pytest.mark.parametrize("name", list_models())
def test_blocks_add_up_to_the_whole_network(name):
    spec = get_spec(name)
    info = summarize(meta_model(name), name, spec.channels or 1, spec.image_size)
    assert info["flops"] > 0
    assert sum(block["flops"] for block in info["blocks"]) == info["flops"]
    assert info["flops_outside_blocks"] == 0
    assert sum(block["parameters"] for block in info["blocks"]) == info["parameters"]


def test_resnet18_blocks_are_its_top_level_children_with_their_output_shapes():
    info = summarize(meta_model("ResNet18"), "ResNet18", 3, 224)
    blocks = {block["name"]: block for block in info["blocks"]}
    assert list(blocks) == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                            "layer4", "avgpool", "fc"]
    assert blocks["conv1"]["type"] == "Conv2d"
    assert blocks["conv1"]["output_shape"] == [64, 112, 112]
    assert blocks["layer4"]["output_shape"] == [512, 7, 7]
    assert blocks["fc"]["output_shape"] == [10]
    assert blocks["bn1"]["flops"] == 0  # batch norm is not counted


class MatmulOutsideBlocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.weight = nn.Parameter(torch.ones(4 * 6 * 6, 5))

    def forward(self, x):
        return torch.flatten(self.conv(x), 1) @ self.weight


def test_work_done_outside_the_blocks_is_reported_and_printed():
    info = summarize(MatmulOutsideBlocks(), "custom", 1, 8)
    assert info["flops_outside_blocks"] == 2 * 144 * 5
    assert sum(b["flops"] for b in info["blocks"]) + info["flops_outside_blocks"] == info["flops"]
    assert "outside the blocks" in format_summary(info)


def lenet_in_train_mode_with_statistics():
    torch.manual_seed(0)
    net = create_model("LeNet", 10, 1)
    net.train()
    net(torch.randn(4, 1, 32, 32))  # running statistics away from their initial values
    return net


def snapshot(net: nn.Module) -> dict:
    return {key: value.clone() for key, value in net.state_dict().items()}


def test_summarize_leaves_weights_mode_and_batch_norm_statistics_unchanged():
    net = lenet_in_train_mode_with_statistics()
    before = snapshot(net)
    summarize(net, "LeNet", 1, 32)
    assert net.training and all(module.training for module in net.modules())
    after = net.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[key], after[key]) for key in before)
    assert all(p.grad is None and p.device.type == "cpu" for p in net.parameters())
    assert not any(module._forward_hooks or module._forward_pre_hooks for module in net.modules())


def test_an_eval_mode_model_stays_in_eval_mode():
    net = create_model("LeNet", 10, 1).eval()
    summarize(net, "LeNet", 1, 32)
    assert not any(module.training for module in net.modules())


class NeedsRealNumbers(nn.Module):
    """A forward that reads a value, which the shapes-only meta device cannot give."""

    def __init__(self):
        super().__init__()
        self.net = create_model("LeNet", 10, 1)

    def forward(self, x):
        if float(x.abs().sum()) > 1e9:
            raise AssertionError("not reached")
        return self.net(x)


def test_a_model_that_cannot_run_on_meta_is_counted_on_a_real_copy():
    model = NeedsRealNumbers()
    model.train()
    model.net(torch.randn(4, 1, 32, 32))
    before = snapshot(model)
    info = summarize(model, "custom", 1, 32)
    assert info["flops"] == summarize(create_model("LeNet", 10, 1), "LeNet", 1, 32)["flops"]
    assert model.training
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())


def test_an_image_too_small_for_the_network_says_which_size_to_use():
    with pytest.raises(BackboneError, match=r"1x4x4 image.*at least 16 pixels.*image_size=32"):
        summarize(create_model("LeNet", 10, 1), "LeNet", 1, 4)


def test_format_summary_shows_input_totals_units_and_every_block():
    info = summarize(meta_model("ResNet18"), "ResNet18", 3, 224)
    text = format_summary(info)
    assert "ResNet18, input 3x224x224" in text
    assert "11,181,642 (11.2 M)" in text
    assert "3.63 GFLOPs" in text and "1.81 G multiply-adds" in text
    assert "multiply-add as 2" in text
    for name in ("conv1", "layer4", "fc"):
        assert any(line.startswith(name + " ") for line in text.splitlines())
    assert "512x7x7" in text


def test_summary_through_the_facade_prints_a_table_and_returns_the_dict(capsys):
    info = easycls.Classifier("LeNet", num_classes=3).summary()
    printed = capsys.readouterr().out
    assert info["backbone"] == "LeNet"
    assert info["blocks"][-1]["output_shape"] == [3]
    assert "LeNet, input" in printed and "classifier" in printed and "MFLOPs" in printed


def test_backbone_table_has_one_entry_per_backbone_in_registry_order():
    table = backbone_table()
    assert [entry["name"] for entry in table] == list_models()
    lenet, resnet18 = table[0], table[list_models().index("ResNet18")]
    assert lenet == {"name": "LeNet", "num_classes": 10, "image_size": 32, "channels": 1,
                     "channels_follow_data": True, "parameters": 61750, "flops": 833040,
                     "macs": 416520, "pretrained": False}
    assert resnet18["image_size"] == 224 and resnet18["channels"] == 3
    assert resnet18["pretrained"] and not resnet18["channels_follow_data"]
    assert resnet18["parameters"] == sum(p.numel() for p in meta_model("ResNet18").parameters())


def test_backbone_table_counts_with_the_head_size_it_is_given_and_says_so():
    table = backbone_table(num_classes=3)
    assert table[0]["parameters"] == 61750 - 84 * 7 - 7
    text = format_backbone_table(table)
    assert "3-class head" in text
    assert "counted at 1" in text  # LeNet's channels follow the data


def test_sota_with_details_prints_and_returns_one_entry_per_backbone(capsys):
    table = easycls.Classifier.sota(details=True)
    printed = capsys.readouterr().out
    assert [entry["name"] for entry in table] == list_models()
    assert all(name in printed for name in list_models())
    assert "10-class head" in printed


def test_sota_without_details_still_returns_the_names():
    assert easycls.Classifier.sota() == list_models()
