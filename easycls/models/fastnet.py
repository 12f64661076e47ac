"""FastNet: a compact residual network for small pictures (about 16-64 px), trained from scratch.

Built for time to accuracy on a CPU, after David Page's ResNet-9 ("How to train
your ResNet", 2018) and Keller Jordan's airbench:

- a 3x3 stem at full resolution and no max-pool after it: at 28 px the
  torchvision stem (7x7 stride 2, then max-pool) would throw away three quarters
  of the pixels before the first block sees them;
- three stages, each one convolution that widens, a 2x2 max-pool, then batch
  norm and ReLU (pooling before the norm, as airbench does, normalises a quarter
  of the values for the same result), followed by a residual convolution;
- global max- and average-pooling side by side before the classifier (fastai's
  concat pooling): the maximum says whether a part was seen anywhere, the average
  how much of the picture it covers, which tells a flat hand seen edge-on from a
  fist where the maximum alone did not (rps28, docs/benchmarks.md);
- pictures taken at their median side within 32-64 px: 28-px ones enlarged to 32 learned
  finer features (rps28 reached 100% on 3 of 4 seeds at 32, none at 28);
- channels_last memory on a CPU too, where it trains 1.3-1.5x faster than the
  default layout, and bfloat16 mixed precision on CPUs that have it natively (AVX512-BF16,
  AMX), where a training step took 0.55x the time of float32's;
- class scores scaled by 1/8 (Page's ResNet-9 does the same): max-pooled features
  are large, and unscaled scores made the first steps at the preset's high learning
  rate overshoot (a loss of 4.4 on 3 classes in the first epoch of rps28).

Widths stay small (16 to 128 channels) because two CPU cores, not the GPU of
those papers, set the budget: see docs/benchmarks.md for the measurements.
"""
import torch
from torch import nn

from .registry import no_pretrained_weights, register

WIDTHS = (16, 32, 64, 128)  # the stem, then each of the three stages
LOGIT_SCALE = 0.125


def conv_bn_relu(inputs: int, outputs: int) -> list:
    return [nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True)]


class Stage(nn.Module):
    """Widen and halve the resolution, then add what one more convolution finds."""

    def __init__(self, inputs: int, outputs: int):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
                                  nn.MaxPool2d(2), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True))
        self.residual = nn.Sequential(*conv_bn_relu(outputs, outputs))

    def forward(self, x):
        x = self.down(x)
        return x + self.residual(x)


class FastNet(nn.Module):
    def __init__(self, num_classes: int, channels: int = 3, widths=WIDTHS):
        super().__init__()
        stem, *stages = widths
        layers = [nn.Sequential(*conv_bn_relu(channels, stem))]
        for inputs, outputs in zip(widths, stages):
            layers.append(Stage(inputs, outputs))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(2 * widths[-1], num_classes)

    def forward(self, x):
        x = self.features(x)
        pooled = torch.cat([x.amax(dim=(2, 3)), x.mean(dim=(2, 3))], dim=1)
        return self.classifier(pooled) * LOGIT_SCALE


@register("FastNet", image_size=32, channels=0, mean=(0.5,), std=(0.5,),
          cam_layer=f"features.{len(WIDTHS) - 1}", min_image_size=16, sizes_from_data=(32, 64),
          aliases=("ResNet9S",), channels_last_on_cpu=True, bf16_on_cpu=True,
          defaults={"lr": 0.1, "batch_size": 128, "label_smoothing": 0.1})
def fastnet(num_classes: int, channels: int = 3, pretrained: bool = False) -> nn.Module:
    if pretrained:
        raise no_pretrained_weights("FastNet", "it is made to train from scratch in minutes "
                                               "on small pictures")
    return FastNet(num_classes, channels)
