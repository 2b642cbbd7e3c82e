"""Networks: torchvision-compatible ResNet-50 / AlexNet, encoder, learned renderer, autoencoder."""

from radarface.nn.alexnet import AlexNet
from radarface.nn.config import NetConfig
from radarface.nn.models import Autoencoder, Decoder, Encoder, count_parameters
from radarface.nn.resnet import Bottleneck, ResNet

__all__ = [
    "AlexNet",
    "Autoencoder",
    "Bottleneck",
    "Decoder",
    "Encoder",
    "NetConfig",
    "ResNet",
    "count_parameters",
]
