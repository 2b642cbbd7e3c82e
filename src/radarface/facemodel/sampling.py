"""Random faces and poses as in the paper (section 3.2), and the [-1, 1] pose scaling."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import torch

from radarface.facemodel.geometry import export_mesh, place_in_radar_frame
from radarface.facemodel.model import MorphableModel
from radarface.io import provenance, write_json

# Pose ranges of the paper, section 3.2: each value is uniform in [-max, max]; z translation is 0.
MAX_TRANSLATION_XY_M = 0.05
MAX_YAW_RAD = math.radians(5.0)
MAX_PITCH_RAD = math.radians(10.0)
MAX_ROLL_RAD = math.radians(10.0)
# Divisors that map (tx, ty, tz, yaw, pitch, roll) to [-1, 1]; z (always 0) maps to 0.
_POSE_SCALE = np.array(
    [MAX_TRANSLATION_XY_M, MAX_TRANSLATION_XY_M, math.inf, MAX_YAW_RAD, MAX_PITCH_RAD, MAX_ROLL_RAD]
)


@dataclasses.dataclass
class FaceParams:
    """Face model coefficients and poses of n faces."""

    shape: np.ndarray  # (n, k_s), N(0, 1)
    expr: np.ndarray  # (n, k_e), N(0, 1)
    translation_m: np.ndarray  # (n, 3), radar frame
    rotation_rad: np.ndarray  # (n, 3): yaw, pitch, roll

    def __len__(self) -> int:
        return self.shape.shape[0]

    @classmethod
    def concatenate(cls, params: list[FaceParams]) -> FaceParams:
        """Stack several FaceParams along the first axis."""
        return cls(
            *(np.concatenate([getattr(p, f.name) for p in params]) for f in dataclasses.fields(cls))
        )


def _component_count(requested: int | None, available: int, label: str) -> int:
    """Requested number of components, defaulting to all, validated against the model."""
    if requested is None:
        return available
    if not 0 <= requested <= available:
        raise ValueError(f"{label}={requested} is outside [0, {available}] for this face model")
    return requested


def sample_face_params(
    model: MorphableModel,
    seed: int,
    index: int,
    n_shape: int | None = None,
    n_expr: int | None = None,
) -> FaceParams:
    """Sample `index` of the dataset with `seed` (n = 1), drawn from default_rng([seed, index])."""
    k_s = _component_count(n_shape, model.n_shape, "n_shape")
    k_e = _component_count(n_expr, model.n_expr, "n_expr")
    rng = np.random.default_rng([seed, index])
    shape = rng.standard_normal((1, k_s))
    expr = rng.standard_normal((1, k_e))
    translation = np.zeros((1, 3))
    translation[0, :2] = rng.uniform(-MAX_TRANSLATION_XY_M, MAX_TRANSLATION_XY_M, 2)
    limits = np.array([MAX_YAW_RAD, MAX_PITCH_RAD, MAX_ROLL_RAD])
    rotation = rng.uniform(-limits, limits)[None]
    return FaceParams(shape, expr, translation, rotation)


def sample_params(
    model: MorphableModel,
    n: int,
    seed: int,
    n_shape: int | None = None,
    n_expr: int | None = None,
) -> FaceParams:
    """Samples 0..n-1 of the dataset with `seed`; each one reproducible alone."""
    return FaceParams.concatenate(
        [sample_face_params(model, seed, i, n_shape, n_expr) for i in range(n)]
    )


def _pose_scale(like):
    """The pose divisors as an array or tensor matching `like`."""
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(_POSE_SCALE, device=like.device, dtype=like.dtype)
    return _POSE_SCALE


def pose_to_unit(translation_m, rotation_rad):
    """(n, 3) translation and (yaw, pitch, roll) -> (n, 6) in [-1, 1]; z translation -> 0."""
    if translation_m.shape != rotation_rad.shape or translation_m.shape[-1] != 3:
        raise ValueError(
            f"translation_m and rotation_rad must both be (n, 3); got "
            f"{tuple(translation_m.shape)} and {tuple(rotation_rad.shape)}"
        )
    cat = torch.cat if isinstance(translation_m, torch.Tensor) else np.concatenate
    return cat([translation_m, rotation_rad], -1) / _pose_scale(translation_m)


def unit_to_pose(unit):
    """(n, 6) in [-1, 1] -> (translation_m (n, 3) with z = 0, rotation_rad (n, 3))."""
    if unit.shape[-1] != 6:
        raise ValueError(f"unit pose must be (n, 6); got {tuple(unit.shape)}")
    scale = _pose_scale(unit)
    scale = (
        scale.nan_to_num(posinf=0.0)
        if isinstance(scale, torch.Tensor)
        else np.where(np.isinf(scale), 0.0, scale)
    )
    pose = unit * scale
    return pose[..., :3], pose[..., 3:]


def write_samples(
    model: MorphableModel,
    out_dir: str | os.PathLike,
    n: int,
    seed: int,
    mesh_format: str = "ply",
) -> list[Path]:
    """Write n sampled, posed faces (radar frame) as face_NNN.<format> and params.json."""
    out_dir = Path(out_dir)
    params = sample_params(model, n, seed)
    vertices = place_in_radar_frame(
        model, model.vertices(params.shape, params.expr), params.translation_m, params.rotation_rad
    )
    paths = [
        export_mesh(out_dir / f"face_{i:03d}.{mesh_format}", v, model.triangles)
        for i, v in enumerate(vertices)
    ]
    write_json(
        out_dir / "params.json",
        provenance(
            seed=seed,
            n=n,
            face_model=model.name,
            face_model_hash=model.content_hash,
            frame="radar (metres; array in z = 0 looking along +z, y up)",
            params=params,
        ),
    )
    return paths + [out_dir / "params.json"]
