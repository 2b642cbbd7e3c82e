"""Random faces, poses and rendering parameters as in the paper (section 3.2)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from radarface.facemodel.geometry import export_mesh, place_in_radar_frame
from radarface.facemodel.model import MorphableModel
from radarface.io import provenance, write_json
from radarface.params import (
    MAX_PITCH_RAD,
    MAX_ROLL_RAD,
    MAX_TRANSLATION_XY_M,
    MAX_YAW_RAD,
    SceneParams,
    sample_rendering,
)


def component_count(requested: int | None, available: int, label: str) -> int:
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
) -> SceneParams:
    """Scene `index` of a run with `seed` (one scene): face and pose from the stream
    (seed, index), material and antenna size from (seed, index, 1)."""
    k_s = component_count(n_shape, model.n_shape, "n_shape")
    k_e = component_count(n_expr, model.n_expr, "n_expr")
    rng = np.random.default_rng([seed, index])
    shape = rng.standard_normal(k_s)
    expr = rng.standard_normal(k_e)
    translation = np.zeros(3)
    translation[:2] = rng.uniform(-MAX_TRANSLATION_XY_M, MAX_TRANSLATION_XY_M, 2)
    limits = np.array([MAX_YAW_RAD, MAX_PITCH_RAD, MAX_ROLL_RAD])
    rotation = rng.uniform(-limits, limits)
    material, antenna_size = sample_rendering(seed, index)
    return SceneParams(shape, expr, translation, rotation, material, antenna_size)


def sample_params(
    model: MorphableModel,
    n: int,
    seed: int,
    n_shape: int | None = None,
    n_expr: int | None = None,
) -> SceneParams:
    """Scenes 0..n-1 of a run with `seed`, batched (n,); each one reproducible alone."""
    return SceneParams.stack(
        [sample_face_params(model, seed, i, n_shape, n_expr) for i in range(n)]
    )


def posed_vertices(model: MorphableModel, params: SceneParams):
    """(..., N, 3) vertices of the face(s) of `params`, posed in the radar frame (metres)."""
    vertices = model.vertices(params.shape, params.expr)
    return place_in_radar_frame(model, vertices, params.translation_m, params.rotation_rad)


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
    vertices = posed_vertices(model, params)
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
            params=params.to_dict(),
        ),
    )
    return paths + [out_dir / "params.json"]
