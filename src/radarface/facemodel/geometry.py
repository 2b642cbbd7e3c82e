"""Placing model vertices in the radar frame, normals, the vertex-distance metric, mesh export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from radarface.arrays import is_tensor
from radarface.io import atomic_path

if TYPE_CHECKING:
    import torch

    from radarface.facemodel.model import MorphableModel

DEFAULT_NOSE_DISTANCE_M = 0.25
# Model frame (x subject's left, y up, z out of the face) -> radar frame (array in z = 0, looking
# along +z): a 180 degree rotation about y, so a face with zero pose looks towards the array.
MODEL_TO_RADAR = np.diag([-1.0, 1.0, -1.0])


def _to_torch(x, like: torch.Tensor | None = None) -> torch.Tensor:
    """A numpy array or tensor as a tensor (on the device and dtype of `like` when given)."""
    import torch

    t = x if is_tensor(x) else torch.as_tensor(np.asarray(x))
    if like is not None:
        t = t.to(like.device, like.dtype)
    return t


def _like(x, like):
    """x as an array of `like`'s kind: a tensor on its device and of its dtype, or a numpy array
    of its dtype."""
    if is_tensor(like):
        return _to_torch(x, like=like)
    if is_tensor(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=like.dtype)


def _xp(x) -> Any:
    """The array library of x: torch for a tensor (imported only then), else numpy."""
    if is_tensor(x):
        import torch

        return torch
    return np


def _matmul3(a, b):
    """a @ b over a contracted axis of length 3 (numpy or torch, broadcasting batch axes): the
    three products summed left to right, as torch's CPU matmul sums them (numpy's BLAS rounds
    differently), so that both libraries give the same bits."""
    return (
        a[..., :, 0:1] * b[..., 0:1, :]
        + a[..., :, 1:2] * b[..., 1:2, :]
        + a[..., :, 2:3] * b[..., 2:3, :]
    )


def _cos_sin(x, xp) -> tuple[Any, Any]:
    """cos x and sin x, evaluated in float64 and rounded to x's dtype (float64 for integers).

    float32 results are then correctly rounded, the same bits from numpy and torch on any CPU
    (their float32 kernels differ in the last bit for a few per cent of angles; a face posed a
    bit apart samples other scatterers), and differentiable for tensors.
    """
    if xp is np:
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        wide = x.astype(np.float64)
        return np.cos(wide).astype(dtype), np.sin(wide).astype(dtype)
    dtype = x.dtype if x.is_floating_point() else xp.float64
    wide = x.to(xp.float64)
    return xp.cos(wide).to(dtype), xp.sin(wide).to(dtype)


def rotation_matrices(rotation_rad):
    """(..., 3) (yaw, pitch, roll) -> (..., 3, 3) R = R_roll(z) @ R_pitch(x) @ R_yaw(y); numpy
    arrays or tensors (differentiable, on their device)."""
    xp = _xp(rotation_rad)
    r = rotation_rad if xp is not np else np.asarray(rotation_rad)
    cos, sin = _cos_sin(r, xp)
    cy, cp, cr = (cos[..., i] for i in range(3))
    sy, sp, sr = (sin[..., i] for i in range(3))
    one, zero = xp.ones_like(cy), xp.zeros_like(cy)

    def mat(*rows):
        return xp.stack(rows, -1).reshape(*cy.shape, 3, 3)

    r_yaw = mat(cy, zero, sy, zero, one, zero, -sy, zero, cy)
    r_pitch = mat(one, zero, zero, zero, cp, -sp, zero, sp, cp)
    r_roll = mat(cr, -sr, zero, sr, cr, zero, zero, zero, one)
    return _matmul3(_matmul3(r_roll, r_pitch), r_yaw)


def place_in_radar_frame(
    model: MorphableModel,
    vertices_model,
    translation_m,
    rotation_rad,
    distance_m: float = DEFAULT_NOSE_DISTANCE_M,
):
    """Model-frame vertices (B, N, 3) or (N, 3) -> radar frame, posed; numpy or torch.

    The rotation turns the face about the mean face's nose tip in the model frame; the model frame
    is then mapped to the radar frame with the nose tip at (0, 0, distance_m), and translation_m
    ((B, 3) or (3,), radar frame) is added. Tensor vertices give a tensor (on their device,
    differentiable), numpy vertices a numpy array; integer vertices are taken as float64.
    """
    xp = _xp(vertices_model)
    if xp is np:
        v = np.asarray(vertices_model)
        v = v if np.issubdtype(v.dtype, np.floating) else v.astype(np.float64)
    else:
        v = vertices_model if vertices_model.is_floating_point() else vertices_model.double()
    t = _like(translation_m, v)
    r = _like(rotation_rad, v)
    batched = v.ndim == 3
    expected = (v.shape[0], 3) if batched else (3,)
    if tuple(v.shape[-2:]) != (model.n_vertices, 3) or v.ndim not in (2, 3):
        raise ValueError(
            f"vertices_model has shape {tuple(v.shape)}, expected (B, "
            f"{model.n_vertices}, 3) or ({model.n_vertices}, 3)"
        )
    for label, x in (("translation_m", t), ("rotation_rad", r)):
        if tuple(x.shape) != expected:
            raise ValueError(f"{label} has shape {tuple(x.shape)}, expected {expected}")
    return pose_points(model, v, t, r, distance_m)


def pose_points(
    model: MorphableModel,
    points_model,
    translation_m,
    rotation_rad,
    distance_m: float = DEFAULT_NOSE_DISTANCE_M,
):
    """Model-frame points (..., K, 3), any K (a subset of the vertices, say), -> radar frame,
    posed as `place_in_radar_frame` poses vertices; unchecked, numpy or torch."""
    xp = _xp(points_model)
    t, r = _like(translation_m, points_model), _like(rotation_rad, points_model)
    pivot = _like(model.mean_m[model.nose_tip_index], points_model)
    flip = _like(MODEL_TO_RADAR, points_model)
    rot = _matmul3(flip, rotation_matrices(r))  # (..., 3, 3)
    offset = _like(np.array([0.0, 0.0, distance_m]), points_model) + t
    return _matmul3(points_model - pivot, xp.swapaxes(rot, -1, -2)) + offset[..., None, :]


def vertex_normals(vertices, triangles):
    """Area-weighted unit vertex normals (..., N, 3) for numpy or torch vertices."""
    xp = _xp(vertices)
    if xp is np:
        v = np.asarray(vertices)
        tri = np.asarray(triangles.cpu() if is_tensor(triangles) else triangles, dtype=np.int64)
    else:
        v, tri = vertices, _to_torch(triangles).to(vertices.device, xp.long)
    a, b, c = (v[..., tri[:, i], :] for i in range(3))
    cross = np.cross if xp is np else xp.linalg.cross  # np.linalg.cross needs numpy 2
    face_normals = cross(b - a, c - a)  # length = twice the triangle area
    if xp is np:
        normals = np.zeros(v.shape, dtype=face_normals.dtype)
        for i in range(3):
            np.add.at(normals, (..., tri[:, i], slice(None)), face_normals)
        length = np.linalg.norm(normals, axis=-1, keepdims=True)
    else:
        normals = xp.zeros_like(v)
        for i in range(3):
            normals = normals.index_add(-2, tri[:, i], face_normals)
        length = normals.norm(dim=-1, keepdim=True)
    return normals / xp.clip(length, 1e-12, None)


def mean_vertex_distance_mm(vertices_a, vertices_b):
    """Mean Euclidean distance in mm between corresponding vertices, per mesh of a batch."""
    if tuple(vertices_a.shape) != tuple(vertices_b.shape) or vertices_a.shape[-1] != 3:
        raise ValueError(
            f"vertex arrays must have equal shapes (..., N, 3); got "
            f"{tuple(vertices_a.shape)} and {tuple(vertices_b.shape)}"
        )
    if is_tensor(vertices_a):
        return 1000.0 * (vertices_a - _to_torch(vertices_b, like=vertices_a)).norm(dim=-1).mean(-1)
    diff = np.asarray(vertices_a, dtype=np.float64) - np.asarray(vertices_b, dtype=np.float64)
    return 1000.0 * np.linalg.norm(diff, axis=-1).mean(-1)


def export_mesh(path: str | os.PathLike, vertices_m, triangles) -> Path:
    """Write one mesh (vertices in metres) as .ply or .obj, atomically."""
    import trimesh

    path = Path(path)
    file_type = path.suffix.lower().lstrip(".")
    if file_type not in ("ply", "obj"):
        raise ValueError(f"{path}: mesh format must be .ply or .obj")
    vertices = vertices_m.detach().cpu().numpy() if is_tensor(vertices_m) else vertices_m
    vertices = np.asarray(vertices)
    mesh = trimesh.Trimesh(vertices=vertices, faces=np.asarray(triangles), process=False)
    with atomic_path(path) as tmp:
        mesh.export(tmp, file_type=file_type)
    return path
