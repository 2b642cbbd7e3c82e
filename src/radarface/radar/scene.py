"""Mesh scenes for the radar simulator: surface sampling, normals and visibility.

A mesh is turned into scatterers in one of two ways (`SamplingConfig.scattering`):
* "coherent": every triangle is cut into m x m regular sub-facets (m = ceil(longest edge /
  facet_edge_m)), one scatterer at each sub-facet's centroid with its area, the interpolated
  vertex normal and the facet's second moment (for the facet factor of
  `radarface.radar.reflectance`): deterministic, no random component;
* "speckle": area-weighted random points with interpolated normals, each standing for an equal
  share of the surface area, and a random phase each (the simulator's random component, which
  produces speckle).
How the scatterers scatter is `radarface.radar.reflectance`. The sampling (triangle and
barycentric coordinates of each point and facet corner) is kept, so that
`scatterers_from_vertices` recomputes the same scatterers from vertex tensors, differentiably.
Occlusion: a point counts for an antenna only if the ray between them is free (embree ray casting
to every `visibility_stride`-th antenna, interpolated linearly in between along the antenna list,
which for the QAR50 runs along its lines); surfaces are two-sided (normals are turned towards the
array centre), so open face masks and scans with either winding work.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
import trimesh

from radarface.arrays import is_tensor
from radarface.radar.array import RadarArray, SamplingConfig
from radarface.resources import check_memory

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ScatterPoints:
    """Point scatterers sampled from a surface (radar frame)."""

    points_m: np.ndarray  # (P, 3)
    normals: np.ndarray  # (P, 3) unit, interpolated vertex normals (not yet facing the array)
    area_m2: np.ndarray  # (P,) surface area each point stands for
    triangle: np.ndarray  # (P,) int64, the triangle each point lies on
    barycentric: np.ndarray  # (P, 3) its barycentric coordinates in that triangle
    corners: np.ndarray | None = None  # (P, 3 corners, 3) sub-facet corners' barycentrics


def _validate_mesh(vertices_m: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.asarray(vertices_m, dtype=np.float64)
    faces = np.asarray(triangles)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) < 3:
        raise ValueError(f"mesh vertices must have shape (V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise ValueError(f"mesh triangles must have shape (T, 3), got {faces.shape}")
    if not np.all(np.isfinite(vertices)):
        raise ValueError("mesh vertices contain NaN or infinite values")
    if (
        not np.issubdtype(faces.dtype, np.integer)
        or faces.min() < 0
        or faces.max() >= len(vertices)
    ):
        raise ValueError("mesh triangles must index existing vertices")
    if np.any(vertices[:, 2] <= 0):
        raise ValueError("the mesh must lie in front of the array (all vertices at z > 0)")
    return vertices, faces.astype(np.int64)


def scatterer_bytes(n_points: int, n_tx: int, n_rx: int, visibility_stride: int) -> int:
    """About the peak memory of sampling `n_points` scatterers and simulating them, in bytes:
    per point its sampling (float64 coordinates, normals, barycentrics, the choice's weights),
    the float32 visibilities per antenna, and the rays cast to every sampled antenna (float64
    origins and directions); plus S (n_tx, n_rx, 128) complex64 for a full sweep."""
    n_antennas = n_tx + n_rx
    per_point = 160 + 3 * 4 * n_antennas + 48 * n_antennas // max(1, visibility_stride)
    return n_points * per_point + 8 * n_tx * n_rx * 128


def sample_surface(
    mesh: trimesh.Trimesh, spacing_m: float, rng: np.random.Generator
) -> ScatterPoints:
    """Area-weighted random points with interpolated vertex normals, one per spacing_m^2."""
    areas = mesh.area_faces
    total = float(areas.sum())
    if total <= 0:
        raise ValueError("the mesh has zero surface area")
    n = max(1, round(total / spacing_m**2))
    tri = rng.choice(len(areas), size=n, p=areas / total)
    # Uniform barycentric coordinates (reflect the unit square onto the triangle).
    u, v = rng.random((2, n))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    bary = np.stack([1 - u - v, u, v], axis=1)
    points, normals = _interpolate(mesh, tri, bary)
    return ScatterPoints(points, normals, np.full(n, total / n), tri.astype(np.int64), bary)


def _interpolate(
    mesh: trimesh.Trimesh, tri: np.ndarray, bary: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Points (P, 3) and unit interpolated vertex normals (P, 3) at barycentrics (P, 3)."""
    corners = mesh.faces[tri]
    points = np.einsum("pk,pkd->pd", bary, mesh.vertices[corners])
    normals = np.einsum("pk,pkd->pd", bary, mesh.vertex_normals[corners])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return points, normals


def _sub_facets(m: int) -> np.ndarray:
    """(m^2, 3 corners, 3) barycentric corners of the regular m x m subdivision of a triangle."""
    up = [((i, j), (i + 1, j), (i, j + 1)) for i in range(m) for j in range(m - i)]
    down = [((i + 1, j), (i, j + 1), (i + 1, j + 1)) for i in range(m) for j in range(m - i - 1)]
    ij = np.array(up + down, dtype=np.float64) / m  # (m^2, 3, 2): weights of vertices 1 and 2
    return np.concatenate([1 - ij.sum(axis=2, keepdims=True), ij], axis=2)


def subdivide_surface(mesh: trimesh.Trimesh, facet_edge_m: float) -> ScatterPoints:
    """One scatterer per regular sub-facet (edges <= facet_edge_m): its centroid, area and
    interpolated vertex normal, and its corners' barycentrics; deterministic."""
    faces = mesh.faces
    edges = mesh.vertices[faces[:, [1, 2, 0]]] - mesh.vertices[faces]
    longest = np.linalg.norm(edges, axis=2).max(axis=1)
    m_per_tri = np.maximum(1, np.ceil(longest / facet_edge_m - 1e-9)).astype(np.int64)
    tri_parts, corner_parts = [], []
    for m in np.unique(m_per_tri):
        tris = np.flatnonzero(m_per_tri == m)
        template = _sub_facets(int(m))
        tri_parts.append(np.repeat(tris, len(template)))
        corner_parts.append(np.tile(template, (len(tris), 1, 1)))
    order = np.argsort(np.concatenate(tri_parts), kind="stable")  # by triangle: reproducible
    tri = np.concatenate(tri_parts)[order]
    corners = np.concatenate(corner_parts)[order]
    bary = corners.mean(axis=1)
    points, normals = _interpolate(mesh, tri, bary)
    area = mesh.area_faces[tri] / m_per_tri[tri] ** 2
    return ScatterPoints(points, normals, area, tri, bary, corners)


def facet_offsets(mesh: trimesh.Trimesh, pts: ScatterPoints) -> np.ndarray:
    """(P, 3 corners, 3) each sub-facet's corners e_i about its centroid, metres."""
    corner_m = np.einsum("pck,pkd->pcd", pts.corners, mesh.vertices[mesh.faces[pts.triangle]])
    return corner_m - corner_m.mean(axis=1, keepdims=True)


def facet_moments(offsets_m: np.ndarray) -> np.ndarray:
    """(P, 3, 3) second moment sum_i e_i e_i^T of corner offsets (P, 3, 3)."""
    return np.einsum("pci,pcj->pij", offsets_m, offsets_m)


COARSE_STRIDE = 3  # visibility's first pass casts to every 3rd sampled antenna


def _strided(n: int, stride: int) -> np.ndarray:
    idx = np.arange(0, n, max(1, stride))
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def _free(mesh: trimesh.Trimesh, origins_m: np.ndarray, antennas_m: np.ndarray) -> np.ndarray:
    """(P, n_antennas) float32: 1 where the ray from origin to antenna hits nothing.

    The points are cast in one chunk per numba thread, concurrently: embree releases the GIL.
    """

    def free(origins: np.ndarray) -> np.ndarray:
        if len(origins) == 0:
            return np.empty((0, len(antennas_m)), dtype=np.float32)
        dirs = antennas_m[None, :, :] - origins[:, None, :]
        dirs /= np.linalg.norm(dirs, axis=2, keepdims=True)
        rays = np.repeat(origins, len(antennas_m), axis=0), dirs.reshape(-1, 3)
        hit = mesh.ray.intersects_any(*rays)
        return (~hit).reshape(len(origins), len(antennas_m)).astype(np.float32)

    chunks = np.array_split(origins_m, numba.get_num_threads())
    if len(chunks) == 1 or len(origins_m) < 2:
        return free(origins_m)
    first = free(chunks[0][:1])  # builds the mesh's ray scene once, before the threads share it
    with ThreadPoolExecutor(len(chunks)) as pool:
        parts = list(pool.map(free, [chunks[0][1:], *chunks[1:]]))
    return np.concatenate([first, *parts])


def visibility(
    mesh: trimesh.Trimesh,
    points_m: np.ndarray,
    normals: np.ndarray,
    antennas_m: np.ndarray,
    stride: int,
) -> np.ndarray:
    """(P, n_antennas) float32 in [0, 1]: 1 where the path from point to antenna is free."""
    sampled = _strided(len(antennas_m), stride)
    origins = points_m + 1e-5 * normals  # lift off the surface so a ray does not hit its own face
    # Two passes: every point to a coarse subset of the sampled antennas, then only the points
    # whose coarse rays disagree (a shadow edge crosses the array) to the rest of them.
    coarse = _strided(len(sampled), COARSE_STRIDE)
    free = np.empty((len(points_m), len(sampled)), dtype=np.float32)
    free[:, coarse] = _free(mesh, origins, antennas_m[sampled[coarse]])
    mixed = free[:, coarse].min(axis=1) != free[:, coarse].max(axis=1)
    free[~mixed] = free[~mixed][:, coarse[:1]]
    fine = np.setdiff1d(np.arange(len(sampled)), coarse)
    if len(fine):
        free[np.ix_(mixed, fine)] = _free(mesh, origins[mixed], antennas_m[sampled[fine]])
    if len(sampled) == len(antennas_m):
        return free
    # Linear interpolation along the antenna index between the antennas that were cast to.
    all_idx = np.arange(len(antennas_m))
    hi = np.clip(np.searchsorted(sampled, all_idx), 1, len(sampled) - 1)
    lo = hi - 1
    t = ((all_idx - sampled[lo]) / (sampled[hi] - sampled[lo])).astype(np.float32)
    return free[:, lo] * (1 - t) + free[:, hi] * t


@dataclass(frozen=True)
class MeshScatterers:
    """Everything the simulators need (points, normals, per-antenna factors) and how the points
    were sampled; numpy arrays, or tensors (`scatterers_from_vertices`)."""

    points_m: np.ndarray  # (P, 3)
    normals: np.ndarray  # (P, 3) unit, facing the array
    area_m2: np.ndarray  # (P,)
    diffuse_phase_rad: np.ndarray  # (P,) random phase of the rough-surface term
    vis_tx: np.ndarray  # (P, n_tx) float32
    vis_rx: np.ndarray  # (P, n_rx) float32
    triangle: np.ndarray  # (P,) int64, the triangle each point was sampled on
    barycentric: np.ndarray  # (P, 3) its barycentric coordinates there
    n_sampled: int  # points drawn before the invisible ones were dropped (speckle: area / this)
    scattering: str = "speckle"  # "coherent" (sub-facets, geometric phases) or "speckle"
    facet_moment_m2: np.ndarray | None = None  # gaussian facets: (P, 3, 3) sum_i e_i e_i^T
    facet_corners: np.ndarray | None = None  # coherent: (P, 3, 3) corners' barycentrics
    facet_offsets_m: np.ndarray | None = None  # exact facets: (P, 3 corners, 3) e_i


def mesh_scatterers(
    array: RadarArray,
    vertices_m: np.ndarray,
    triangles: np.ndarray,
    sampling: SamplingConfig,
    rng: np.random.Generator,
) -> MeshScatterers:
    """Sample a mesh into visible, two-sided point scatterers for `array`."""
    vertices, faces = _validate_mesh(vertices_m, triangles)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    coherent = sampling.scattering == "coherent"
    area_m2 = float(mesh.area)
    # One point per sub-facet of edge <= facet_edge_m (area >= sqrt(3)/4 edge^2, equilateral at
    # best; mesh triangles are less regular, so this is a lower bound), else per spacing^2.
    point_area_m2 = 0.433 * sampling.facet_edge_used_m**2 if coherent else sampling.spacing_m**2
    n_points = round(area_m2 / point_area_m2)
    check_memory(
        scatterer_bytes(n_points, array.n_tx, array.n_rx, sampling.visibility_stride),
        f"sampling a {area_m2:.3g} m^2 surface into {n_points:.3g} scatterers",
        "check the mesh's units (--mesh-units) or raise the sampling spacing",
    )
    if coherent:
        pts = subdivide_surface(mesh, sampling.facet_edge_used_m)
        phase = np.zeros(len(pts.points_m))
    else:
        pts = sample_surface(mesh, sampling.spacing_m, rng)
        phase = rng.uniform(0, 2 * np.pi, len(pts.points_m))
    centre = np.concatenate([array.tx_m, array.rx_m]).mean(axis=0)
    towards = centre - pts.points_m
    sign = np.where(np.einsum("pd,pd->p", pts.normals, towards) < 0, -1.0, 1.0)
    normals = pts.normals * sign[:, None]
    vis_tx = visibility(mesh, pts.points_m, normals, array.tx_m, sampling.visibility_stride)
    vis_rx = visibility(mesh, pts.points_m, normals, array.rx_m, sampling.visibility_stride)
    seen = (vis_tx.max(axis=1) > 0) & (vis_rx.max(axis=1) > 0)
    offsets = facet_offsets(mesh, pts)[seen] if coherent else None
    exact = coherent and sampling.facet_integral == "exact"
    return MeshScatterers(
        pts.points_m[seen],
        normals[seen],
        pts.area_m2[seen],
        phase[seen],
        vis_tx[seen],
        vis_rx[seen],
        pts.triangle[seen],
        pts.barycentric[seen],
        len(pts.points_m),
        sampling.scattering,
        facet_moments(offsets) if coherent and not exact else None,
        pts.corners[seen] if coherent else None,
        offsets if exact else None,
    )


def _surface_torch(
    vertices_m: torch.Tensor, faces: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(V, 3) unit vertex normals as trimesh computes them, and the total area, differentiably.

    A vertex normal is the sum of its faces' unit normals weighted by their corner angles at the
    vertex, normalised (Thuerrner & Wuethrich, "Computing Vertex Normals from Polygonal Facets",
    J. Graphics Tools 3(1), 1998); trimesh leaves out faces whose cross product is below 1e-13
    or that have a corner below 1e-8 rad.
    """
    import torch

    a, b, c = (vertices_m[faces[:, k]] for k in range(3))
    cross = torch.linalg.cross(b - a, c - a)
    area2 = cross.norm(dim=1, keepdim=True)  # twice the triangle's area

    def corner(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.atan2(torch.linalg.cross(u, v).norm(dim=1), (u * v).sum(dim=1))

    angle_a, angle_b = corner(b - a, c - a), corner(a - b, c - b)
    angles = torch.stack([angle_a, angle_b, torch.pi - angle_a - angle_b], dim=1)
    valid = (area2 > 1e-13) & (angles.detach() >= 1e-8).all(dim=1, keepdim=True)
    unit = torch.where(valid, cross / area2.clamp(min=1e-13), 0.0)
    normals = torch.zeros_like(vertices_m)
    for k in range(3):
        normals = normals.index_add(0, faces[:, k], angles[:, k, None] * unit)
    return normals / normals.norm(dim=1, keepdim=True).clamp(min=1e-13), 0.5 * area2.sum()


def scatterers_from_vertices(
    vertices_m: torch.Tensor, triangles: np.ndarray | torch.Tensor, sc: MeshScatterers
) -> MeshScatterers:
    """`sc` recomputed from vertex tensors (V, 3) with the same sampling: tensor fields on the
    vertices' device, differentiable in the points, normals and areas.

    Points are the barycentric combinations of their triangles' vertices, normals the normalised
    combinations of the vertex normals (turned as sc's normals are); areas are the mesh's area
    over the number of points drawn (speckle, as `sample_surface`) or each sub-facet's own area
    (coherent, with its second moment or corner offsets, from its corners); visibilities and
    diffuse phases are sc's (without gradients).
    """
    import torch

    device, dtype = vertices_m.device, vertices_m.dtype
    if not is_tensor(triangles):
        triangles = torch.from_numpy(np.ascontiguousarray(triangles))
    faces = triangles.to(device, torch.long)
    tri = torch.as_tensor(sc.triangle, dtype=torch.long, device=device)
    bary = torch.as_tensor(sc.barycentric, dtype=dtype, device=device)[:, :, None]
    vertex_normals, total_area = _surface_torch(vertices_m, faces)
    corners = faces[tri]  # (P, 3)
    points = (bary * vertices_m[corners]).sum(dim=1)
    normals = (bary * vertex_normals[corners]).sum(dim=1)
    normals = normals / normals.norm(dim=1, keepdim=True).clamp(min=1e-12)
    turned = torch.as_tensor(sc.normals, dtype=dtype, device=device)
    flip = (normals.detach() * turned).sum(dim=1, keepdim=True) < 0
    area, moment, corners = (total_area / sc.n_sampled).expand(len(tri)), None, None
    offsets = None
    if sc.scattering == "coherent":
        corners = torch.as_tensor(sc.facet_corners, dtype=dtype, device=device)
        corner_m = torch.einsum("pck,pkd->pcd", corners, vertices_m[faces[tri]])
        e = corner_m - corner_m.mean(dim=1, keepdim=True)
        area = 0.5 * torch.linalg.cross(e[:, 1] - e[:, 0], e[:, 2] - e[:, 0]).norm(dim=1)
        if sc.facet_offsets_m is None:
            moment = torch.einsum("pci,pcj->pij", e, e)
        else:
            offsets = e
    return MeshScatterers(
        points_m=points,
        normals=torch.where(flip, -normals, normals),
        area_m2=area,
        diffuse_phase_rad=torch.as_tensor(sc.diffuse_phase_rad, dtype=dtype, device=device),
        vis_tx=torch.as_tensor(sc.vis_tx, device=device),
        vis_rx=torch.as_tensor(sc.vis_rx, device=device),
        triangle=tri,
        barycentric=bary[:, :, 0],
        n_sampled=sc.n_sampled,
        scattering=sc.scattering,
        facet_moment_m2=moment,
        facet_corners=corners,
        facet_offsets_m=offsets,
    )
