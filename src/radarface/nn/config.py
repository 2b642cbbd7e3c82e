"""Network sizes: one dataclass, `paper` and `cpu` presets built by the same code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

RESNET50_BLOCKS = (3, 4, 6, 3)  # bottlenecks per stage
DecoderTarget = Literal["amplitude", "depth"]
DECODER_TARGETS: tuple[DecoderTarget, ...] = get_args(DecoderTarget)


def is_whole(value: Any) -> bool:
    """A whole number (not a bool, float or string)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """A finite int or float (not a bool or string)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e300


def check_fields(config: Any, rules: dict[str, tuple[bool, str]], prefix: str = "") -> None:
    """One-line ValueError for the first field whose rule (ok, what it must be) fails."""
    for name, (ok, expected) in rules.items():
        if not ok:
            raise ValueError(f"{prefix}{name} must be {expected}, got {getattr(config, name)!r}")


@dataclass(frozen=True)
class NetConfig:
    """Encoder / decoder sizes; `width` scales every channel count, `blocks` the ResNet depth."""

    in_channels: int = 1
    width: float = 1.0
    blocks: tuple[int, int, int, int] = RESNET50_BLOCKS
    dropout: float = 0.5
    image_size: int = 128
    decoder_target: DecoderTarget = "amplitude"

    def __post_init__(self) -> None:
        blocks = self.blocks
        rules = {
            "in_channels": (is_whole(self.in_channels) and self.in_channels in (1, 2), "1 or 2"),
            "width": (is_finite_number(self.width) and 0 < self.width <= 16, "in (0, 16]"),
            "blocks": (
                isinstance(blocks, tuple | list)
                and len(blocks) == 4
                and all(is_whole(b) and b >= 1 for b in blocks),
                "four whole numbers >= 1",
            ),
            "dropout": (is_finite_number(self.dropout) and 0 <= self.dropout < 1, "in [0, 1)"),
            "image_size": (is_whole(self.image_size) and self.image_size >= 1, "a whole number"),
            "decoder_target": (self.decoder_target in DECODER_TARGETS, "amplitude or depth"),
        }
        check_fields(self, rules, prefix="net.")
        object.__setattr__(self, "blocks", tuple(self.blocks))

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
