"""Shared scenes for the radar tests."""

from __future__ import annotations

import numpy as np
import pytest

from radarface.radar import RadarArray, qar50_array


def plate(size_m: float, centre_m: tuple[float, float, float], tilt_deg: float = 0.0):
    """A square plate facing the array, tilted about the y axis through its centre."""
    h = size_m / 2
    corners = np.array([[-h, -h, 0.0], [h, -h, 0.0], [h, h, 0.0], [-h, h, 0.0]])
    a = np.radians(tilt_deg)
    rot_y = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    vertices = corners @ rot_y.T + np.asarray(centre_m)
    return vertices, np.array([[0, 1, 2], [0, 2, 3]])


@pytest.fixture(scope="session")
def make_plate():
    return plate


@pytest.fixture(scope="session")
def qar50() -> RadarArray:
    return qar50_array()


@pytest.fixture(scope="session")
def sparse_qar50(qar50: RadarArray) -> RadarArray:
    """Every 8th TX and RX of the QAR50: the same aperture with a fraction of the pairs."""
    return RadarArray(qar50.tx_m[::8], qar50.rx_m[::8], qar50.freq_hz)
