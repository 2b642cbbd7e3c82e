"""Back-projection: focusing physics against theory, fast paths against the exact formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from common import rel_rms

from radarface.radar import (
    SPEED_OF_LIGHT_M_S,
    ImagingGrid,
    RadarArray,
    backproject,
    backproject_reference,
    backproject_torch,
    qar50_array,
    simulate_points,
)

TARGET_M = np.array([0.003, -0.005, 0.25])


@pytest.fixture(scope="module")
def qar50() -> RadarArray:
    return qar50_array()


@pytest.fixture(scope="module")
def s_point(qar50: RadarArray) -> np.ndarray:
    return simulate_points(qar50, TARGET_M[None], np.ones(1))


@pytest.fixture(scope="module")
def scene(qar50: RadarArray) -> tuple[np.ndarray, ImagingGrid, np.ndarray]:
    """A few scatterers, a 16 x 16 x 6 grid around them and the exact reference volume."""
    points = np.array([[0.003, -0.005, 0.25], [0.02, 0.012, 0.262], [-0.015, 0.004, 0.241]])
    s = simulate_points(qar50, points, np.array([1.0, 0.7j, 0.5 - 0.2j]))
    grid = ImagingGrid(n_x=16, n_y=16, pitch_m=3e-3, z_min_m=0.235, z_max_m=0.265, z_step_m=6e-3)
    return s, grid, backproject_reference(s, qar50, grid)


def refine_peak(profile: np.ndarray, coords_m: np.ndarray) -> float:
    """Coordinate of the maximum of |profile|, refined by a parabola through its neighbours."""
    m = np.abs(profile)
    k = int(m.argmax())
    assert 0 < k < len(m) - 1, "peak on the edge of the cut"
    offset = 0.5 * (m[k - 1] - m[k + 1]) / (m[k - 1] - 2 * m[k] + m[k + 1])
    return float(coords_m[k] + offset * (coords_m[k + 1] - coords_m[k]))


def width_3db(profile: np.ndarray, step_m: float) -> float:
    """-3 dB width of |profile| around its maximum, crossings linearly interpolated."""
    m = np.abs(profile) / np.abs(profile).max()
    half, k = 10 ** (-3 / 20), int(np.abs(profile).argmax())
    lo = k - int(np.argmax(m[k::-1] < half))  # first sample below -3 dB on each side
    hi = k + int(np.argmax(m[k:] < half))
    left = lo + (half - m[lo]) / (m[lo + 1] - m[lo])
    right = hi - (half - m[hi]) / (m[hi - 1] - m[hi])
    return float((right - left) * step_m)


def test_point_target_focuses_at_true_position(qar50: RadarArray, s_point: np.ndarray) -> None:
    grid = ImagingGrid(
        n_x=13, n_y=13, pitch_m=0.5e-3, z_min_m=0.247, z_max_m=0.253, z_step_m=0.5e-3,
        center_xy_m=(0.0025, -0.0045),
    )  # fmt: skip
    vol = backproject(s_point, qar50, grid)
    iz, iy, ix = np.unravel_index(np.abs(vol).argmax(), vol.shape)
    x = refine_peak(vol[iz, iy, :], grid.x_m)
    y = refine_peak(vol[iz, :, ix], grid.y_m)
    z = refine_peak(vol[:, iy, ix], grid.z_m)
    np.testing.assert_allclose([x, y, z], TARGET_M, atol=1e-3)


def test_point_spread_widths_match_theory(qar50: RadarArray, s_point: np.ndarray) -> None:
    c_xy = (TARGET_M[0], TARGET_M[1])
    z = TARGET_M[2]
    cut_x = ImagingGrid(n_x=49, n_y=1, pitch_m=2.5e-4, z_min_m=z, z_max_m=z, center_xy_m=c_xy)
    cut_y = ImagingGrid(n_x=1, n_y=49, pitch_m=2.5e-4, z_min_m=z, z_max_m=z, center_xy_m=c_xy)
    cut_z = ImagingGrid(
        n_x=1, n_y=1, z_min_m=z - 0.015, z_max_m=z + 0.015, z_step_m=5e-4, center_xy_m=c_xy
    )
    w_x = width_3db(backproject(s_point, qar50, cut_x)[0, 0, :], 2.5e-4)
    w_y = width_3db(backproject(s_point, qar50, cut_y)[0, :, 0], 2.5e-4)
    w_z = width_3db(backproject(s_point, qar50, cut_z)[:, 0, 0], 5e-4)
    # Theory: range resolution 0.886 c / (2 B) (uniform spectrum, -3 dB of the sinc);
    # cross-range lambda_c R / (2 D) with D = 0.141 m, the TX and RX aperture lengths.
    bandwidth = qar50.freq_hz[-1] - qar50.freq_hz[0]
    lambda_c = SPEED_OF_LIGHT_M_S / qar50.freq_hz.mean()
    range_theory = 0.886 * SPEED_OF_LIGHT_M_S / (2 * bandwidth)
    cross_theory = lambda_c * z / (2 * 0.141)
    assert 3e-3 <= w_x <= 4e-3 and 3e-3 <= w_y <= 4e-3
    assert 13e-3 <= w_z <= 15e-3
    np.testing.assert_allclose([w_x, w_y], cross_theory, rtol=0.15)
    np.testing.assert_allclose(w_z, range_theory, rtol=0.05)


def test_superposition(qar50: RadarArray, s_point: np.ndarray) -> None:
    grid = ImagingGrid(n_x=8, n_y=8, pitch_m=4e-3, z_min_m=0.24, z_max_m=0.26, z_step_m=5e-3)
    s2 = simulate_points(qar50, np.array([[-0.01, 0.008, 0.255]]), np.array([0.5j]))
    both = backproject(s_point + s2, qar50, grid)
    apart = backproject(s_point, qar50, grid) + backproject(s2, qar50, grid)
    assert rel_rms(both, apart) < 1e-5


def test_numba_matches_reference(qar50: RadarArray, scene) -> None:
    s, grid, ref = scene
    fast = backproject(s, qar50, grid, method="numba")
    assert fast.shape == ref.shape == (6, 16, 16) and fast.dtype == np.complex64
    assert rel_rms(fast, ref) < 0.01


def test_torch_matches_reference(qar50: RadarArray, scene) -> None:
    s, grid, ref = scene
    vol = backproject(s, qar50, grid, method="torch")
    assert isinstance(vol, torch.Tensor) and vol.dtype == torch.complex64
    assert rel_rms(vol.numpy(), ref) < 0.01


def test_reference_accepts_any_frequency_list() -> None:
    array = RadarArray(np.array([[0.01, 0, 0]]), np.array([[-0.01, 0, 0]]), [76e9, 77.5e9, 80e9])
    grid = ImagingGrid(n_x=3, n_y=2, z_min_m=0.2, z_max_m=0.2)
    s = simulate_points(array, np.array([[0.0, 0.0, 0.2]]), np.ones(1))
    vol = backproject(s, array, grid, method="reference")
    # Direct evaluation of V = sum_f S_f exp(+j 2 pi f (d_tx + d_rx) / c) at one voxel.
    v = np.array([grid.x_m[1], grid.y_m[0], 0.2])
    tau = np.linalg.norm(v - array.tx_m[0]) + np.linalg.norm(v - array.rx_m[0])
    direct = np.sum(s[0, 0] * np.exp(2j * np.pi * array.freq_hz * tau / SPEED_OF_LIGHT_M_S))
    np.testing.assert_allclose(vol[0, 0, 1], direct, rtol=1e-6)


def test_torch_gradient_matches_finite_difference(qar50: RadarArray, s_point: np.ndarray) -> None:
    """V is linear in S, so L = Re<g, V(S)> has dL = Re<grad, dS> exactly (adjoint identity)."""
    vox = torch.tensor([[0.003, -0.005, 0.25], [0.0, 0.01, 0.26]], dtype=torch.float64)
    rng = np.random.default_rng(0)
    g = torch.tensor([1.0 - 0.5j, 0.3 + 2j], dtype=torch.complex64)
    h = torch.from_numpy(
        (rng.standard_normal(s_point.shape) + 1j * rng.standard_normal(s_point.shape)).astype(
            np.complex64
        )
    )
    s = torch.from_numpy(s_point).requires_grad_(True)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (g.conj() * backproject_torch(x, qar50, vox)).real.sum()

    loss(s).backward()
    with torch.no_grad():  # central difference; exact up to float32 rounding for a linear map
        fd = (loss(s + h) - loss(s - h)) / 2
    predicted = (s.grad.conj() * h).real.sum()  # torch: dL = Re<grad, dS> for real L
    np.testing.assert_allclose(float(fd), float(predicted), rtol=1e-3)


def test_torch_gradient_wrt_voxels_is_finite(qar50: RadarArray, s_point: np.ndarray) -> None:
    vox = torch.tensor([[0.003, -0.005, 0.2505]], dtype=torch.float64, requires_grad=True)
    backproject_torch(s_point, qar50, vox).abs().sum().backward()
    assert torch.isfinite(vox.grad).all() and vox.grad[0, 2] < 0  # |V| grows towards the target


def test_bad_inputs(qar50: RadarArray, s_point: np.ndarray) -> None:
    grid = ImagingGrid(n_x=2, n_y=2)
    with pytest.raises(ValueError, match="shape"):
        backproject(s_point[:, :-1], qar50, grid)
    bad = s_point.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        backproject(bad, qar50, grid)
    uneven = RadarArray(qar50.tx_m, qar50.rx_m, np.r_[72e9, 73e9, 75e9])
    s3 = np.zeros((qar50.n_tx, qar50.n_rx, 3), np.complex64)
    with pytest.raises(ValueError, match="uniform frequency sweep"):
        backproject(s3, uneven, grid)
    with pytest.raises(ValueError, match="unknown method"):
        backproject(s_point, qar50, grid, method="fft")


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_strided_grid_keeps_every_strided_pixel(stride: int) -> None:
    grid = ImagingGrid(n_x=7, n_y=10, pitch_m=3e-3, center_xy_m=(0.01, -0.02))
    coarse = grid.strided(stride)
    np.testing.assert_allclose(coarse.x_m, grid.x_m[::stride], atol=1e-12)
    np.testing.assert_allclose(coarse.y_m, grid.y_m[::stride], atol=1e-12)
    np.testing.assert_array_equal(coarse.z_m, grid.z_m)
