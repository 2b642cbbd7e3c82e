"""Network sizes: one dataclass, `paper` and `cpu` presets built by the same code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

RESNET50_BLOCKS = (3, 4, 6, 3)  # bottlenecks per stage
DecoderTarget = Literal["amplitude", "depth"]
DECODER_TARGETS: tuple[DecoderTarget, ...] = get_args(DecoderTarget)


@dataclass(frozen=True)
class NetConfig:
    """Encoder / decoder sizes; `width` scales every channel count, `blocks` the ResNet depth."""

    in_channels: int = 1
    width: float = 1.0
    blocks: tuple[int, int, int, int] = RESNET50_BLOCKS
    dropout: float = 0.5
    image_size: int = 128
    decoder_target: DecoderTarget = "amplitude"

    @classmethod
    def paper(cls, **overrides: Any) -> NetConfig:
        """The paper's networks: full-width ResNet-50s and AlexNet."""
        return cls(**overrides)

    @classmethod
    def cpu(cls, **overrides: Any) -> NetConfig:
        """Width 1/4 and one bottleneck per stage: the same layer names, ~1/100 of the compute."""
        return cls(**{"width": 0.25, "blocks": (1, 1, 1, 1), **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetConfig:
        """Inverse of `dataclasses.asdict` after a JSON round trip."""
        known = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        if "blocks" in data:
            data["blocks"] = tuple(data["blocks"])
        return cls(**data)
