"""The 26-value parameter vector (paper Sec. 3.2-3.3): layout, named slices and scaling.

Layout (index: meaning, range as the networks see it)

    0:10   shape coefficients alpha          N(0, 1)
    10:17  expression coefficients gamma     N(0, 1)
    17:20  translation t (x, y, z)           scaled to [-1, 1] by the dataset
    20:23  rotation (yaw, pitch, roll)       scaled to [-1, 1] by the dataset
    23     dynamic range, 15..30 dB          scaled to [-1, 1] here (15 dB -> -1)
    24     material factor, 0..1             scaled to [-1, 1] here
    25     antenna size, 0.2..0.3            scaled to [-1, 1] here

The paper scales the pose to [-1, 1]; we also scale the three rendering parameters to [-1, 1]
(linearly, with the ranges above) so that every non-face-model entry shares one range.
The dynamic range is stored as its magnitude in dB (the paper's -15 dB is 15 here).
"""

from __future__ import annotations

import torch

from radarface.radar.render import ANTENNA_SIZE_RANGE, MATERIAL_RANGE

N_SHAPE = 10
N_EXPRESSION = 7
N_PARAMS = 26

SHAPE = slice(0, 10)
EXPRESSION = slice(10, 17)
TRANSLATION = slice(17, 20)
ROTATION = slice(20, 23)
POSE = slice(17, 23)
FACE_AND_POSE = slice(0, 23)
RENDERING = slice(23, 26)
DYNAMIC_RANGE = 23
MATERIAL = 24
ANTENNA_SIZE = 25

GROUPS: dict[str, slice] = {
    "shape": SHAPE,
    "expression": EXPRESSION,
    "translation": TRANSLATION,
    "rotation": ROTATION,
    "rendering": RENDERING,
}

DYNAMIC_RANGE_DB = (15.0, 30.0)  # sampled while training the encoder (paper 3.1, 3.3)
DECODER_DYNAMIC_RANGE_DB = 15.0
VALIDATION_DYNAMIC_RANGE_DB = 20.0  # evaluation (paper 3.5: 15-30 dB in training, 20 dB after)

_LO = torch.tensor([DYNAMIC_RANGE_DB[0], MATERIAL_RANGE[0], ANTENNA_SIZE_RANGE[0]])
_HI = torch.tensor([DYNAMIC_RANGE_DB[1], MATERIAL_RANGE[1], ANTENNA_SIZE_RANGE[1]])


def scale_rendering(physical: torch.Tensor) -> torch.Tensor:
    """(..., 3) [dynamic range dB, material, antenna size] -> (..., 3) in [-1, 1]."""
    lo, hi = _LO.to(physical), _HI.to(physical)
    return 2 * (physical - lo) / (hi - lo) - 1


def unscale_rendering(scaled: torch.Tensor) -> torch.Tensor:
    """(..., 3) values in [-1, 1] -> (..., 3) [dynamic range dB, material, antenna size]."""
    lo, hi = _LO.to(scaled), _HI.to(scaled)
    return lo + (scaled + 1) * (hi - lo) / 2


DECODER_DYNAMIC_RANGE_SCALED = float(
    scale_rendering(torch.tensor([DECODER_DYNAMIC_RANGE_DB, 0.0, 0.2]))[0]
)


def sample_prior(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 26) draws from the prior: N(0, 1) face coefficients, U(-1, 1) for the rest."""
    params = torch.rand(n, N_PARAMS, generator=generator) * 2 - 1
    params[:, : N_SHAPE + N_EXPRESSION] = torch.randn(
        n, N_SHAPE + N_EXPRESSION, generator=generator
    )
    return params
