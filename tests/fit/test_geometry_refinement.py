"""Geometry refinement: column depths of a mesh, and the face model fitted to a depth image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radarface import params as P
from radarface.facemodel import posed_vertices
from radarface.fit.geometry import (
    GeometryConfig,
    column_depth_image,
    column_hits,
    plane_depth,
    refine_geometry,
)
from radarface.fit.inputs import RadarInput
from radarface.fit.reconstruct import vertex_errors_mm
from radarface.params import SceneParams
from radarface.radar import ImagingGrid
from tests.conftest import bump_model

GRID = ImagingGrid(n_x=48, n_y=40, pitch_m=2e-3)


def test_column_depth_of_a_tilted_plane_is_the_plane() -> None:
    # A square of two triangles on the plane z = 0.25 + 0.1 x + 0.05 y, 6 cm wide.
    corners = np.array([[-0.03, -0.03], [0.03, -0.03], [0.03, 0.03], [-0.03, 0.03]])
    vertices = np.column_stack([corners, 0.25 + corners @ [0.1, 0.05]])
    triangles = np.array([[0, 1, 2], [0, 2, 3]])
    xy = np.random.default_rng(0).uniform(-0.04, 0.04, (400, 2))
    ray, tri = column_hits(vertices, triangles, xy)
    inside = np.all(np.abs(xy) < 0.03, axis=1)
    assert np.array_equal(np.sort(ray), np.flatnonzero(inside))  # misses outside the square
    z = plane_depth(torch.from_numpy(vertices[triangles[tri]]), torch.from_numpy(xy[ray]))
    np.testing.assert_allclose(z.numpy(), 0.25 + xy[ray] @ [0.1, 0.05], atol=1e-12)


def test_plane_depth_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    corners = torch.tensor(
        [[0.0, 0.0, 0.25], [0.01, 0.001, 0.252], [0.002, 0.012, 0.249]], dtype=torch.float64
    )
    corners = (corners + torch.from_numpy(rng.normal(0, 1e-3, (3, 3)))).requires_grad_()
    xy = torch.tensor([[0.003, 0.004]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda c: plane_depth(c[None], xy), (corners,))


def _depth_input(model, truth: SceneParams, offset_m: float = 0.0) -> RadarInput:
    """A noiseless depth image of the true face (every coefficient) on GRID: every column that
    meets it lit."""
    vertices = posed_vertices(model, truth)
    depth = column_depth_image(vertices, model.triangles, GRID.x_m, GRID.y_m) + offset_m
    lit = np.isfinite(depth)
    return RadarInput("bump", np.where(lit, 0.0, -60.0).astype(np.float32), depth, truth)


def _truth(beyond: float = 0.0) -> SceneParams:
    """Leading coefficients set, and the bump model's coefficients beyond the vector's 10 + 7
    at `beyond`."""
    shape, expr = np.full(12, beyond), np.full(8, beyond)
    shape[:10], expr[:7] = 0.0, 0.0
    shape[:3], expr[0] = (1.0, -0.8, 0.5), 0.7
    return SceneParams(
        shape, expr, np.array([0.003, -0.002, 0.0]), np.radians([2.0, -3.0, 1.0]), 0.5, 0.25
    )


def test_geometry_fit_recovers_pose_and_face_from_the_mean_face() -> None:
    model, truth = bump_model(), _truth()
    item = _depth_input(model, truth)
    start = np.zeros(P.N_PARAMS)
    start[P.RENDERING] = truth.to_vector()[P.RENDERING]
    config = GeometryConfig(prior_weight=1e-4)
    fitted, history, offset_m = refine_geometry(model, start, item, GRID, config)
    assert history[-1] < 0.01 * history[0]
    before = vertex_errors_mm(model, start, truth).mean()
    after = vertex_errors_mm(model, fitted, truth).mean()
    assert after < 0.1 * before, (before, after)
    fitted_scene = SceneParams.from_vector(fitted)
    np.testing.assert_allclose(fitted_scene.translation_m, truth.translation_m, atol=2e-4)
    assert abs(offset_m) < 2e-4
    np.testing.assert_array_equal(fitted[P.RENDERING], start[P.RENDERING])  # kept


def test_geometry_fit_takes_a_depth_offset_into_its_own_term() -> None:
    model, truth = bump_model(), _truth()
    item = _depth_input(model, truth, offset_m=2e-3)
    fitted, _, offset_m = refine_geometry(
        model, truth.to_vector(), item, GRID, GeometryConfig(prior_weight=1e-4)
    )
    assert offset_m == pytest.approx(2e-3, abs=1e-4)
    assert vertex_errors_mm(model, fitted, truth).mean() < 0.1


def test_fitting_every_coefficient_keeps_the_others_from_bending_the_leading_ones() -> None:
    model, truth = bump_model(), _truth(beyond=2.0)
    item = _depth_input(model, truth)
    errors = {}
    for every in (False, True):
        config = GeometryConfig(prior_weight=1e-4, all_coefficients=every)
        fitted, _, _ = refine_geometry(model, truth.to_vector(), item, GRID, config)
        errors[every] = vertex_errors_mm(model, fitted, truth).mean()
    assert errors[True] < 0.2 * errors[False], errors


def test_geometry_fit_needs_lit_pixels_and_sane_settings() -> None:
    model, shape = bump_model(), (GRID.n_y, GRID.n_x)
    dark = RadarInput("dark", np.zeros(shape, np.float32), np.full(shape, np.nan, np.float32))
    with pytest.raises(ValueError, match="no pixel within 20 dB"):
        refine_geometry(model, np.zeros(P.N_PARAMS), dark, GRID, GeometryConfig())
    with pytest.raises(ValueError, match="depth scale > 0"):
        GeometryConfig(depth_scale_m=0.0)
