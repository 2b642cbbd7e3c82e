"""Coherent near-field MIMO SFCW simulation: scatterers -> S[tx, rx, f] (complex64).

Each scatterer p contributes (exact bistatic distances, no midpoint or monostatic approximation)

    S[t, r, f] += w_tx[p, t] * w_rx[p, r] * exp(-j 2 pi f (d_tx[p, t] + d_rx[p, r]) / c)

with amplitude weights that factor into a TX part and an RX part; spherical spreading
1 / (d_tx d_rx) is one such factorised weight. The separable form turns the sum over scatterers
into one complex matrix product per frequency, (n_tx x P) @ (P x n_rx).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from radarface.radar.array import SPEED_OF_LIGHT_M_S, RadarArray
from radarface.radar.profiles import bits_as_float32, unit_phasor
from radarface.radar.scene import (
    MeshScatterers,
    Reflectance,
    SamplingConfig,
    centre_wavelength_m,
    mesh_scatterers,
)

_BLOCK = 8  # frequencies per matrix-product batch
_POINT_CHUNK = 2048  # scatterers per batch: keeps the (block, chunk, n_ant) phasors in cache


def _unit_phasor(phase_rad: torch.Tensor) -> torch.Tensor:
    """exp(j phase) as complex64; the phase is reduced modulo 2 pi in float64 first."""
    reduced = torch.remainder(phase_rad.double(), 2 * math.pi).float()
    return torch.polar(torch.ones_like(reduced), reduced)


def _phasor_blocks(dist_m: torch.Tensor, freq_hz: torch.Tensor) -> Iterator[torch.Tensor]:
    """Yield exp(-j 2 pi f d / c) in blocks of _BLOCK frequencies, each (block, *dist.shape).

    For a uniform sweep f_n = f_0 + n df only exp(-j k_0 d) and exp(-j dk d) are evaluated; the
    rest follows by complex multiplication (after 127 complex64 steps the phase error is below
    1e-4 rad). Other sweeps evaluate every phasor directly.
    """
    k = (-2 * math.pi / SPEED_OF_LIGHT_M_S) * freq_hz.double()
    dk = torch.diff(k)
    if len(k) <= 1 or not torch.allclose(dk, dk[0], rtol=1e-9, atol=0.0):
        for start in range(0, len(k), _BLOCK):
            yield _unit_phasor(k[start : start + _BLOCK, None, None] * dist_m)
        return
    step = _unit_phasor(dk[0] * dist_m)
    rows = [_unit_phasor(k[0] * dist_m)]
    for _ in range(1, min(_BLOCK, len(k))):
        rows.append(rows[-1] * step)
    block = torch.stack(rows)
    block_step = rows[-1] * step * rows[0].conj()  # exp(-j _BLOCK dk d)
    for start in range(0, len(k), _BLOCK):
        yield block[: len(k) - start]
        block = block * block_step


def coherent_sum(
    tx_m: torch.Tensor,
    rx_m: torch.Tensor,
    freq_hz: torch.Tensor,
    points_m: torch.Tensor,
    w_tx: torch.Tensor,
    w_rx: torch.Tensor,
) -> torch.Tensor:
    """S (n_tx, n_rx, n_freq) complex64 from scatterers with separable complex weights.

    tx_m (n_tx, 3), rx_m (n_rx, 3), points_m (P, 3) metres; freq_hz (n_freq,);
    w_tx (P, n_tx) and w_rx (P, n_rx) complex or real weights. Differentiable in points and weights.
    """
    out = torch.zeros(
        (len(freq_hz), len(tx_m), len(rx_m)), dtype=torch.complex64, device=points_m.device
    )
    for start in range(0, len(points_m), _POINT_CHUNK):
        pts = points_m[start : start + _POINT_CHUNK].double()
        a_w = w_tx[start : start + _POINT_CHUNK].to(torch.complex64)
        b_w = w_rx[start : start + _POINT_CHUNK].to(torch.complex64)
        blocks = zip(
            _phasor_blocks(torch.cdist(pts, tx_m.double()), freq_hz),
            _phasor_blocks(torch.cdist(pts, rx_m.double()), freq_hz),
            strict=True,
        )
        parts = [(a * a_w).transpose(1, 2) @ (b * b_w) for a, b in blocks]  # (F, n_tx, n_rx)
        out = out + torch.cat(parts)
    return out.permute(1, 2, 0).contiguous()


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


# Type-1 NUFFT (Dutt & Rokhlin 1993; kernel: Barnett, Magland & af Klinteberg, "A parallel
# non-uniform fast Fourier transform library based on an 'exponential of semicircle' kernel",
# SIAM J. Sci. Comput. 41(5), 2019). For one TX-RX pair,
#   S_m = sum_p v_p exp(-j m theta_p),  m = n - N/2,  theta_p = dk tau_p  (mod 2 pi),
# spread each v_p onto an R-times oversampled periodic grid of n = R N nodes with the kernel
# phi(x) = exp(beta (sqrt(1 - (2x / W)^2) - 1)) of W grid cells, transform, and divide by the
# kernel's Fourier transform at mode m. W = 4 taps with beta = 2.5 W on a 3x oversampled grid
# keep the relative error near 2e-4 (W = 5, R = 2: 6e-5 with a quarter more scatter-adds, 18%
# slower; the Gaussian of Greengard & Lee needs 6 taps for 1e-3).
# A face spans a few tenths of a metre of path out of the grid's period c / df (3.8 m for the
# QAR50), so its scatterers touch ~50 of the 384 nodes: the kernel spreads into that window only
# and one GEMM takes the window's nodes to the N modes, in place of an FFT over the mostly empty
# period. The small windows make the larger grid of 4 taps cheap.
_OVERSAMPLE = 3
_TAPS = 4
_BETA = 2.5 * _TAPS
# The taps are the nodes l0 - _FIRST ... l0 - _FIRST + _TAPS - 1 around the node l0 nearest to a
# point (odd _TAPS) or the node l0 just below it (even _TAPS): _SHIFT rounds accordingly.
_FIRST = (_TAPS - 1) // 2
_SHIFT = 0.5 if _TAPS % 2 else 0.0
_TABLE_STEPS = 2048  # tabulated sub-cell offsets of the kernel: position error <= h / 4096


def _kernel(x: np.ndarray) -> np.ndarray:
    """phi(x) for x in grid cells (0 outside |x| < W / 2)."""
    z2 = np.clip(1.0 - (2.0 * x / _TAPS) ** 2, 0.0, None)
    return np.where(z2 > 0, np.exp(_BETA * (np.sqrt(z2) - 1.0)), 0.0)


def _kernel_table() -> np.ndarray:
    """(steps, W) float32: the kernel at the taps l0 - _FIRST + k of a point at
    (step + 0.5) / steps - _SHIFT cells from its node l0."""
    frac = (np.arange(_TABLE_STEPS) + 0.5) / _TABLE_STEPS - _SHIFT
    offsets = np.arange(_TAPS) - _FIRST
    return _kernel(offsets[None, :] - frac[:, None]).astype(np.float32)


def _kernel_fourier(modes: np.ndarray, n_grid: int) -> np.ndarray:
    """int phi(x) exp(-2 pi j m x / n_grid) dx over x in cells, by Gauss-Legendre quadrature."""
    nodes, weights = np.polynomial.legendre.leggauss(4 * _TAPS + 20)
    x = 0.5 * _TAPS * nodes  # phi is even: the transform is real
    integrand = weights * _kernel(x) * np.cos(2 * np.pi * np.outer(modes, x) / n_grid)
    return 0.5 * _TAPS * integrand.sum(axis=1)


@numba.njit(fastmath=True, inline="always")
def _exp_f32(x: np.float32) -> np.float32:  # pragma: no cover - compiled
    """exp(x) for -87 < x <= 0 in float32 arithmetic (vectorisable; relative error ~2e-6).

    exp(x) = 2^n 2^f with n = floor(x log2 e), f in [0, 1): 2^f by its Taylor series to degree 7,
    2^n by writing n + 127 into the float32 exponent bits.
    """
    y = x * np.float32(1.4426950408889634)
    n = np.float32(math.floor(y))
    a = (y - n) * np.float32(0.6931471805599453)
    poly = np.float32(1.0) + a * (np.float32(1.0) + a * (np.float32(1 / 2) + a * (
        np.float32(1 / 6) + a * (np.float32(1 / 24) + a * (np.float32(1 / 120) + a * (
            np.float32(1 / 720) + a * np.float32(1 / 5040)))))))  # fmt: skip
    return poly * bits_as_float32(np.int32((np.int32(n) + 127) << 23))


@numba.njit(parallel=True, fastmath=True, cache=True)
def _spread_pairs(
    c_tx,
    c_rx,
    g_tx,
    g_rx,
    d_tx,
    d_rx,
    u_tx,
    u_rx,
    normals,
    diffuse_w,
    specular_w,
    specular_points,
    capture_radius_m,
    log_threshold,
    dk,
    n_grid,
    first_node,
    n_window,
    table,
):  # pragma: no cover - compiled
    """Grid every pair's scatterer sum: (n_tx, n_rx, n_window) complex64, window node j being
    grid node first_node + j (mod n_grid; see the note above).

    Per pair and point: v = c_tx c_rx (diffuse_w g_tx g_rx + specular_w L), tau = d_tx + d_rx,
    with L the bistatic half-vector lobe of radarface.radar.scene. TX-side arrays are
    (n_tx, P[, 3]), RX-side arrays (P, n_rx) and u_rx (P, 3, n_rx): for one TX and point,
    branch-free float32 loops over the RX compute every contribution and its grid position
    (vectorised), a last one spreads them, each RX into its own grid.
    """
    n_tx, n_pts = c_tx.shape
    n_rx = c_rx.shape[1]
    grids = np.zeros((n_tx, n_rx, n_window), dtype=np.complex64)
    two_pi = np.float32(2.0 * np.pi)
    inv_h = np.float32(n_grid / (2.0 * np.pi))
    inv_r2 = np.float32(1.0 / capture_radius_m**2)
    log_thr = np.float32(log_threshold)
    dk32, shift, steps = np.float32(dk), np.float32(_SHIFT), np.float32(_TABLE_STEPS)
    for t in numba.prange(n_tx):
        grid_t = grids[t]
        v = np.empty(n_rx, dtype=np.complex64)
        base = np.empty(n_rx, dtype=np.int32)
        row = np.empty(n_rx, dtype=np.uint32)
        for p in range(n_pts):
            ct = c_tx[t, p]
            if ct == 0:
                continue
            wt = diffuse_w[p] * g_tx[t, p]
            dt = d_tx[t, p]
            for r in range(n_rx):
                theta = (dt + d_rx[p, r]) * dk32  # float32 throughout: vectorised
                pos = (theta - two_pi * np.floor(theta / two_pi)) * inv_h
                l0 = np.int32(pos + shift)
                base[r] = l0 - _FIRST - first_node
                row[r] = np.uint32((pos - np.float32(l0) + shift) * steps)
                v[r] = ct * c_rx[p, r] * (wt * g_rx[p, r])
            if specular_points[p] and g_tx[t, p] != 0:
                nx, ny, nz = normals[p, 0], normals[p, 1], normals[p, 2]
                ux, uy, uz = u_tx[t, p, 0], u_tx[t, p, 1], u_tx[t, p, 2]
                spec = ct * specular_w[p]
                for r in range(n_rx):  # branch-free, so that it vectorises
                    hx, hy, hz = ux + u_rx[p, 0, r], uy + u_rx[p, 1, r], uz + u_rx[p, 2, r]
                    n_dot_h = nx * hx + ny * hy + nz * hz
                    cos_h = n_dot_h / np.sqrt(hx * hx + hy * hy + hz * hz)
                    tau = dt + d_rx[p, r]
                    log_lobe = (cos_h - np.float32(1.0)) * tau * tau * inv_r2
                    seen = (n_dot_h > 0) & (g_rx[p, r] != 0) & (log_lobe > log_thr)
                    lobe = _exp_f32(log_lobe) if seen else np.float32(0.0)
                    v[r] += spec * c_rx[p, r] * lobe
            for r in range(n_rx):
                taps = table[row[r]]
                g = grid_t[r]
                start, vr = np.uintp(base[r]), v[r]
                for k in range(np.uintp(_TAPS)):
                    g[start + k] += vr * taps[k]
    return grids


@numba.njit(parallel=True, fastmath=True, cache=True)
def _antenna_terms(antennas_m, vis, points_m, normals, k_carrier):  # pragma: no cover - compiled
    """Per (antenna, point): carrier exp(-j k d) vis / d, sqrt(cos), distance d, unit vector u.

    antennas_m (n_ant, 3), vis (P, n_ant), points_m and normals (P, 3) -> arrays (n_ant, P)
    and (n_ant, P, 3). The carrier phasor comes from radarface.radar.profiles.unit_phasor.
    """
    inv_lambda = k_carrier / (2 * np.pi)
    n_ant, n_pts = antennas_m.shape[0], points_m.shape[0]
    carrier = np.empty((n_ant, n_pts), dtype=np.complex64)
    sqrt_cos = np.empty((n_ant, n_pts), dtype=np.float32)
    dist = np.empty((n_ant, n_pts), dtype=np.float32)
    unit = np.empty((n_ant, n_pts, 3), dtype=np.float32)
    for a in numba.prange(n_ant):
        for p in range(n_pts):
            ux = antennas_m[a, 0] - points_m[p, 0]
            uy = antennas_m[a, 1] - points_m[p, 1]
            uz = antennas_m[a, 2] - points_m[p, 2]
            d = np.sqrt(ux * ux + uy * uy + uz * uz)
            ux, uy, uz = ux / d, uy / d, uz / d
            cos = ux * normals[p, 0] + uy * normals[p, 1] + uz * normals[p, 2]
            cs, sn = unit_phasor(d, inv_lambda)  # exp(-j k d) = cs - j sn
            amp = vis[p, a] / d
            carrier[a, p] = amp * cs - 1j * (amp * sn)
            sqrt_cos[a, p] = np.sqrt(max(cos, 0.0))
            dist[a, p] = d
            unit[a, p, 0], unit[a, p, 1], unit[a, p, 2] = ux, uy, uz
    return carrier, sqrt_cos, dist, unit


def _point_weights(
    array: RadarArray, area_m2: torch.Tensor, phase_rad: torch.Tensor, reflectance: Reflectance
) -> tuple[torch.Tensor, torch.Tensor]:
    """Diffuse (complex64, random phase) and specular (float32) amplitudes per point (P,),
    material-mixed; differentiable in the areas and phases."""
    diffuse = (
        (1 - reflectance.material)
        * area_m2.sqrt()
        * torch.polar(torch.ones_like(phase_rad), phase_rad)
    )
    specular = reflectance.material * math.sqrt(4 * math.pi) * area_m2 / centre_wavelength_m(array)
    return diffuse.to(torch.complex64), specular.float()


def _point_weights_np(
    array: RadarArray, sc: MeshScatterers, reflectance: Reflectance
) -> tuple[np.ndarray, np.ndarray]:
    """`_point_weights` of numpy scatterers, as numpy arrays."""
    diffuse, specular = _point_weights(
        array, torch.as_tensor(sc.area_m2), torch.as_tensor(sc.diffuse_phase_rad), reflectance
    )
    return diffuse.numpy(), specular.numpy()


def _may_glint(
    array: RadarArray,
    points_m: np.ndarray,
    normals: np.ndarray,
    reflectance: Reflectance,
    threshold: float,
) -> np.ndarray:
    """(P,) bool: False where no TX-RX half-vector can come within the specular lobe of n.

    Every half-vector lies within the cone of directions from the point to the antennas, of
    half-angle alpha around the direction to the array centre; the lobe is below `threshold`
    beyond angle(n, h) = arccos(1 + ln(threshold) (rho / tau_min)^2).
    """
    antennas = np.concatenate([array.tx_m, array.rx_m])
    centre = antennas.mean(axis=0)
    to_centre = centre - points_m
    dist = np.linalg.norm(to_centre, axis=1)
    spread = np.linalg.norm(antennas[None, :, :] - centre, axis=2).max()
    alpha = np.arcsin(np.clip(spread / dist, 0.0, 1.0))
    normal_angle = np.arccos(np.clip(np.einsum("pd,pd->p", normals, to_centre) / dist, -1, 1))
    tau_min = 2 * np.maximum(dist - spread, 1e-6)
    cos_cut = 1 + math.log(threshold) * (reflectance.capture_radius_m / tau_min) ** 2
    lobe_angle = np.arccos(np.clip(cos_cut, -1.0, 1.0))
    return normal_angle - alpha < lobe_angle


def simulate_scatterers(
    array: RadarArray, sc: MeshScatterers, reflectance: Reflectance, specular_threshold: float
) -> np.ndarray:
    """S (n_tx, n_rx, n_freq) complex64 of sampled mesh scatterers; needs a uniform sweep."""
    if not array.is_uniform_sweep() or array.n_freq < 2:
        raise ValueError("the fast simulator needs an equidistant frequency sweep")
    if len(sc.points_m) == 0:
        return np.zeros((array.n_tx, array.n_rx, array.n_freq), dtype=np.complex64)
    n_freq = array.n_freq
    k = 2 * np.pi * array.freq_hz / SPEED_OF_LIGHT_M_S
    dk = k[1] - k[0]
    k_carrier = k[0] + (n_freq // 2) * dk  # centres the modes: m = n - n_freq // 2
    c_tx, g_tx, d_tx, u_tx = _antenna_terms(
        array.tx_m, sc.vis_tx, sc.points_m, sc.normals, k_carrier
    )
    c_rx, g_rx, d_rx, u_rx = _antenna_terms(
        array.rx_m, sc.vis_rx, sc.points_m, sc.normals, k_carrier
    )
    c_rx, g_rx, d_rx = (np.ascontiguousarray(x.T) for x in (c_rx, g_rx, d_rx))  # (P, n_rx)
    u_rx = np.ascontiguousarray(u_rx.transpose(1, 2, 0))  # (P, 3, n_rx)
    diffuse_w, specular_w = _point_weights_np(array, sc, reflectance)
    specular_points = (specular_w > 0) & _may_glint(
        array, sc.points_m, sc.normals, reflectance, specular_threshold
    )
    n_grid = _OVERSAMPLE * n_freq
    tau_lo = float((d_tx.min(axis=0) + d_rx.min(axis=1)).min())
    tau_hi = float((d_tx.max(axis=0) + d_rx.max(axis=1)).max())
    first_node, n_window = _node_window(tau_lo, tau_hi, dk, n_grid)
    grids = _spread_pairs(
        c_tx,
        c_rx,
        g_tx,
        g_rx,
        d_tx,
        d_rx,
        u_tx,
        u_rx,
        sc.normals.astype(np.float32),
        diffuse_w,
        specular_w,
        specular_points,
        reflectance.capture_radius_m,
        math.log(specular_threshold),
        dk,
        n_grid,
        first_node,
        n_window,
        _kernel_table(),
    )
    grids = _fold_window(grids, n_grid)
    return (
        grids.reshape(-1, grids.shape[2])
        @ _modes_matrix(first_node, grids.shape[2], n_freq, n_grid)
    ).reshape(array.n_tx, array.n_rx, n_freq)


def _kernel_torch(x: torch.Tensor) -> torch.Tensor:
    """`_kernel` in torch, differentiable in x (cells from the node)."""
    z2 = 1.0 - (2.0 * x / _TAPS) ** 2
    inside = z2 > 0
    return torch.where(inside, torch.exp(_BETA * (z2.clamp(min=1e-12).sqrt() - 1.0)), 0.0)


def _antenna_terms_torch(
    antennas_m: torch.Tensor,
    vis: torch.Tensor,
    points_m: torch.Tensor,
    normals: torch.Tensor,
    k_carrier: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """`_antenna_terms` in torch, (P, n_ant): carrier exp(-j k d) vis / d, sqrt(cos), d, n.u
    and the unit vectors u (P, n_ant, 3) from the points to the antennas."""
    vec = antennas_m[None, :, :] - points_m[:, None, :]
    dist = vec.norm(dim=2)
    unit = vec / dist[..., None]
    cos = (unit * normals[:, None, :]).sum(dim=2)
    sqrt_cos = torch.where(cos > 0, cos.clamp(min=1e-12).sqrt(), 0.0)
    carrier = (vis / dist) * _unit_phasor(-k_carrier * dist)
    return carrier.to(torch.complex64), sqrt_cos.float(), dist, cos.float(), unit.float()


@dataclass(frozen=True)
class _SpreadSetup:
    """What every chunk of scatterers of one torch simulation shares."""

    tx_m: torch.Tensor  # (n_tx, 3) float64
    rx_m: torch.Tensor  # (n_rx, 3) float64
    k_carrier: float  # rad/m, the modes' centre
    dk: float  # rad/m per frequency step
    n_grid: int
    first_node: int
    n_window: int
    inv_r2: float  # 1 / capture radius^2, 1/m^2
    log_threshold: float


def _spread_chunk(
    setup: _SpreadSetup,
    points: torch.Tensor,
    normals: torch.Tensor,
    vis_tx: torch.Tensor,
    vis_rx: torch.Tensor,
    diffuse_w: torch.Tensor,
    specular_w: torch.Tensor,
    glint: torch.Tensor,
) -> torch.Tensor:
    """One chunk of scatterers spread onto every pair's window: (n_tx * n_rx * n_window,)
    complex64; the per-(point, TX, RX) terms of `_spread_pairs`, as tensors."""
    c_t, g_t, d_t, cos_t, u_t = _antenna_terms_torch(
        setup.tx_m, vis_tx, points, normals, setup.k_carrier
    )
    c_r, g_r, d_r, cos_r, u_r = _antenna_terms_torch(
        setup.rx_m, vis_rx, points, normals, setup.k_carrier
    )
    tau = d_t[:, :, None] + d_r[:, None, :]  # (p, t, r), float64
    weight = diffuse_w[:, None, None] * (g_t[:, :, None] * g_r[:, None, :])
    # Bistatic lobe with h = u_t + u_r: n.h = cos_t + cos_r, |h|^2 = 2 + 2 u_t.u_r.
    n_dot_h = cos_t[:, :, None] + cos_r[:, None, :]
    h_norm = (2.0 + 2.0 * torch.bmm(u_t, u_r.transpose(1, 2))).clamp(min=1e-12).sqrt()
    log_lobe = (n_dot_h / h_norm - 1.0) * tau.float() ** 2 * setup.inv_r2
    seen = glint[:, None, None] & (n_dot_h > 0) & (log_lobe > setup.log_threshold)
    seen &= (g_t[:, :, None] > 0) & (g_r[:, None, :] > 0)
    lobe = torch.where(seen, torch.exp(log_lobe.clamp(max=0.0)), 0.0)
    v = c_t[:, :, None] * c_r[:, None, :] * (weight + specular_w[:, None, None] * lobe)
    pos = torch.remainder(tau * setup.dk, 2 * math.pi) * (setup.n_grid / (2 * math.pi))
    l0 = torch.floor(pos.detach() + _SHIFT)
    n_tx, n_rx = len(setup.tx_m), len(setup.rx_m)
    pair_offset = torch.arange(n_tx * n_rx, device=points.device).view(n_tx, n_rx)
    # (re, im) rows: index_add of real rows works on every backend, with autograd.
    grid = torch.zeros((n_tx * n_rx * setup.n_window, 2), device=points.device)
    for tap in range(_TAPS):
        node = l0 + (tap - _FIRST)
        index = pair_offset * setup.n_window + (node - setup.first_node).long()
        term = v * _kernel_torch(node - pos).float()
        grid = grid.index_add(0, index.flatten(), torch.view_as_real(term.flatten()))
    return torch.view_as_complex(grid)


def simulate_scatterers_torch(
    array: RadarArray,
    sc: MeshScatterers,
    reflectance: Reflectance,
    specular_threshold: float,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """S (n_tx, n_rx, n_freq) complex64 on `device`: `simulate_scatterers` in torch, for CUDA and
    for gradients.

    The same NUFFT (kernel, grid and window) with the kernel evaluated exactly instead of from
    its table; the fields of `sc` may be tensors, and S is differentiable in the points,
    normals, areas, diffuse phases and visibilities (the window and the glint pre-selection are
    chosen without gradients). Scatterers go in chunks of ~4M point-pair terms; with gradients
    each chunk is recomputed in the backward pass (checkpointing), so memory stays that of a
    chunk rather than of the whole face.
    """
    if not array.is_uniform_sweep() or array.n_freq < 2:
        raise ValueError("the fast simulator needs an equidistant frequency sweep")
    device = torch.device(device or "cpu")
    n_tx, n_rx, n_freq = array.n_tx, array.n_rx, array.n_freq
    if len(sc.points_m) == 0:
        return torch.zeros((n_tx, n_rx, n_freq), dtype=torch.complex64, device=device)
    f64 = {"dtype": torch.float64, "device": device}
    points = torch.as_tensor(sc.points_m, **f64)
    normals = torch.as_tensor(sc.normals, **f64)
    vis_tx = torch.as_tensor(sc.vis_tx, **f64)
    vis_rx = torch.as_tensor(sc.vis_rx, **f64)
    tx, rx = torch.as_tensor(array.tx_m, **f64), torch.as_tensor(array.rx_m, **f64)
    area, phase = torch.as_tensor(sc.area_m2, **f64), torch.as_tensor(sc.diffuse_phase_rad, **f64)
    diffuse_w, specular_w = _point_weights(array, area, phase, reflectance)
    may_glint = _may_glint(
        array,
        points.detach().cpu().numpy(),
        normals.detach().cpu().numpy(),
        reflectance,
        specular_threshold,
    )
    glint = torch.as_tensor(may_glint, device=device) & (specular_w > 0)
    k = 2 * np.pi * array.freq_hz / SPEED_OF_LIGHT_M_S
    dk = float(k[1] - k[0])
    n_grid = _OVERSAMPLE * n_freq
    with torch.no_grad():
        d_tx, d_rx = torch.cdist(points, tx), torch.cdist(points, rx)
        tau_lo = float((d_tx.min(dim=1).values + d_rx.min(dim=1).values).min())
        tau_hi = float((d_tx.max(dim=1).values + d_rx.max(dim=1).values).max())
    first_node, n_window = _node_window(tau_lo, tau_hi, dk, n_grid)
    setup = _SpreadSetup(
        tx_m=tx,
        rx_m=rx,
        k_carrier=float(k[0] + (n_freq // 2) * dk),
        dk=dk,
        n_grid=n_grid,
        first_node=first_node,
        n_window=n_window,
        inv_r2=1.0 / reflectance.capture_radius_m**2,
        log_threshold=math.log(specular_threshold),
    )
    weights = (points, normals, vis_tx, vis_rx, diffuse_w, specular_w, glint)
    grids = torch.zeros(n_tx * n_rx * setup.n_window, dtype=torch.complex64, device=device)
    chunk = max(1, 2**22 // (n_tx * n_rx))
    for start in range(0, len(points), chunk):
        part = [x[start : start + chunk] for x in weights]
        if torch.is_grad_enabled():
            grids = grids + checkpoint(_spread_chunk, setup, *part, use_reentrant=False)
        else:
            grids = grids + _spread_chunk(setup, *part)
    grids = _fold_window(grids.view(n_tx, n_rx, setup.n_window), n_grid)
    modes = _modes_matrix(setup.first_node, grids.shape[2], n_freq, n_grid)
    return (grids.reshape(-1, grids.shape[2]) @ torch.as_tensor(modes, device=device)).view(
        n_tx, n_rx, n_freq
    )


def _node_window(tau_lo_m: float, tau_hi_m: float, dk: float, n_grid: int) -> tuple[int, int]:
    """(first node, node count) of the grid nodes that the kernel can reach for path lengths
    d_tx + d_rx between tau_lo_m and tau_hi_m; the whole padded period if they span it.

    _TAPS nodes of margin on each side cover the taps' reach and the float32 rounding of the
    kernel's positions. A window that crosses the period's end takes the whole period, with the
    _TAPS nodes that the last taps reach beyond it.
    """
    node_lo = math.floor(tau_lo_m * dk * n_grid / (2 * math.pi)) - _TAPS
    node_hi = math.ceil(tau_hi_m * dk * n_grid / (2 * math.pi)) + _TAPS
    if node_lo < 0 or node_hi >= n_grid:  # wraps: the kernel reduces positions modulo n_grid
        return -_FIRST, n_grid + _TAPS
    return node_lo, node_hi - node_lo + 1


def _fold_window(grids, n_grid: int):
    """Fold the nodes of a wrapping window (n_grid + _TAPS, last axis) beyond the period onto
    its head; other windows pass unchanged. numpy arrays or torch tensors."""
    n_window = grids.shape[-1]
    if n_window <= n_grid:
        return grids
    head = grids[..., : n_window - n_grid] + grids[..., n_grid:]
    rest = grids[..., n_window - n_grid : n_grid]
    if isinstance(grids, torch.Tensor):
        return torch.cat([head, rest], dim=-1)
    return np.concatenate([head, rest], axis=-1)


def _modes_matrix(first_node: int, n_nodes: int, n_freq: int, n_grid: int) -> np.ndarray:
    """(n_nodes, n_freq) complex64: node first_node + j to mode m = n - n_freq // 2, i.e. the
    DFT exp(-2 pi j m node / n_grid) divided by the kernel's Fourier transform at m."""
    m = np.arange(n_freq) - n_freq // 2
    node = first_node + np.arange(n_nodes)
    dft = np.exp((-2j * np.pi / n_grid) * np.outer(node, m))
    return (dft / _kernel_fourier(m, n_grid)).astype(np.complex64)


