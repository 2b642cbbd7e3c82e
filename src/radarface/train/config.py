"""Training hyper-parameters: one dataclass with `paper` and `cpu` presets per stage."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from radarface.nn.config import NetConfig

Stage = Literal["encoder", "decoder", "autoencoder"]
Preset = Literal["paper", "cpu"]

# Paper Sec. 3.5: (epochs, batch size, lr, lr at the end of the linear ramp, ramp epochs).
_PAPER: dict[str, dict[str, Any]] = {
    "encoder": {
        "epochs": 200,
        "batch_size": 50,
        "lr": 0.01,
        "lr_end": 0.001,
        "lr_ramp_epochs": 150,
    },
    "decoder": {"epochs": 300, "batch_size": 150, "lr": 0.001},
    "autoencoder": {"epochs": 300, "batch_size": 50, "lr": 0.001},
}
# cpu: NetConfig.cpu() networks (width 1/4, one bottleneck per ResNet stage) and fewer epochs
# (encoder 30 with the lr ramp over the first 22, decoder 25, autoencoder 20); batch sizes,
# learning rates and the schedule's shape are the paper's. Measured with 3000 training and 300
# validation images of 128x128 on 2 shared CPU cores (fp32): ~54 s per encoder epoch, ~37 s per
# decoder epoch, ~40 s per autoencoder epoch, so the three stages take about an hour.
_CPU: dict[str, dict[str, Any]] = {
    "encoder": {**_PAPER["encoder"], "epochs": 30, "lr_ramp_epochs": 22},
    "decoder": {**_PAPER["decoder"], "epochs": 25},
    "autoencoder": {**_PAPER["autoencoder"], "epochs": 20},
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on besides the data; every field can be overridden."""

    epochs: int
    batch_size: int
    lr: float
    lr_end: float | None = None  # linear from lr to lr_end over lr_ramp_epochs, then constant
    lr_ramp_epochs: int = 0
    weight_decay: float = 0.0  # decoupled (AdamW); 0 is plain Adam, as in the paper
    lambda_params: float = 1.0  # autoencoder: L = L_image + lambda_params * L_params
    recon_channel: int = 0  # autoencoder: input channel reconstructed if items carry no target
    net: NetConfig = field(default_factory=NetConfig)
    seed: int = 0
    device: str = "auto"  # "auto": cuda:LOCAL_RANK when CUDA is present, else cpu
    channels_last: bool = True  # on CPU only
    bf16: bool = False  # bfloat16 autocast
    deterministic: bool = False  # torch.use_deterministic_algorithms
    num_workers: int = 0
    progress: bool = True

    @classmethod
    def preset(cls, name: Preset, stage: Stage, **overrides: Any) -> TrainConfig:
        """The `paper` or `cpu` settings of one stage, with `overrides` applied."""
        table = _PAPER if name == "paper" else _CPU
        net = NetConfig.paper() if name == "paper" else NetConfig.cpu()
        return cls(**{"net": net, **table[stage], **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `dataclasses.asdict` after a JSON round trip (e.g. a run's config.json)."""
        known = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        if isinstance(data.get("net"), dict):
            data["net"] = NetConfig.from_dict(data["net"])
        return cls(**data)

    def lr_factor(self, epoch: int) -> float:
        """Multiplier of `lr` during `epoch` (0-based)."""
        if self.lr_end is None or self.lr_ramp_epochs <= 0:
            return 1.0
        t = min(epoch, self.lr_ramp_epochs) / self.lr_ramp_epochs
        return 1.0 + t * (self.lr_end / self.lr - 1.0)
