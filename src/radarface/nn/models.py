"""Encoder (2 ResNets + AlexNet), learned renderer (reversed ResNet) and the autoencoder."""

from __future__ import annotations

import torch
from torch import nn

from radarface import params as P
from radarface.nn.alexnet import AlexNet
from radarface.nn.config import NetConfig
from radarface.nn.resnet import Bottleneck, ResNet, init_weights, make_stage, stage_widths

COEFF_SCALE = 3.0


class Encoder(nn.Module):
    """Image (B,C,H,W) -> parameters (B,26).

    Shape and expression: a ResNet each, then 3 * tanh (Sec. 3.3, covers 99.8 % of N(0, 1)).
    Pose and rendering parameters: one AlexNet with 9 outputs, then tanh, since all nine targets
    lie in [-1, 1] (see `radarface.params`).
    """

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.shape = ResNet(cfg.in_channels, P.N_SHAPE, cfg.width, cfg.blocks)
        self.expression = ResNet(cfg.in_channels, P.N_EXPRESSION, cfg.width, cfg.blocks)
        n_pose = P.N_PARAMS - P.N_SHAPE - P.N_EXPRESSION
        self.pose = AlexNet(cfg.in_channels, n_pose, cfg.width, cfg.dropout)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B,C,H,W) -> (B,26)."""
        return torch.cat(
            [
                COEFF_SCALE * torch.tanh(self.shape(image)),
                COEFF_SCALE * torch.tanh(self.expression(image)),
                torch.tanh(self.pose(image)),
            ],
            dim=1,
        )


class Decoder(nn.Module):
    """Learned renderer: parameters (B,26) -> image (B,1,S,S), S = cfg.image_size (multiple of 32).

    A fully connected layer makes the first (B, 4*planes4, S/32, S/32) feature map; ResNet-50's
    stages follow in reverse order (layer4 .. layer1, stride-1 bottlenecks, 2x bilinear
    upsampling between stages), then two more 2x upsamplings with convolutions undo the stem.
    The renderer is defined at a fixed 15 dB dynamic range: it overwrites that entry of its input.
    Amplitude output goes through a sigmoid ([0, 1]); depth output is linear.
    """

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        if cfg.image_size % 32:
            raise ValueError(f"decoder image_size must be a multiple of 32, got {cfg.image_size}")
        stem, planes = stage_widths(cfg.width)
        top = planes[3] * Bottleneck.expansion
        self.start = cfg.image_size // 32
        self.sigmoid = cfg.decoder_target == "amplitude"
        self.fc = nn.Linear(P.N_PARAMS, top * self.start**2)
        self.layer4 = make_stage(top, planes[3], cfg.blocks[3], 1)
        self.layer3 = make_stage(top, planes[2], cfg.blocks[2], 1)
        self.layer2 = make_stage(planes[2] * Bottleneck.expansion, planes[1], cfg.blocks[1], 1)
        self.layer1 = make_stage(planes[1] * Bottleneck.expansion, planes[0], cfg.blocks[0], 1)
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.conv1 = nn.Conv2d(planes[0] * Bottleneck.expansion, stem, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.conv_out = nn.Conv2d(stem, 1, 7, padding=3)
        init_weights(self)

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        """(B,26) -> (B,1,S,S)."""
        params = params.clone()
        params[:, P.DYNAMIC_RANGE] = P.DECODER_DYNAMIC_RANGE_SCALED
        x = self.fc(params).reshape(params.shape[0], -1, self.start, self.start)
        x = self.upsample(self.layer4(x))
        x = self.upsample(self.layer3(x))
        x = self.upsample(self.layer2(x))
        x = self.upsample(self.layer1(x))
        x = self.upsample(self.relu(self.bn1(self.conv1(x))))
        x = self.conv_out(x)
        return torch.sigmoid(x) if self.sigmoid else x


class Autoencoder(nn.Module):
    """Trainable encoder followed by a frozen decoder: image (B,C,H,W) -> ((B,26), (B,1,S,S))."""

    def __init__(self, encoder: Encoder, decoder: Decoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.decoder.requires_grad_(False)
        self.decoder.eval()

    def train(self, mode: bool = True) -> Autoencoder:
        """Set the encoder's mode; the decoder always stays in eval mode."""
        super().train(mode)
        self.decoder.eval()
        return self

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,C,H,W) -> predicted parameters (B,26), reconstructed image (B,1,S,S)."""
        params = self.encoder(image)
        return params, self.decoder(params)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in module.parameters())
