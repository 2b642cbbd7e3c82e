"""Networks: torchvision-compatible ResNet-50 / AlexNet, encoder, learned renderer, autoencoder."""

from radarface.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "alexnet": ["AlexNet"],
        "config": ["NetConfig"],
        "models": ["Autoencoder", "Decoder", "Encoder", "count_parameters"],
        "resnet": ["Bottleneck", "ResNet"],
    },
)