def simulate_scatterers_reference(
    array: RadarArray, sc: MeshScatterers, reflectance: Reflectance
) -> np.ndarray:
    """Slow exact triple sum over points, TX, RX and frequencies, for tests on small arrays."""
    vec_t = array.tx_m[None, :, None, :] - sc.points_m[:, None, None, :]  # (P, T, 1, 3)
    vec_r = array.rx_m[None, None, :, :] - sc.points_m[:, None, None, :]  # (P, 1, R, 3)
    d_t, d_r = np.linalg.norm(vec_t, axis=3), np.linalg.norm(vec_r, axis=3)
    u_t, u_r = vec_t / d_t[..., None], vec_r / d_r[..., None]
    n = sc.normals[:, None, None, :]
    cos_t = np.clip((u_t * n).sum(3), 0, None)
    cos_r = np.clip((u_r * n).sum(3), 0, None)
    half = u_t + u_r
    cos_h = (half * n).sum(3) / np.linalg.norm(half, axis=3)
    lobe = np.exp(-(1 - cos_h) / (reflectance.capture_radius_m / (d_t + d_r)) ** 2)
    lobe = np.where((cos_t > 0) & (cos_r > 0), lobe, 0.0)
    diffuse_w, specular_w = _point_weights_np(array, sc, reflectance)
    w = diffuse_w[:, None, None] * np.sqrt(cos_t * cos_r) + specular_w[:, None, None] * lobe
    w = w * sc.vis_tx[:, :, None] * sc.vis_rx[:, None, :] / (d_t * d_r)
    k = 2 * np.pi * array.freq_hz / SPEED_OF_LIGHT_M_S
    return np.einsum("ptr,ptrf->trf", w, np.exp(-1j * k * (d_t + d_r)[..., None])).astype(
        np.complex64
    )


