"""Our ResNet-50 and AlexNet match torchvision's published module names, shapes and sizes."""

import torch

from radarface.nn import AlexNet, NetConfig, ResNet, count_parameters

# From torchvision.models.resnet50() / alexnet() (1000 classes, 3 input channels).
RESNET50_SHAPES = {
    "conv1.weight": (64, 3, 7, 7),
    "bn1.running_var": (64,),
    "layer1.0.conv1.weight": (64, 64, 1, 1),
    "layer1.0.conv2.weight": (64, 64, 3, 3),
    "layer1.0.conv3.weight": (256, 64, 1, 1),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer1.0.downsample.1.weight": (256,),
    "layer2.0.conv2.weight": (128, 128, 3, 3),
    "layer2.0.downsample.0.weight": (512, 256, 1, 1),
    "layer3.5.conv3.weight": (1024, 256, 1, 1),
    "layer4.0.downsample.0.weight": (2048, 1024, 1, 1),
    "layer4.2.bn3.bias": (2048,),
    "fc.weight": (1000, 2048),
    "fc.bias": (1000,),
}
ALEXNET_SHAPES = {
    "features.0.weight": (64, 3, 11, 11),
    "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5),
    "features.6.weight": (384, 192, 3, 3),
    "features.8.weight": (256, 384, 3, 3),
    "features.10.weight": (256, 256, 3, 3),
    "features.10.bias": (256,),
    "classifier.1.weight": (4096, 9216),
    "classifier.4.weight": (4096, 4096),
    "classifier.6.weight": (1000, 4096),
    "classifier.6.bias": (1000,),
}


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_resnet50_matches_torchvision() -> None:
    net = ResNet()
    shapes = _shapes(net)
    assert {k: shapes[k] for k in RESNET50_SHAPES} == RESNET50_SHAPES
    assert len(shapes) == 320  # torchvision resnet50 state_dict entries
    assert count_parameters(net) == 25_557_032
    assert net.layer2[0].conv2.stride == (2, 2) and net.layer2[0].conv1.stride == (1, 1)
    assert isinstance(net.avgpool, torch.nn.AdaptiveAvgPool2d)


def test_alexnet_matches_torchvision() -> None:
    net = AlexNet()
    assert _shapes(net) == ALEXNET_SHAPES | {
        "features.3.bias": (192,),
        "features.6.bias": (384,),
        "features.8.bias": (256,),
        "classifier.1.bias": (4096,),
        "classifier.4.bias": (4096,),
    }
    assert count_parameters(net) == 61_100_840
    assert net.avgpool.output_size == (6, 6)


def test_torchvision_style_checkpoint_loads_across_instances() -> None:
    src, dst = ResNet(in_channels=2, num_outputs=10), ResNet(in_channels=2, num_outputs=10)
    dst.load_state_dict(src.state_dict())
    assert torch.equal(dst.layer3[1].conv2.weight, src.layer3[1].conv2.weight)


def test_cpu_variant_shares_names() -> None:
    cpu = NetConfig.cpu()
    small = _shapes(ResNet(1, 10, cpu.width, cpu.blocks))
    full = _shapes(ResNet(1, 10))
    assert set(small) <= set(full)
    assert small["layer4.0.conv3.weight"] == (512, 128, 1, 1)
    assert set(_shapes(AlexNet(2, 9, cpu.width))) == set(ALEXNET_SHAPES) | {
        "features.3.bias",
        "features.6.bias",
        "features.8.bias",
        "classifier.1.bias",
        "classifier.4.bias",
    }
