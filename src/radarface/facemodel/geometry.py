"""Placing model vertices in the radar frame, normals, the vertex-distance metric, mesh export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from radarface.io import atomic_path

if TYPE_CHECKING:
    from radarface.facemodel.model import MorphableModel

DEFAULT_NOSE_DISTANCE_M = 0.25
# Model frame (x subject's left, y up, z out of the face) -> radar frame (array in z = 0, looking
# along +z): a 180 degree rotation about y, so a face with zero pose looks towards the array.
MODEL_TO_RADAR = np.diag([-1.0, 1.0, -1.0])


def _to_torch(x, like: torch.Tensor | None = None) -> torch.Tensor:
    """A numpy array or tensor as a tensor (on the device and dtype of `like` when given)."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if like is not None:
        t = t.to(like.device, like.dtype)
    return t


def rotation_matrices(rotation_rad):
    """(..., 3) (yaw, pitch, roll) -> (..., 3, 3) R = R_roll(z) @ R_pitch(x) @ R_yaw(y)."""
    r = _to_torch(rotation_rad)
    yaw, pitch, roll = r.unbind(-1)
    one, zero = torch.ones_like(yaw), torch.zeros_like(yaw)
    cy, sy, cp, sp, cr, sr = yaw.cos(), yaw.sin(), pitch.cos(), pitch.sin(), roll.cos(), roll.sin()

    def mat(*rows: torch.Tensor) -> torch.Tensor:
        return torch.stack(rows, -1).reshape(*yaw.shape, 3, 3)

    r_yaw = mat(cy, zero, sy, zero, one, zero, -sy, zero, cy)
    r_pitch = mat(one, zero, zero, zero, cp, -sp, zero, sp, cp)
    r_roll = mat(cr, -sr, zero, sr, cr, zero, zero, zero, one)
    out = r_roll @ r_pitch @ r_yaw
    return out if isinstance(rotation_rad, torch.Tensor) else out.numpy()


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
    ((B, 3) or (3,), radar frame) is added.
    """
    is_torch = isinstance(vertices_model, torch.Tensor)
    v = _to_torch(vertices_model)
    if not v.is_floating_point():
        v = v.double()
    t = _to_torch(translation_m, like=v)
    r = _to_torch(rotation_rad, like=v)
    batched = v.ndim == 3
    expected = (v.shape[0], 3) if batched else (3,)
    if v.shape[-2:] != (model.n_vertices, 3) or v.ndim not in (2, 3):
        raise ValueError(
            f"vertices_model has shape {tuple(v.shape)}, expected (B, "
            f"{model.n_vertices}, 3) or ({model.n_vertices}, 3)"
        )
    for label, x in (("translation_m", t), ("rotation_rad", r)):
        if tuple(x.shape) != expected:
            raise ValueError(f"{label} has shape {tuple(x.shape)}, expected {expected}")
    pivot = _to_torch(model.mean_m[model.nose_tip_index], like=v)
    flip = _to_torch(MODEL_TO_RADAR, like=v)
    rot = flip @ rotation_matrices(r)  # (..., 3, 3)
    offset = _to_torch(np.array([0.0, 0.0, distance_m]), like=v) + t
    out = (v - pivot) @ rot.transpose(-1, -2) + offset.unsqueeze(-2)
    return out if is_torch else out.numpy()


def vertex_normals(vertices, triangles):
    """Area-weighted unit vertex normals (..., N, 3) for numpy or torch vertices."""
    is_torch = isinstance(vertices, torch.Tensor)
    v = _to_torch(vertices)
    tri = _to_torch(triangles).to(v.device, torch.long)
    a, b, c = (v[..., tri[:, i], :] for i in range(3))
    face_normals = torch.linalg.cross(b - a, c - a)  # length = twice the triangle area
    normals = torch.zeros_like(v)
    for i in range(3):
        normals = normals.index_add(-2, tri[:, i], face_normals)
    normals = normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return normals if is_torch else normals.numpy()


def mean_vertex_distance_mm(vertices_a, vertices_b):
    """Mean Euclidean distance in mm between corresponding vertices, per mesh of a batch."""
    if tuple(vertices_a.shape) != tuple(vertices_b.shape) or vertices_a.shape[-1] != 3:
        raise ValueError(
            f"vertex arrays must have equal shapes (..., N, 3); got "
            f"{tuple(vertices_a.shape)} and {tuple(vertices_b.shape)}"
        )
    if isinstance(vertices_a, torch.Tensor):
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
    vertices = (
        vertices_m.detach().cpu().numpy()
        if isinstance(vertices_m, torch.Tensor)
        else (np.asarray(vertices_m))
    )
    mesh = trimesh.Trimesh(vertices=vertices, faces=np.asarray(triangles), process=False)
    with atomic_path(path) as tmp:
        mesh.export(tmp, file_type=file_type)
    return path
