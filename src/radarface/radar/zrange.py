"""The imaging grid's depth range from the data: the mean range profile and its strongest echoes.

For each depth z of a search window, every TX-RX pair's range profile (eq. (2) of
`radarface.radar.profiles`, the sweep Hann-windowed against range sidelobes) is read at the path
length d_tx + d_rx of the point (x0, y0, z) on the grid's axis; the mean of |P_tr|^2 over the
usable pairs is the depth profile. Its strongest echoes are the depths within
`ECHO_THRESHOLD_DB` of its peak; for a point target they span about +-2 cm around it (the range
resolution c / 2B = 1.5 cm of the 10 GHz sweep, widened by the window). `choose_z_range` starts
the grid `NEAR_MARGIN_M` before the nearest strong depth, which for a face with its nose tip at
25 cm is where the default grid starts (22.5 cm), and keeps at least the default depth (13.5 cm),
or reaches `FAR_MARGIN_M` beyond the farthest strong depth.

The search window starts at `SEARCH_NEAR_M` (clear of the antennas' direct coupling) and ends at
`SEARCH_FAR_M` or earlier where the sweep's unambiguous path length c / df would alias (the
profiles are periodic in path length with that period).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radarface.radar.array import SPEED_OF_LIGHT_M_S, ImagingGrid, RadarArray
from radarface.radar.images import RadarImage
from radarface.radar.profiles import DEFAULT_OVERSAMPLE, range_profiles, tau_axis

SEARCH_NEAR_M = 0.1
SEARCH_FAR_M = 1.0
SEARCH_STEP_M = 2e-3
ECHO_THRESHOLD_DB = 10.0
NEAR_MARGIN_M = 0.005
FAR_MARGIN_M = 0.005
DEFAULT_DEPTH_M = ImagingGrid().z_max_m - ImagingGrid().z_min_m  # 13.5 cm


@dataclass(frozen=True)
class Echoes:
    """The strongest echoes of a depth profile: nearest and farthest depth within the threshold
    of its peak, and the peak's depth (metres)."""

    near_m: float
    far_m: float
    peak_m: float


def search_depths(array: RadarArray) -> np.ndarray:
    """(n_z,) depths searched: SEARCH_NEAR_M to SEARCH_FAR_M, shortened to stay unambiguous."""
    far = SEARCH_FAR_M
    if array.n_freq > 1:
        df = (array.freq_hz[-1] - array.freq_hz[0]) / (array.n_freq - 1)
        # Path lengths change by at most 2 dz with depth: keep 2 (far - near) < 0.95 c / df.
        far = min(far, SEARCH_NEAR_M + 0.475 * SPEED_OF_LIGHT_M_S / df)
    return np.arange(SEARCH_NEAR_M, far + 1e-9, SEARCH_STEP_M)


def depth_profile(
    s: np.ndarray,
    array: RadarArray,
    z_m: np.ndarray,
    center_xy_m: tuple[float, float] = (0.0, 0.0),
    pairs: np.ndarray | None = None,
) -> np.ndarray:
    """(n_z,) mean power over the usable pairs (n_tx, n_rx) bool, default all, of the windowed
    range profiles of S (n_tx, n_rx, n_freq) at the path lengths of (x0, y0, z) for z in z_m."""
    z_m = np.asarray(z_m, dtype=np.float64)
    window = np.hanning(array.n_freq) if array.n_freq > 2 else np.ones(array.n_freq)
    axis_points = np.stack(
        [np.full_like(z_m, center_xy_m[0]), np.full_like(z_m, center_xy_m[1]), z_m], -1
    )
    axis = tau_axis(array, axis_points.min(0), axis_points.max(0), DEFAULT_OVERSAMPLE)
    tau0, dtau, n_tau, _ = axis
    prof = range_profiles(np.asarray(s) * window, array, axis)  # (n_tx, n_rx, n_tau)
    d_tx = np.linalg.norm(axis_points[None] - array.tx_m[:, None], axis=-1)  # (n_tx, n_z)
    d_rx = np.linalg.norm(axis_points[None] - array.rx_m[:, None], axis=-1)  # (n_rx, n_z)
    u = (d_tx[:, None, :] + d_rx[None, :, :] - tau0) / dtau  # (n_tx, n_rx, n_z)
    i = np.clip(np.floor(u).astype(np.int64), 0, n_tau - 2)
    w = (u - i).astype(np.float32)
    p0 = np.take_along_axis(prof, i, axis=-1)
    p1 = np.take_along_axis(prof, i + 1, axis=-1)
    power = np.abs(p0 + w * (p1 - p0)) ** 2
    use = np.ones((array.n_tx, array.n_rx), bool) if pairs is None else np.asarray(pairs, bool)
    return power[use].mean(axis=0)


