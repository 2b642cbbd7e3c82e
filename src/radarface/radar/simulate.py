"""Coherent near-field MIMO SFCW simulation: scatterers -> S[tx, rx, f] (complex64).

Each scatterer p contributes (exact bistatic distances, no midpoint or monostatic approximation)

    S[t, r, f] += w_tx[p, t] * w_rx[p, r] * exp(-j 2 pi f (d_tx[p, t] + d_rx[p, r]) / c)

with amplitude weights that factor into a TX part and an RX part; spherical spreading
1 / (d_tx d_rx) is one such factorised weight. The separable form turns the sum over scatterers
into one complex matrix product per frequency, (n_tx x P) @ (P x n_rx).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from radarface.radar.array import SPEED_OF_LIGHT_M_S, RadarArray


def _phasors(dist_m: torch.Tensor, freq_hz: torch.Tensor) -> torch.Tensor:
    """exp(-j 2 pi f d / c) for all frequencies: (n_freq, *dist.shape) complex64."""
    # Phases reach thousands of radians: form them in float64, then drop to complex64.
    phase = (-2 * math.pi / SPEED_OF_LIGHT_M_S) * freq_hz.double().reshape(-1, *([1] * dist_m.ndim))
    phase = phase * dist_m.double()
    return torch.polar(torch.ones_like(phase), phase).to(torch.complex64)


def coherent_sum(
    tx_m: torch.Tensor,
    rx_m: torch.Tensor,
    freq_hz: torch.Tensor,
    points_m: torch.Tensor,
    w_tx: torch.Tensor,
    w_rx: torch.Tensor,
    freq_chunk: int = 8,
) -> torch.Tensor:
    """S (n_tx, n_rx, n_freq) complex64 from scatterers with separable complex weights.

    tx_m (n_tx, 3), rx_m (n_rx, 3), points_m (P, 3) metres; freq_hz (n_freq,);
    w_tx (P, n_tx) and w_rx (P, n_rx) complex or real weights. Differentiable in points and weights.
    """
    d_tx = torch.cdist(points_m.double(), tx_m.double())  # (P, n_tx)
    d_rx = torch.cdist(points_m.double(), rx_m.double())  # (P, n_rx)
    w_tx = w_tx.to(torch.complex64)
    w_rx = w_rx.to(torch.complex64)
    out = []
    for start in range(0, len(freq_hz), freq_chunk):
        f = freq_hz[start : start + freq_chunk]
        a = _phasors(d_tx, f) * w_tx  # (F, P, n_tx)
        b = _phasors(d_rx, f) * w_rx  # (F, P, n_rx)
        out.append(a.transpose(1, 2) @ b)  # (F, n_tx, n_rx)
    return torch.cat(out).permute(1, 2, 0).contiguous()


def simulate_points(
    array: RadarArray,
    points_m: np.ndarray,
    amplitudes: np.ndarray,
) -> np.ndarray:
    """S (n_tx, n_rx, n_freq) complex64 for ideal isotropic point scatterers.

    points_m (P, 3) in the radar frame; amplitudes (P,) complex reflectivities. Each point
    contributes a * exp(-j 2 pi f (d_tx + d_rx) / c) / (d_tx d_rx).
    """
    points = np.asarray(points_m, dtype=np.float64)
    amps = np.asarray(amplitudes)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points_m must have shape (P, 3), got {points.shape}")
    if amps.shape != (len(points),):
        raise ValueError(f"amplitudes must have shape ({len(points)},), got {amps.shape}")
    if not (np.all(np.isfinite(points)) and np.all(np.isfinite(amps))):
        raise ValueError("point positions and amplitudes must be finite")
    if np.any(points[:, 2] <= 0):
        raise ValueError("point scatterers must lie in front of the array (z > 0)")
    pts = torch.from_numpy(points)
    tx, rx = torch.from_numpy(array.tx_m), torch.from_numpy(array.rx_m)
    w_tx = torch.from_numpy(amps.astype(np.complex128))[:, None] / torch.cdist(pts, tx)
    w_rx = 1.0 / torch.cdist(pts, rx)
    s = coherent_sum(tx, rx, torch.from_numpy(array.freq_hz), pts, w_tx, w_rx)
    return s.numpy()
