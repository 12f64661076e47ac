"""How big a network is: parameters, FLOPs for one image, and a per-block table.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode`, which counts a
multiply-add as 2 FLOPs and counts only convolutions and matrix products
(batch norm, activations, pooling and additions are left out: they are a few
percent at most). torchvision's model tables and most papers list multiply-adds
under the name "GFLOPS", so their numbers are half of ours: ResNet18 at 224 px
is 3.63 GFLOPs here and "1.81 GFLOPS" there. Both are given (`flops`, `macs`).

The forward runs on a copy of the network on PyTorch's "meta" device: shapes
only, no memory for activations, no arithmetic, so ResNet50 at 224 px takes a
fraction of a second. The network passed in is not touched (weights, train or
eval mode, batch-norm statistics). Should a layer not run on "meta", a real
forward of one image in eval mode runs on a full copy instead, with the same
result.
"""
import copy
from typing import Dict, List, Optional

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..errors import BackboneError
from .registry import get_spec, list_models


def summarize(model: nn.Module, backbone: str, channels: int, image_size: int) -> dict:
    """Parameters, FLOPs for one `channels` x `image_size` x `image_size` image, and
    one row per top-level block (`model.named_children()`), as plain values.

    `flops` counts a multiply-add as 2; `macs` is the number of multiply-adds.
    `flops_outside_blocks` is what the network's own forward computes outside its
    top-level blocks (0 for every easycls backbone: `blocks` add up to `flops`).
    """
    counter, outputs, block_flops = _count(model, channels, image_size, backbone)
    blocks = []
    for name, child in model.named_children():
        output = outputs.get(name)
        blocks.append({
            "name": name,
            "type": type(child).__name__,
            "output_shape": list(output.shape[1:]) if isinstance(output, torch.Tensor) else None,
            "parameters": _numel(child.parameters()),
            "flops": block_flops.get(name, 0),
        })
    flops = counter.get_total_flops()
    return {
        "backbone": backbone,
        "input": {"channels": channels, "image_size": image_size},
        "parameters": _numel(model.parameters()),
        "trainable_parameters": _numel(p for p in model.parameters() if p.requires_grad),
        "flops": flops,
        "macs": flops // 2,
        "flops_outside_blocks": flops - sum(block["flops"] for block in blocks),
        "blocks": blocks,
    }


def format_summary(info: dict) -> str:
    """The dict of `summarize` as a table a student can read."""
    size = info["input"]["image_size"]
    lines = [
        f"{info['backbone']}, input {info['input']['channels']}x{size}x{size} "
        f"(channels x height x width)",
        f"Parameters: {info['parameters']:,} ({human(info['parameters'])}), "
        f"of which trainable: {info['trainable_parameters']:,}",
        f"FLOPs for one image: {_human_flops(info['flops'])}, counting a multiply-add as 2",
        f"  = {_human_flops(info['macs'], ' multiply-adds')}, the number torchvision and many "
        f"papers list as FLOPs",
        "",
    ]
    rows = [(b["name"], b["type"], _shape(b["output_shape"]), f"{b['parameters']:,}",
             _human_flops(b["flops"])) for b in info["blocks"]]
    if info.get("flops_outside_blocks"):
        rows.append(("(forward)", "outside the blocks", "", "",
                     _human_flops(info["flops_outside_blocks"])))
    rows.append(("total", "", "", f"{info['parameters']:,}", _human_flops(info["flops"])))
    header = ("block", "type", "output shape", "parameters", "FLOPs")
    lines += _table(header, rows, right=(3, 4))
    return "\n".join(lines)


def backbone_table(num_classes: int = 10) -> List[dict]:
    """For each registered backbone, in `list_models()` order: its default input,
    parameters and FLOPs with a `num_classes`-way head, and whether ImageNet
    weights exist.

    LeNet's registry channels are 0 ("follows the data set": 1 for grayscale, 3 for
    colour); it is counted at 1 channel and marked `channels_follow_data`.
    Models are built on the "meta" device, so no weights are made: all of them
    take about a second.
    """
    table = []
    for name in list_models():
        spec = get_spec(name)
        channels = spec.channels or 1
        with torch.device("meta"):
            net = spec.builder(num_classes=num_classes, channels=channels, pretrained=False)
        info = summarize(net, name, channels, spec.image_size)
        table.append({
            "name": name,
            "num_classes": num_classes,
            "image_size": spec.image_size,
            "channels": channels,
            "channels_follow_data": spec.channels == 0,
            "parameters": info["parameters"],
            "flops": info["flops"],
            "macs": info["macs"],
            "pretrained": spec.pretrained_available,
        })
    return table