def strong_echoes(profile: np.ndarray, z_m: np.ndarray) -> Echoes:
    """The depths of a profile (n_z,) on z_m (n_z,) within ECHO_THRESHOLD_DB of its peak."""
    strong = np.flatnonzero(profile >= profile.max() * 10 ** (-ECHO_THRESHOLD_DB / 10))
    peak = int(np.argmax(profile))
    near, far, top = (round(float(z_m[i]), 6) for i in (strong[0], strong[-1], peak))
    return Echoes(near, far, top)


def find_echoes(
    s: np.ndarray,
    array: RadarArray,
    center_xy_m: tuple[float, float] = (0.0, 0.0),
    pairs: np.ndarray | None = None,
) -> Echoes:
    """The strongest echoes of S (n_tx, n_rx, n_freq) along the grid's axis (see module)."""
    z_m = search_depths(array)
    return strong_echoes(depth_profile(s, array, z_m, center_xy_m, pairs), z_m)


def choose_z_range(echoes: Echoes, z_step_m: float = ImagingGrid().z_step_m) -> tuple[float, float]:
    """(z_min_m, z_max_m) of a grid around the echoes (see module), z_min on whole millimetres."""
    z_min = max(np.floor((echoes.near_m - NEAR_MARGIN_M) * 1e3) * 1e-3, z_step_m)
    z_max = max(z_min + DEFAULT_DEPTH_M, echoes.far_m + FAR_MARGIN_M)
    return float(z_min), float(z_max)


def echoes_warning(echoes: Echoes, grid: ImagingGrid) -> str | None:
    """A warning when the strongest echoes lie outside the grid's depth range, else None."""
    z = grid.z_m
    if echoes.near_m >= z[0] and echoes.far_m <= z[-1]:
        return None
    return (
        f"warning: the strongest echoes lie at {echoes.near_m * 100:.1f}-{echoes.far_m * 100:.1f} "
        f"cm, outside the imaging grid's z range {z[0] * 100:.1f}-{z[-1] * 100:.1f} cm: the "
        "image misses them (set --z-range-cm, or leave it to choose from the data)"
    )


def edge_warning(image: RadarImage, grid: ImagingGrid) -> str | None:
    """A warning when the image's brightest pixel peaks on (or, by the phase estimator, beyond)
    the grid's first or last slice."""
    row, col = np.unravel_index(np.argmax(image.max_db), image.max_db.shape)
    depth = float(image.peak_depth_m[row, col])
    z = grid.z_m
    half = 0.5 * grid.z_step_m
    for name, edge, beyond in (
        ("first", z[0], depth <= z[0] + half),
        ("last", z[-1], depth >= z[-1] - half),
    ):
        if beyond:
            return (
                f"warning: the brightest echo peaks on the imaging grid's {name} slice (z = "
                f"{edge * 100:.1f} cm): the scene probably extends beyond its z range "
                f"{z[0] * 100:.1f}-{z[-1] * 100:.1f} cm (set --z-range-cm)"
            )
    return None
