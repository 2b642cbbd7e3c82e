"""Test-time fitting to the depth image's geometry: the face model's surface against the depth
image, column by column, as a 3D morphable model is fitted to a depth camera's scan.

A depth image holds, per pixel (x, y), the z of the brightest voxel in its column; for a smooth
surface that is where the column meets the surface (the phase estimator reads a face to about
0.4 mm median, docs/radar.md), so the lit pixels form a 2.5D scan of the face. With z(p; x, y)
the first intersection of the column with the posed face of the 26-value vector p, the fit
minimises

    L(p, dz) = mean_{lit pixels} huber((z(p; x, y) + dz - z_in(x, y)) / s_z) + w_p |p_face|^2 / 2,

p_face the coefficients (a Gaussian prior in units of their standard deviation), huber
quadratic within one unit s_z and linear beyond (a displaced speckle pixel or a grazing edge pulls
no harder than a few millimetres), and dz a free depth offset: the vector has no z translation
(the paper's faces sit at the nominal range) and depth estimators have biases of their own, which
would otherwise bend the shape. A column that misses the face costs a fixed miss_units and
carries no gradient.

Solver: Gauss-Newton with Levenberg-Marquardt damping and iteratively reweighted least squares for
the Huber penalty (Nocedal & Wright, Numerical Optimization, ch. 10). Every residual evaluation
ray-casts the posed mesh (trimesh, embree where installed) for each column's triangle; the
triangle's plane through its three vertices gives z differentiably, and torch gives the Jacobian
in the free values (17 coefficients, x and y translation, three angles, with all_coefficients
every other coefficient of the model) and dz. The vector's rendering values (dynamic range,
material, antenna size) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import trimesh

from radarface import params as P
from radarface.facemodel import MorphableModel, pose_points
from radarface.fit.inputs import RadarInput
from radarface.params import SceneParams
from radarface.radar import ImagingGrid

#: The free entries of the 26-value vector: 17 coefficients, x and y translation, three angles.
FREE = np.r_[np.arange(P.FACE.start, P.FACE.stop), P.TRANSLATION.start, P.TRANSLATION.start + 1,
             np.arange(P.ROTATION.start, P.ROTATION.stop)]  # fmt: skip


@dataclass(frozen=True)
class GeometryConfig:
    """Iterations, Huber scale, prior weight and mask of a depth-geometry fit."""

    steps: int = 25
    depth_scale_m: float = 1e-3
    prior_weight: float = 0.01
    dynamic_range_db: float = 20.0  # the pixels fitted: within this of the image's peak
    miss_units: float = 3.0  # the residual of a column that misses the face (units of s_z)
    # fit every coefficient of the model under the prior, not only the vector's 17 (which are
    # returned): the others shape the image too, and held at 0 they bend the leading ones
    all_coefficients: bool = True

    def __post_init__(self) -> None:
        if self.steps < 0 or not self.depth_scale_m > 0 or self.prior_weight < 0:
            raise ValueError(
                f"geometry refinement needs steps >= 0, depth scale > 0 and prior weight >= 0: "
                f"{self}"
            )


def column_hits(
    vertices_m: np.ndarray, triangles: np.ndarray, xy_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The columns through xy_m (n, 2), looking along +z from the array, that meet the mesh
    (V, 3), and the triangle each first meets (both (k,) int)."""
    mesh = trimesh.Trimesh(vertices_m, triangles, process=False)
    origins = np.column_stack([xy_m, np.zeros(len(xy_m))])
    directions = np.tile([0.0, 0.0, 1.0], (len(xy_m), 1))
    _, ray, tri = mesh.ray.intersects_location(origins, directions, multiple_hits=False)
    return ray, tri


def plane_depth(corners_m: torch.Tensor, xy_m: torch.Tensor) -> torch.Tensor:
    """z at xy_m (k, 2) of the planes through triangles corners_m (k, 3 corners, 3): barycentric
    coordinates (u, v) in the triangle's xy projection, z = a_z + u (b_z - a_z) + v (c_z - a_z)."""
    a, b, c = corners_m.unbind(-2)
    f, d, e = xy_m - a[..., :2], b[..., :2] - a[..., :2], c[..., :2] - a[..., :2]
    det = d[..., 0] * e[..., 1] - d[..., 1] * e[..., 0]
    u = (f[..., 0] * e[..., 1] - f[..., 1] * e[..., 0]) / det
    v = (d[..., 0] * f[..., 1] - d[..., 1] * f[..., 0]) / det
    return a[..., 2] + u * (b[..., 2] - a[..., 2]) + v * (c[..., 2] - a[..., 2])


def pixel_axes(item: RadarInput, grid: ImagingGrid) -> tuple[np.ndarray, np.ndarray]:
    """(x_m (W,), y_m (H,)) of an input's pixels: as it recorded them, else the grid's."""
    return item.pixels_m or (grid.x_m, grid.y_m)


def fitted_pixels(
    item: RadarInput, grid: ImagingGrid, dynamic_range_db: float
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) (n, 2) and depth (n,) of the pixels within dynamic_range_db of the image's peak."""
    x_m, y_m = pixel_axes(item, grid)
    lit = (item.max_db >= item.max_db.max() - dynamic_range_db) & np.isfinite(item.depth_m)
    rows, cols = np.nonzero(lit)
    return np.column_stack([x_m[cols], y_m[rows]]), item.depth_m[rows, cols].astype(np.float64)


