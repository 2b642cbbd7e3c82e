"""The phase depth estimator: its voxel values against the exact sum, and a plate and a sphere
read at their true depth (issue 17's test), where the brightest voxel misses them."""

from __future__ import annotations

import numpy as np
import pytest
from common import rel_rms

from radarface.radar import (
    ImagingGrid,
    Reflectance,
    SamplingConfig,
    backproject_reference,
    form_image,
    image_volume,
    simulate_mesh,
    simulate_points,
)
from radarface.radar.phase_depth import values_at

GRID = ImagingGrid(n_x=40, n_y=40, pitch_m=2e-3, z_min_m=0.231, z_max_m=0.3, z_step_m=3e-3)
HALF_M = 0.03  # the surfaces' half-width


def test_values_at_points_match_the_exact_sum(qar50) -> None:
    points = np.array([[0.003, -0.005, 0.25], [0.02, 0.012, 0.262]])
    s = simulate_points(qar50, points, np.array([1.0, 0.7j]))
    grid = ImagingGrid(n_x=4, n_y=4, pitch_m=3e-3, z_min_m=0.25, z_max_m=0.256, z_step_m=3e-3)
    voxels = np.stack(np.meshgrid(grid.z_m, grid.y_m, grid.x_m, indexing="ij"), -1)[..., ::-1]
    exact = backproject_reference(s, qar50, grid).ravel()
    assert rel_rms(values_at(s, qar50, voxels.reshape(-1, 3)), exact) < 5e-3


def _surface(kind: str, n: int = 31) -> tuple[np.ndarray, np.ndarray, callable]:
    """A 6 x 6 cm flat plate at 26 cm, or the front of an 8 cm-radius sphere at 25 cm, with its
    true depth at (x, y)."""
    x, y = np.meshgrid(np.linspace(-HALF_M, HALF_M, n), np.linspace(-HALF_M, HALF_M, n))

    def depth(x, y):
        if kind == "plate":
            return np.full_like(x, 0.26)
        return 0.33 - np.sqrt(0.08**2 - x**2 - y**2)

    vertices = np.stack([x, y, depth(x, y)], -1).reshape(-1, 3)
    rows_cols = [(r, c) for r in range(n - 1) for c in range(n - 1)]
    cells = [(r * n + c, r * n + c + 1, (r + 1) * n + c) for r, c in rows_cols]
    faces = np.array([t for a, b, c in cells for t in ((a, c, b), (b, c, c + 1))])
    return vertices, faces, depth


@pytest.mark.parametrize("kind", ["plate", "sphere"])
def test_plate_and_sphere_are_read_at_their_true_depth(qar50, kind) -> None:
    vertices, faces, depth = _surface(kind)
    sampling = SamplingConfig(scattering="coherent")
    s = simulate_mesh(qar50, vertices, faces, Reflectance(0.5, 0.25), sampling)
    x, y = np.meshgrid(GRID.x_m, GRID.y_m)
    inside = (np.abs(x) < HALF_M) & (np.abs(y) < HALF_M)
    errors = {}
    for estimator in ("parabola", "phase"):
        image = image_volume(s, qar50, GRID, depth_estimator=estimator)
        lit = image.mask & inside
        errors[estimator] = 1e3 * (image.depth_m - depth(x, y))[lit]
        assert lit.sum() > 300
    assert np.median(np.abs(errors["phase"])) <= 0.5
    assert abs(np.median(errors["phase"])) <= 0.3
    assert np.median(np.abs(errors["parabola"])) > 0.5  # what it improves on


def test_phase_needs_the_signal(qar50) -> None:
    volume = np.ones((len(GRID.z_m), GRID.n_y, GRID.n_x), dtype=np.complex64)
    with pytest.raises(ValueError, match="needs the signal"):
        form_image(volume, GRID, depth_estimator="phase")