def format_backbone_table(table: List[dict]) -> str:
    """The list of `backbone_table` as an aligned table."""
    rows = []
    for entry in table:
        size = entry["image_size"]
        mark = "*" if entry["channels_follow_data"] else ""
        rows.append((entry["name"], f"{entry['channels']}x{size}x{size}{mark}",
                     f"{entry['parameters']:,}", human(entry["parameters"]),
                     _human_flops(entry["flops"]), "yes" if entry["pretrained"] else "no"))
    header = ("backbone", "input", "parameters", "", "FLOPs", "ImageNet weights")
    lines = ["Backbones at their default input. Parameters and FLOPs are counted with a "
             f"{table[0]['num_classes'] if table else 10}-class head",
             "(yours changes with the number of classes); FLOPs count a multiply-add as 2.", ""]
    lines += _table(header, rows, right=(2, 3, 4))
    if any(entry["channels_follow_data"] for entry in table):
        lines += ["", "* takes the data set's channels (1 for grayscale, 3 for colour); "
                      "counted at 1."]
    return "\n".join(lines)


def human(number: float) -> str:
    """61750 -> '61.8 K', 11181642 -> '11.2 M', 3627132928 -> '3.63 G'."""
    for factor, unit, digits in ((1e9, "G", 2), (1e6, "M", 1), (1e3, "K", 1)):
        if abs(number) >= factor:
            return f"{number / factor:.{digits}f} {unit}"
    return f"{number:g}"


def _human_flops(flops: int, unit: str = "FLOPs") -> str:
    """FLOPs of a model or a block: '3.63 GFLOPs', '0.83 MFLOPs', '0' for none."""
    if flops == 0:
        return "0"
    if flops >= 1e9:
        return f"{flops / 1e9:.2f} G{unit}"
    return f"{flops / 1e6:.2f} M{unit}"


def _count(model: nn.Module, channels: int, image_size: int, backbone: str):
    """Run one image through a copy of `model` under a FLOP counter; returns the
    counter, each top-level block's output and each block's FLOPs."""
    try:
        return _count_on(_meta_copy(model), torch.device("meta"), channels, image_size)
    except Exception:  # noqa: BLE001 - a layer without a meta kernel: count on a real copy
        pass
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        return _count_on(copy.deepcopy(model), device, channels, image_size)
    except Exception as exc:
        raise BackboneError(
            f"{backbone} could not run one {channels}x{image_size}x{image_size} image to count "
            f"its FLOPs ({type(exc).__name__}: {exc}). Check that the channels and image size "
            f"match the network{_size_hint(backbone, image_size)}.") from exc


def _count_on(net: nn.Module, device: torch.device, channels: int, image_size: int):
    net.eval()  # batch norm in train mode refuses a batch of one image at 1x1 pixels
    outputs: Dict[str, object] = {}
    block_flops: Dict[str, int] = {}
    counter = FlopCounterMode(display=False)
    starts: Dict[str, List[int]] = {}
    handles = []
    for name, child in net.named_children():
        def before(_module, _inputs, name=name):
            starts.setdefault(name, []).append(counter.get_total_flops())

        def after(_module, _inputs, output, name=name):
            spent = counter.get_total_flops() - starts[name].pop()
            block_flops[name] = block_flops.get(name, 0) + spent
            outputs[name] = output

        handles += [child.register_forward_pre_hook(before), child.register_forward_hook(after)]
    image = torch.zeros(1, channels, image_size, image_size, device=device)
    try:
        with torch.no_grad(), counter:
            net(image)
    finally:
        for handle in handles:
            handle.remove()
    return counter, outputs, block_flops


def _meta_copy(model: nn.Module) -> nn.Module:
    """A deep copy whose parameters and buffers live on "meta": no weight is copied.

    Its batch norms become nn.Identity: same shape, no FLOPs counted either way, and
    a third less time (the FLOP counter decomposes batch norm into many small ops).
    """
    memo = {}
    for tensor in model.parameters():
        memo[id(tensor)] = nn.Parameter(torch.empty_like(tensor, device="meta"),
                                        requires_grad=tensor.requires_grad)
    for tensor in model.buffers():
        memo[id(tensor)] = torch.empty_like(tensor, device="meta")
    net = copy.deepcopy(model, memo)
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if type(child) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
                setattr(parent, name, nn.Identity())
    return net


def _numel(parameters) -> int:
    return sum(p.numel() for p in parameters)


def _shape(shape: Optional[list]) -> str:
    return "x".join(str(n) for n in shape) if shape else "-"


def _size_hint(backbone: str, image_size: int) -> str:
    try:
        spec = get_spec(backbone)
    except BackboneError:  # a network of the user's own
        return ""
    if image_size >= spec.min_image_size:
        return ""
    return (f": {spec.name} needs at least {spec.min_image_size} pixels, e.g. "
            f"model.summary(image_size={spec.image_size})")


def _table(header, rows, right=()) -> List[str]:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]

    def line(row):
        cells = [str(cell).rjust(w) if i in right else str(cell).ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    return [line(header), line(tuple("-" * w for w in widths)), *(line(row) for row in rows)]
