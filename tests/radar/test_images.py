"""Max projection, depth refinement and dynamic range on hand-made volumes (numpy and torch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radarface.radar import (
    ImagingGrid,
    RadarImage,
    apply_dynamic_range,
    backproject,
    form_image,
    image_volume,
    maroon_depth,
    project_volume,
    qar50_array,
    simulate_points,
)

GRID = ImagingGrid(n_x=3, n_y=2, pitch_m=1e-3, z_min_m=0.2, z_max_m=0.23, z_step_m=3e-3)


def quadratic_volume() -> tuple[np.ndarray, np.ndarray]:
    """|V| = a - (k - k0)^2 along z per column; returns volume_zyx and the vertices k0 (H, W)."""
    k = np.arange(len(GRID.z_m))[:, None, None]
    k0 = np.array([[4.3, 6.0, 2.8], [5.45, 7.2, 3.5]])
    amp = np.array([[100.0, 50.0, 80.0], [60.0, 90.0, 70.0]])
    return (amp - (k - k0) ** 2) * np.exp(1j * 0.7 * k), k0


@pytest.mark.parametrize("to", [np.asarray, torch.from_numpy])
def test_project_volume_peak_and_exact_parabola_vertex(to) -> None:
    vol, k0 = quadratic_volume()
    max_db, depth = project_volume(to(vol), GRID)
    max_db, depth = np.asarray(max_db), np.asarray(depth)
    assert max_db.shape == depth.shape == (2, 3) and max_db.dtype == depth.dtype == np.float32
    peak = np.abs(vol).max(0)
    np.testing.assert_allclose(max_db, 20 * np.log10(peak / peak.max()), atol=1e-4)
    assert max_db.max() == 0.0 and (max_db <= 0).all()
    np.testing.assert_allclose(depth, GRID.z_m[0] + k0 * GRID.z_step_m, atol=1e-6)


def test_depth_not_refined_on_grid_edge() -> None:
    k = np.arange(len(GRID.z_m))[:, None, None]
    vol = np.broadcast_to(10.0 + k, (len(k), 2, 3)).astype(np.complex64)  # brightest at last z
    _, depth = project_volume(vol, GRID)
    np.testing.assert_allclose(depth, GRID.z_m[-1], atol=1e-7)


@pytest.mark.parametrize("to", [np.asarray, torch.from_numpy])
def test_apply_dynamic_range(to) -> None:
    max_db = np.array([[0.0, -5.0, -10.0], [-20.0, -25.0, -40.0]], np.float32)
    depth = np.full((2, 3), 0.25, np.float32)
    amp, depth_m, mask = (np.asarray(a) for a in apply_dynamic_range(to(max_db), to(depth), 20.0))
    np.testing.assert_allclose(amp, [[1.0, 0.75, 0.5], [0.0, 0.0, 0.0]])
    assert ((amp >= 0) & (amp <= 1)).all() and amp.dtype == np.float32
    np.testing.assert_array_equal(mask, [[True, True, True], [True, False, False]])
    assert np.isnan(depth_m[~mask]).all() and (depth_m[mask] == 0.25).all()
    with pytest.raises(ValueError, match="positive"):
        apply_dynamic_range(to(max_db), to(depth), 0.0)


def test_torch_path_differentiable_with_per_item_theta() -> None:
    vol, _ = quadratic_volume()
    v = torch.from_numpy(np.stack([vol, 2 * vol])).requires_grad_(True)  # (B, n_z, H, W)
    max_db, depth = zip(*(project_volume(item, GRID) for item in v), strict=True)
    theta = torch.tensor([10.0, 30.0])[:, None, None]
    amp, depth_m, mask = apply_dynamic_range(torch.stack(max_db), torch.stack(depth), theta)
    (amp.sum() + depth_m[mask].sum()).backward()
    assert v.grad is not None and torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0
    assert mask[1].sum() >= mask[0].sum()  # a larger dynamic range keeps more pixels


def test_image_volume_of_a_point_target() -> None:
    array = qar50_array()
    grid = ImagingGrid(n_x=9, n_y=9, pitch_m=2e-3, z_min_m=0.238, z_max_m=0.262, z_step_m=3e-3)
    s = simulate_points(array, np.array([[0.004, -0.002, 0.25]]), np.ones(1))
    img = image_volume(s, array, grid, dynamic_range_db=20.0)
    assert isinstance(img, RadarImage) and img.amplitude.shape == (9, 9)
    row, col = np.unravel_index(img.amplitude.argmax(), img.amplitude.shape)
    # Row 0 is +y, column 0 is +x: the target at x = +4 mm, y = -2 mm.
    assert (img.x_m[col], img.y_m[row]) == pytest.approx((0.004, -0.002), abs=1e-9)
    assert img.depth_m[row, col] == pytest.approx(0.25, abs=1e-3)
    assert img.mask[row, col] and not img.mask.all()
    again = form_image(np.zeros((9, 9, 9)) + 0j + 1, grid, 6.0)
    assert again.amplitude.max() == 1.0 and again.dynamic_range_db == 6.0


def test_projection_at_the_brightest_voxels_equals_the_full_one() -> None:
    from radarface.radar import RadarArray, backproject, linear_sweep, project_brightest

    qar50 = qar50_array(linear_sweep(72e9, 82e9, 32))
    array = RadarArray(qar50.tx_m[::8], qar50.rx_m[::8], qar50.freq_hz)
    grid = ImagingGrid(n_x=8, n_y=6, pitch_m=3e-3, z_min_m=0.24, z_max_m=0.28)
    points = np.array([[0.003, 0.0, 0.251], [-0.006, 0.003, 0.262]])
    s = torch.tensor(simulate_points(array, points, np.array([1.0, 0.6])), requires_grad=True)
    full = project_volume(backproject(s, array, grid, method="torch"), grid)
    volume = backproject(s.detach(), array, grid, method="numba")
    picked = project_brightest(s, array, grid, volume)
    for a, b in zip(full, picked, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    grads = [torch.autograd.grad(x[0].sum() + 100 * x[1].sum(), s)[0] for x in (full, picked)]
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)
    # Within 6 dB of the peak only: those columns and their gradient as before (up to the range
    # profiles' interpolation, whose nodes follow the voxels' extent: 0.01 dB, 0.01 mm), the rest
    # as the fast volume has them, without gradient.
    lit = (full[0] >= -6).detach()
    clipped = project_brightest(s, array, grid, volume, dynamic_range_db=6.0)
    for a, b in zip(full, clipped, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-2)
    torch.testing.assert_close(full[1][lit], clipped[1][lit], rtol=0, atol=1e-5)
    full = project_volume(backproject(s, array, grid, method="torch"), grid)
    loss = [(x[0].clamp(min=-6).sum() + 100 * x[1][lit].sum()) for x in (full, clipped)]
    grads = [torch.autograd.grad(x, s)[0] for x in loss]
    torch.testing.assert_close(grads[0], grads[1], rtol=2e-2, atol=1e-4)
    assert 0 < lit.sum() < lit.numel()


def test_maroon_depth_is_the_db_parabola_of_polyfit() -> None:
    """MAROON's estimator against its literal definition: np.polyfit on the dB triple."""
    rng = np.random.default_rng(3)
    vol = rng.normal(size=(len(GRID.z_m), 2, 3)) + 1j * rng.normal(size=(len(GRID.z_m), 2, 3))
    vol[0, 0, 0] = 50.0  # a column peaking on the first slice: its neighbour repeats the edge
    depth = maroon_depth(vol, GRID)
    db = 20 * np.log10(np.abs(vol) / np.abs(vol).max())
    for row in range(2):
        for col in range(3):
            k = int(np.argmax(db[:, row, col]))
            triple = db[np.clip([k - 1, k, k + 1], 0, len(GRID.z_m) - 1), row, col]
            a, b, _ = np.polyfit(np.array([-1.0, 0.0, 1.0]) * GRID.z_step_m, triple, 2)
            assert depth[row, col] == pytest.approx(GRID.z_m[k] - b / (2 * a), abs=1e-6)
    assert depth[0, 0] == pytest.approx(GRID.z_m[0] - 0.5 * GRID.z_step_m, abs=1e-7)


def test_maroon_depth_agrees_with_ours_on_a_point(sparse_qar50) -> None:
    grid = ImagingGrid(n_x=6, n_y=6, pitch_m=2e-3, z_min_m=0.24, z_max_m=0.27)
    for z in (0.2513, 0.2526):
        s = simulate_points(sparse_qar50, np.array([[0.001, 0.0, z]]), np.array([1.0]))
        volume = backproject(s, sparse_qar50, grid, method="numba")
        ours = form_image(volume, grid, 15.0)
        theirs = form_image(volume, grid, 15.0, depth_estimator="maroon")
        np.testing.assert_array_equal(theirs.max_db, ours.max_db)
        mask = ours.mask
        assert mask.sum() >= 4
        assert np.abs(theirs.depth_m[mask] - ours.depth_m[mask]).max() < 0.1e-3
        np.testing.assert_array_equal(theirs.depth_m[mask], maroon_depth(volume, grid)[mask])
    with pytest.raises(ValueError, match="unknown depth estimator 'peak'"):
        form_image(volume, grid, depth_estimator="peak")
