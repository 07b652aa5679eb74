"""PyTorch Hub entry points of the example's shape classifier.

``build_model.py`` copies this file next to the trained weights (``shapes_cnn.pt``) into
``$TORCH_HOME/hub/shoal_shapes``, so the function loads the model the article's way, from the
file system and with no network::

    torch.hub.load(os.path.join(torch.hub.get_dir(), "shoal_shapes"), "shapes_cnn",
                   source="local")

The model takes a batch of 3x48x48 images normalised as ``(pixel / 255 - 0.5) / 0.5`` and
answers one logit per class; ``model.classes`` names them (as the article's
``model.bird_classes`` does).
"""

import os

import torch
from torch import nn

dependencies = ["torch"]

CLASSES = ("circle", "square", "triangle", "star")
IMAGE_SIZE = 48
WEIGHTS = "shapes_cnn.pt"


class ShapesCNN(nn.Module):
    """Three conv blocks (48 -> 24 -> 12 -> 6) and a two-layer head: about 0.6 M parameters."""

    def __init__(self, num_classes: int = len(CLASSES)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in (16, 32, 64):
            layers += [
                nn.Conv2d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 6 * 6, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
            nn.Linear(256, num_classes),
        )
        self.classes = list(CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def shapes_cnn(pretrained: bool = True, **kwargs: object) -> ShapesCNN:
    """The shape classifier; with ``pretrained`` its weights are read from beside this file."""
    model = ShapesCNN()
    if pretrained:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), WEIGHTS)
        # weights_only: the file holds tensors only, never pickled code.
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model