def column_depth_image(
    vertices_m: np.ndarray, triangles: np.ndarray, x_m: np.ndarray, y_m: np.ndarray
) -> np.ndarray:
    """(H, W) z where the columns of pixels (x_m (W,), y_m (H,)) first meet the mesh (V, 3),
    NaN where they miss it."""
    xy_m = np.column_stack([a.ravel() for a in np.meshgrid(x_m, y_m)])
    ray, tri = column_hits(vertices_m, triangles, xy_m)
    depth = np.full(len(xy_m), np.nan)
    corners = torch.from_numpy(np.asarray(vertices_m, np.float64)[triangles[tri]])
    depth[ray] = plane_depth(corners, torch.from_numpy(xy_m[ray])).numpy()
    return depth.reshape(len(y_m), len(x_m)).astype(np.float32)


def refine_geometry(
    model: MorphableModel,
    start: np.ndarray,
    item: RadarInput,
    grid: ImagingGrid,
    config: GeometryConfig,
) -> tuple[np.ndarray, list[float], float]:
    """Refine a (26,) vector on one depth image; returns the best iterate, the loss of each
    accepted iterate (the start first) and the fitted depth offset dz (m)."""
    xy_m, z_in = fitted_pixels(item, grid, config.dynamic_range_db)
    if len(z_in) == 0:
        raise ValueError(f"{item.name}: no pixel within {config.dynamic_range_db:g} dB to fit")
    base = torch.tensor(start, dtype=torch.float64)
    free_at = torch.from_numpy(FREE)
    # The free values: FREE of the vector, then the coefficients beyond its 10 + 7
    # (all_coefficients), then dz; the prior holds every coefficient.
    k_shape = model.n_shape if config.all_coefficients else min(model.n_shape, P.N_SHAPE)
    k_expr = model.n_expr if config.all_coefficients else min(model.n_expr, P.N_EXPRESSION)
    n_extra = max(k_shape - P.N_SHAPE, 0) + max(k_expr - P.N_EXPRESSION, 0)
    prior = np.zeros(len(FREE) + n_extra + 1)
    prior[: P.FACE.stop] = config.prior_weight
    prior[len(FREE) : len(FREE) + n_extra] = config.prior_weight

    def scene_of(free: torch.Tensor) -> SceneParams:
        scene = SceneParams.from_vector(base.index_put((free_at,), free[: len(FREE)]))
        extra_shape, extra_expr = free[len(FREE) : -1].split(
            [max(k_shape - P.N_SHAPE, 0), max(k_expr - P.N_EXPRESSION, 0)]
        )
        shape = torch.cat([scene.shape, extra_shape])[:k_shape]
        return replace(scene, shape=shape, expr=torch.cat([scene.expr, extra_expr])[:k_expr])

    mean, shape_basis, expr_basis = (
        torch.from_numpy(np.asarray(x, dtype=np.float64))
        for x in (model.mean_m, model.shape_basis_m[:k_shape], model.expr_basis_m[:k_expr])
    )

    def points(free: torch.Tensor, index: torch.Tensor | slice = slice(None)) -> torch.Tensor:
        """Posed vertices `index` (K,) of the face of `free` (K, 3): the face model's sum on
        those vertices only, so that the Jacobian costs the fitted columns, not the mesh."""
        scene = scene_of(free)
        v = mean[index] + torch.tensordot(scene.shape, shape_basis[:, index], 1)
        v = v + torch.tensordot(scene.expr, expr_basis[:, index], 1)
        return pose_points(model, v, scene.translation_m, scene.rotation_rad)

    def evaluate(free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scaled residuals (n,) of the free values and their Jacobian (n, len(free)); a column
        that misses the face has residual miss_units and no gradient."""
        x = torch.from_numpy(free)
        ray, tri = column_hits(points(x).numpy(), model.triangles, xy_m)
        used, corners = np.unique(model.triangles[tri], return_inverse=True)
        corners = torch.from_numpy(corners.reshape(-1, 3))
        used = torch.from_numpy(used)
        xy, z = torch.from_numpy(xy_m[ray]), torch.from_numpy(z_in[ray])

        def hit_residuals(f: torch.Tensor) -> torch.Tensor:
            depth = plane_depth(points(f, used)[corners], xy)
            return (depth + f[-1] - z) / config.depth_scale_m

        r = np.full(len(z_in), config.miss_units)
        r[ray] = hit_residuals(x).numpy()
        jac = np.zeros((len(z_in), len(free)))
        jac[ray] = torch.func.jacfwd(hit_residuals)(x).numpy()
        return r, jac

    def loss(r: np.ndarray, free: np.ndarray) -> float:
        huber = torch.nn.functional.huber_loss(torch.from_numpy(r), torch.zeros(len(r)))
        return float(huber) + 0.5 * float((prior * free**2).sum())

    free = np.concatenate([start[FREE], np.zeros(n_extra + 1)])  # the others and dz start at 0
    r, jac = evaluate(free)
    history = [loss(r, free)]
    damping = 1e-3
    for _ in range(config.steps):
        w = 1.0 / np.maximum(np.abs(r), 1.0)  # IRLS weights of the Huber penalty
        normal = torch.from_numpy(jac.T @ (w[:, None] * jac) / len(r) + np.diag(prior))
        gradient = torch.from_numpy(jac.T @ (w * r) / len(r) + prior * free)
        for _ in range(12):  # Levenberg-Marquardt: damp until the step lowers the loss
            damped = normal + damping * torch.diag(normal.diagonal() + 1e-9)
            step = torch.linalg.solve(damped, -gradient).numpy()
            r_new, jac_new = evaluate(free + step)  # the Jacobian too: kept if accepted
            value = loss(r_new, free + step)
            if value < history[-1]:
                break
            damping *= 4
        else:
            break
        free, r, jac, damping = free + step, r_new, jac_new, damping / 3
        history.append(value)
    best = start.astype(np.float64).copy()
    best[FREE] = free[: len(FREE)]
    return best, history, float(free[-1])
