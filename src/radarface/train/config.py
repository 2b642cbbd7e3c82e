"""Training hyper-parameters: one dataclass with `paper` and `cpu` presets per stage."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from radarface.nn.config import NetConfig, check_fields, is_finite_number, is_whole

Preset = Literal["paper", "cpu"]
PRESETS: tuple[Preset, ...] = get_args(Preset)
STAGE_NAMES = ("encoder", "decoder", "autoencoder")  # the keys of train.stages.STAGES

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
# cpu: NetConfig.cpu() networks (width 1/4, one bottleneck per ResNet stage), fewer epochs and,
# for the encoder, a 10x smaller learning rate (0.001 -> 0.0001 over 30 of 40 epochs): with the
# reduced networks and ~1,000 CPU-made samples, the paper's 0.01 drove all three encoder networks
# to constant outputs (docs/training.md). Batch sizes and the other learning rates are the
# paper's. Measured on 2 CPU cores: the chain decoder -> 3 x (encoder -> autoencoder) takes 34 min
# on 1,700 training images of 64 x 64 (README, Training); 128 x 128 costs about 4x per image.
_CPU: dict[str, dict[str, Any]] = {
    "encoder": {**_PAPER["encoder"], "epochs": 40, "lr": 0.001, "lr_end": 0.0001,
                "lr_ramp_epochs": 30},
    "decoder": {**_PAPER["decoder"], "epochs": 25},
    "autoencoder": {**_PAPER["autoencoder"], "epochs": 20},
}  # fmt: skip


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

    def __post_init__(self) -> None:
        whole, number = is_whole, is_finite_number
        rules: dict[str, tuple[bool, str]] = {
            "epochs": (whole(self.epochs) and self.epochs >= 1, "a whole number >= 1"),
            "batch_size": (whole(self.batch_size) and self.batch_size >= 1, "a whole number >= 1"),
            "lr": (number(self.lr) and self.lr > 0, "a number > 0"),
            "lr_end": (self.lr_end is None or number(self.lr_end) and self.lr_end > 0, "> 0"),
            "lr_ramp_epochs": (whole(self.lr_ramp_epochs) and self.lr_ramp_epochs >= 0, ">= 0"),
            "weight_decay": (number(self.weight_decay) and self.weight_decay >= 0, ">= 0"),
            "lambda_params": (number(self.lambda_params) and self.lambda_params >= 0, ">= 0"),
            "recon_channel": (whole(self.recon_channel) and self.recon_channel >= 0, ">= 0"),
            "net": (isinstance(self.net, NetConfig), "a NetConfig"),
            "seed": (whole(self.seed), "a whole number"),
            "device": (isinstance(self.device, str), "auto, cpu, cuda or cuda:N"),
            "num_workers": (whole(self.num_workers) and self.num_workers >= 0, ">= 0"),
        }
        for name in ("channels_last", "bf16", "deterministic", "progress"):
            rules[name] = (isinstance(getattr(self, name), bool), "true or false")
        check_fields(self, rules)

    @classmethod
    def preset(cls, name: Preset, stage: str, **overrides: Any) -> TrainConfig:
        """The `paper` or `cpu` settings of one stage, with `overrides` applied."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
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
