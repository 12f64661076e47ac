"""LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling, as taught in class.

One modern addition: batch normalisation after each convolution, which lets it
train reliably in the few dozen steps a classroom data set gives.
"""
from torch import nn

from .registry import no_pretrained_weights, register


class LeNet(nn.Module):
    """Two 5x5 convolutions and three fully connected layers, for 32x32 input.

    Other input sizes work too: features are pooled to 5x5 before the
    classifier, which is a no-op at 32x32.
    """

    def __init__(self, num_classes: int, channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 6, kernel_size=5), nn.BatchNorm2d(6), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d((5, 5)),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


@register("LeNet", image_size=32, channels=0, mean=(0.5,), std=(0.5,), cam_layer="features.6",
          defaults={"lr": 0.05, "batch_size": 64}, min_image_size=16)
def lenet(num_classes: int, channels: int = 1, pretrained: bool = False) -> nn.Module:
    if pretrained:
        raise no_pretrained_weights("LeNet", "it is small enough to train from scratch in seconds")
    return LeNet(num_classes, channels)