def add_noise(s: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Circular complex Gaussian noise at `snr_db` relative to the mean signal power of S."""
    noise_power = float(np.mean(np.abs(s) ** 2)) / 10 ** (snr_db / 10)
    noise = rng.standard_normal((2, *s.shape)) * np.sqrt(noise_power / 2)
    return (s + noise[0] + 1j * noise[1]).astype(np.complex64)


def simulate_mesh(
    array: RadarArray,
    vertices_m: np.ndarray,
    triangles: np.ndarray,
    reflectance: Reflectance | None = None,
    sampling: SamplingConfig | None = None,
    seed: int = 0,
    snr_db: float | None = None,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """S (n_tx, n_rx, n_freq) complex64 of a triangle mesh in the radar frame (metres).

    The seed fixes the surface sampling (speckle), the diffuse phases and the noise. Defaults:
    `Reflectance()` and `SamplingConfig()`. A CUDA `device` runs the simulation kernel in torch
    there (`simulate_scatterers_torch`); otherwise it runs in numba on the CPU.
    """
    reflectance = reflectance or Reflectance()
    sampling = sampling or SamplingConfig()
    rng = np.random.default_rng(seed)
    sc = mesh_scatterers(array, vertices_m, triangles, sampling, rng)
    threshold = sampling.specular_threshold
    if device is not None and torch.device(device).type == "cuda":
        s = simulate_scatterers_torch(array, sc, reflectance, threshold, device).cpu().numpy()
    else:
        s = simulate_scatterers(array, sc, reflectance, threshold)
    return s if snr_db is None else add_noise(s, snr_db, rng)
