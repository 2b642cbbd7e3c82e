"""The depth range from the data: mean range profile, strongest echoes, grid choice, warnings."""

from __future__ import annotations

import numpy as np
import pytest

from radarface.radar import (
    ImagingGrid,
    RadarArray,
    clip_image,
    linear_sweep,
    qar50_array,
    simulate_points,
)
from radarface.radar.zrange import (
    Echoes,
    choose_z_range,
    echoes_warning,
    edge_warning,
    find_echoes,
    search_depths,
)


@pytest.fixture(scope="module")
def array64(sparse_qar50: RadarArray) -> RadarArray:
    """Every 8th QAR50 antenna, 64 frequencies: unambiguous to 1 m of depth."""
    return RadarArray(sparse_qar50.tx_m, sparse_qar50.rx_m, linear_sweep(72e9, 82e9, 64))


@pytest.mark.parametrize("z_m", [0.18, 0.4, 0.75])
def test_echoes_of_a_point_are_at_its_depth(array64: RadarArray, z_m: float) -> None:
    s = simulate_points(array64, np.array([[0.01, -0.005, z_m]]), np.array([1.0]))
    echoes = find_echoes(s, array64)
    assert abs(echoes.peak_m - z_m) <= 2e-3  # the search step
    # Within 10 dB of the peak: the windowed profile's main lobe, about +-2 cm at 10 GHz.
    assert echoes.near_m < z_m < echoes.far_m and echoes.far_m - echoes.near_m < 0.05
    z_min, z_max = choose_z_range(echoes)
    assert z_min < echoes.near_m and echoes.far_m < z_max and z_max - z_min >= 0.135 - 1e-9


def test_masked_pairs_are_left_out(array64: RadarArray) -> None:
    near = simulate_points(array64, np.array([[0.0, 0.0, 0.3]]), np.array([1.0]))
    far = simulate_points(array64, np.array([[0.0, 0.0, 0.6]]), np.array([1.0]))
    pairs = np.zeros((array64.n_tx, array64.n_rx), bool)
    pairs[:, : array64.n_rx // 2] = True
    s = np.where(pairs[..., None], near, 30 * far)  # the masked pairs hold a strong far echo
    assert abs(find_echoes(s, array64).peak_m - 0.6) <= 2e-3
    assert abs(find_echoes(s, array64, pairs=pairs).peak_m - 0.3) <= 2e-3


def test_a_face_at_25_cm_gets_the_default_grid() -> None:
    """The rule reproduces the default grid (22.5-36 cm) for the nearest echo at 25 cm."""
    default = ImagingGrid()
    assert choose_z_range(Echoes(0.23, 0.27, 0.25)) == pytest.approx(
        (default.z_min_m, default.z_max_m)
    )
    assert choose_z_range(Echoes(0.23, 0.45, 0.25)) == pytest.approx((0.225, 0.455))


def test_search_stays_unambiguous() -> None:
    assert search_depths(qar50_array()).max() == pytest.approx(1.0)
    coarse = qar50_array(linear_sweep(72e9, 82e9, 16))  # path period c / df = 45 cm
    z = search_depths(coarse)
    assert 2 * (z.max() - z.min()) < 0.95 * 0.45


def test_warnings_for_a_scene_beyond_the_grid() -> None:
    grid = ImagingGrid(n_x=2, n_y=1, pitch_m=1e-3, z_min_m=0.2, z_max_m=0.23)
    assert echoes_warning(Echoes(0.21, 0.22, 0.215), grid) is None
    message = echoes_warning(Echoes(0.38, 0.42, 0.4), grid)
    assert "38.0-42.0 cm, outside the imaging grid's z range 20.0-23.0 cm" in message
    max_db = np.array([[0.0, -3.0]], np.float32)
    inside = clip_image(max_db, np.array([[0.215, 0.23]], np.float32), grid)
    assert edge_warning(inside, grid) is None  # only the brightest pixel counts
    beyond = clip_image(max_db, np.array([[0.23, 0.215]], np.float32), grid)
    assert "last slice (z = 23.0 cm)" in edge_warning(beyond, grid)
