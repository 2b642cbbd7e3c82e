"""The parameters of a scene, one type for every stage, and the 26-value network vector.

`SceneParams` holds a face's coefficients, its pose and the rendering parameters, for one scene
or a batch (leading axes), as numpy arrays or torch tensors. Everything that draws, stores,
renders, regresses or scores parameters uses it; the ranges below live here and nowhere else.

The network vector (paper Sec. 3.2-3.3; index: meaning, range as the networks see it):

    0:10   shape coefficients alpha          N(0, 1)
    10:17  expression coefficients gamma     N(0, 1)
    17:20  translation t (x, y, z)           x, y / 5 cm in [-1, 1]; z (always 0 here) -> 0
    20:23  rotation (yaw, pitch, roll)       / (5, 10, 10) degrees, in [-1, 1]
    23     dynamic range, 15..30 dB          scaled to [-1, 1] (15 dB -> -1)
    24     material factor, 0..1             scaled to [-1, 1]
    25     antenna size, 0.2..0.3            scaled to [-1, 1]

The paper scales the pose to [-1, 1]; we also scale the three rendering parameters to [-1, 1]
(linearly, with the ranges below) so that every non-face-model entry shares one range. The
dynamic range is stored as its magnitude in dB (the paper's -15 dB is 15 here).

This module imports no torch and no radarface stage: it sits below all of them.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

import numpy as np

from radarface.arrays import is_tensor

# --- ranges (paper Sec. 3.2, 3.5) -------------------------------------------------------------
MAX_TRANSLATION_XY_M = 0.05  # x and y translation ~ U(-5, 5) cm; z translation is 0
MAX_YAW_RAD = math.radians(5.0)
MAX_PITCH_RAD = math.radians(10.0)
MAX_ROLL_RAD = math.radians(10.0)
MATERIAL_RANGE = (0.0, 1.0)  # 0 diffuse .. 1 specular, sampled uniformly
ANTENNA_SIZE_RANGE = (0.2, 0.3)  # sampled uniformly
DYNAMIC_RANGE_DB = (15.0, 30.0)  # sampled while training the encoder (paper 3.1, 3.3)
DECODER_DYNAMIC_RANGE_DB = 15.0  # the learned renderer draws at 15 dB
VALIDATION_DYNAMIC_RANGE_DB = 20.0  # evaluation (paper 3.5: 15-30 dB in training, 20 dB after)
INPUTS = ("amplitude", "depth", "amplitude-depth")  # the images a network reads

# --- the 26-value vector ----------------------------------------------------------------------
N_SHAPE = 10
N_EXPRESSION = 7
N_PARAMS = 26
SHAPE = slice(0, 10)
EXPRESSION = slice(10, 17)
FACE = slice(0, 17)  # shape and expression
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

# Divisors that map (tx, ty, tz, yaw, pitch, roll) to [-1, 1]; z (always 0) maps to 0.
_POSE_SCALE = np.array(
    [MAX_TRANSLATION_XY_M, MAX_TRANSLATION_XY_M, math.inf, MAX_YAW_RAD, MAX_PITCH_RAD, MAX_ROLL_RAD]
)
_RENDERING_LO = np.array([DYNAMIC_RANGE_DB[0], MATERIAL_RANGE[0], ANTENNA_SIZE_RANGE[0]])
_RENDERING_HI = np.array([DYNAMIC_RANGE_DB[1], MATERIAL_RANGE[1], ANTENNA_SIZE_RANGE[1]])
_RENDERING_TAG = 1  # random stream (seed, index, 1) of a sample's rendering parameters


def _like(values: np.ndarray, like: Any) -> Any:
    """`values` as an array or a tensor matching `like` (device and dtype)."""
    if is_tensor(like):
        return sys.modules["torch"].as_tensor(values, dtype=like.dtype, device=like.device)
    return values


def _cat(parts: list[Any]) -> Any:
    if is_tensor(parts[0]):
        return sys.modules["torch"].cat(parts, -1)
    return np.concatenate(parts, -1)


def pose_to_unit(translation_m: Any, rotation_rad: Any) -> Any:
    """(..., 3) translation and (yaw, pitch, roll) -> (..., 6) in [-1, 1]; z translation -> 0."""
    if translation_m.shape != rotation_rad.shape or translation_m.shape[-1] != 3:
        raise ValueError(
            f"translation_m and rotation_rad must both be (..., 3); got "
            f"{tuple(translation_m.shape)} and {tuple(rotation_rad.shape)}"
        )
    return _cat([translation_m, rotation_rad]) / _like(_POSE_SCALE, translation_m)


def unit_to_pose(unit: Any) -> tuple[Any, Any]:
    """(..., 6) in [-1, 1] -> (translation_m (..., 3) with z = 0, rotation_rad (..., 3))."""
    if unit.shape[-1] != 6:
        raise ValueError(f"unit pose must be (..., 6); got {tuple(unit.shape)}")
    pose = unit * _like(np.where(np.isinf(_POSE_SCALE), 0.0, _POSE_SCALE), unit)
    return pose[..., :3], pose[..., 3:]


def scale_rendering(physical: Any) -> Any:
    """(..., 3) [dynamic range dB, material, antenna size] -> (..., 3) in [-1, 1]."""
    lo, hi = _like(_RENDERING_LO, physical), _like(_RENDERING_HI, physical)
    return 2 * (physical - lo) / (hi - lo) - 1


def unscale_rendering(scaled: Any) -> Any:
    """(..., 3) values in [-1, 1] -> (..., 3) [dynamic range dB, material, antenna size]."""
    lo, hi = _like(_RENDERING_LO, scaled), _like(_RENDERING_HI, scaled)
    return lo + (scaled + 1) * (hi - lo) / 2


DECODER_DYNAMIC_RANGE_SCALED = float(
    scale_rendering(np.array([DECODER_DYNAMIC_RANGE_DB, 0.0, 0.2]))[0]
)


def _leading(values: Any, k: int) -> Any:
    """(..., m) -> (..., k): the first k entries, zero-padded when m < k."""
    m = values.shape[-1]
    if m >= k:
        return values[..., :k]
    pad = np.zeros((*values.shape[:-1], k - m))
    return _cat([values, _like(pad, values)])


@dataclasses.dataclass(frozen=True)
class SceneParams:
    """A face's coefficients, pose and rendering parameters: one scene, or a batch.

    Array fields carry the batch's leading axes `...` (none for one scene); numpy arrays or
    torch tensors alike (all fields of one kind).
    """

    shape: Any  # (..., n_shape) shape coefficients, N(0, 1)
    expr: Any  # (..., n_expr) expression coefficients, N(0, 1)
    translation_m: Any  # (..., 3) radar frame
    rotation_rad: Any  # (..., 3) yaw, pitch, roll
    material: Any = 0.5  # (...) 0 diffuse .. 1 specular
    antenna_size: Any = 0.25  # (...) the paper's antenna size
    dynamic_range_db: Any = VALIDATION_DYNAMIC_RANGE_DB  # (...) amplitude image range, dB

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.translation_m.shape[:-1])

    def __len__(self) -> int:
        if not self.batch_shape:
            raise TypeError("a single scene's SceneParams has no length")
        return self.batch_shape[0]

    def _rendering_fields(self) -> dict[str, Any]:
        """material, antenna_size and dynamic_range_db broadcast to the batch shape."""
        out = {}
        for name in ("material", "antenna_size", "dynamic_range_db"):
            value = getattr(self, name)
            if is_tensor(self.translation_m):
                torch = sys.modules["torch"]
                value = torch.as_tensor(value, dtype=self.translation_m.dtype)
                out[name] = value.to(self.translation_m.device).expand(self.batch_shape)
            else:
                out[name] = np.broadcast_to(np.asarray(value, dtype=float), self.batch_shape)
        return out

    def __getitem__(self, index: Any) -> SceneParams:
        """The scene(s) at `index` of the leading batch axis."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.update(self._rendering_fields())
        return SceneParams(**{k: v[index] for k, v in fields.items()})

    @classmethod
    def stack(cls, scenes: list[SceneParams]) -> SceneParams:
        """Single scenes (numpy) -> a batch of len(scenes)."""
        return cls(
            **{
                f.name: np.stack([np.asarray(getattr(s, f.name), dtype=float) for s in scenes])
                for f in dataclasses.fields(cls)
            }
        )

    def to_vector(self) -> Any:
        """(..., 26) network vector: leading 10 shape and 7 expression coefficients (zeros for
        coefficients not present), the scaled pose and the scaled rendering parameters."""
        r = self._rendering_fields()
        stack = sys.modules["torch"].stack if is_tensor(self.translation_m) else np.stack
        rendering = stack([r["dynamic_range_db"], r["material"], r["antenna_size"]], -1)
        return _cat(
            [
                _leading(self.shape, N_SHAPE),
                _leading(self.expr, N_EXPRESSION),
                pose_to_unit(self.translation_m, self.rotation_rad),
                scale_rendering(rendering),
            ]
        )

    @classmethod
    def from_vector(cls, vector: Any) -> SceneParams:
        """(..., 26) network vector -> SceneParams with 10 shape and 7 expression coefficients;
        values outside the ranges are kept (an estimate may leave them)."""
        if vector.shape[-1] != N_PARAMS:
            raise ValueError(f"a parameter vector has {N_PARAMS} values, got {vector.shape[-1]}")
        translation, rotation = unit_to_pose(vector[..., POSE])
        rendering = unscale_rendering(vector[..., RENDERING])
        return cls(
            shape=vector[..., SHAPE],
            expr=vector[..., EXPRESSION],
            translation_m=translation,
            rotation_rad=rotation,
            material=rendering[..., 1],
            antenna_size=rendering[..., 2],
            dynamic_range_db=rendering[..., 0],
        )

    def to_dict(self) -> dict[str, Any]:
        """Named values in physical units, as plain lists and floats (for JSON)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {
            k: (v.detach().cpu().numpy() if is_tensor(v) else np.asarray(v)).tolist()
            for k, v in fields.items()
        }


def sample_rendering(seed: int, index: int) -> tuple[float, float]:
    """(material, antenna size) of sample `index` of a run with `seed`, from the stream
    (seed, index, 1): uniform in the paper's ranges."""
    rng = np.random.default_rng([seed, index, _RENDERING_TAG])
    return float(rng.uniform(*MATERIAL_RANGE)), float(rng.uniform(*ANTENNA_SIZE_RANGE))


def sample_prior(n: int, generator: Any = None) -> Any:
    """(n, 26) torch network vectors from the prior: N(0, 1) face coefficients, U(-1, 1) else;
    `generator` a torch.Generator."""
    import torch

    vectors = torch.rand(n, N_PARAMS, generator=generator) * 2 - 1
    vectors[:, : POSE.start] = torch.randn(n, POSE.start, generator=generator)
    return vectors
