"""The mesh simulator on the CPU: the NUFFT of `radarface.radar.nufft` spread by numba kernels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from radarface.radar.array import RadarArray
from radarface.radar.nufft import (
    FIRST,
    OVERSAMPLE,
    SHIFT,
    TABLE_STEPS,
    TAPS,
    kernel_table,
    node_window,
    sweep_wavenumbers,
    window_modes,
)
from radarface.radar.profiles import unit_phasor
from radarface.radar.reflectance import (
    Reflectance,
    exp_f32,
    facet_integral,
    facet_scale_m2,
    lambert_factor,
    may_glint,
    point_weights_np,
    specular_lobe,
)
from radarface.radar.scene import MeshScatterers


@numba.njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
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
    mu_tx,
    x_tx,
    cos_tx,
    sin_tx,
    x_rx,
    cos_rx,
    sin_rx,
    capture_radius_m,
    log_threshold,
    dk,
    n_grid,
    first_node,
    n_window,
    table,
):  # pragma: no cover - compiled
    """Grid every pair's scatterer sum: (n_tx, n_rx, n_window) complex64, window node j being
    grid node first_node + j (mod n_grid; see radarface.radar.nufft).

    Per pair and point: v = c_tx c_rx (diffuse_w g_tx g_rx + specular_w L) F, tau = d_tx + d_rx,
    with g, L and the facet factor of radarface.radar.reflectance: under the Gaussian facet
    integral its cross term F = exp(-2 mu_tx.u_rx) (mu = k_c^2 M u / 24; mu_tx of shape
    (n_tx, 0, 3): none), under the exact one F = `facet_integral` of the corner phases
    x_tx + x_rx and phasors exp(j x_tx) exp(j x_rx) (x_tx and its cos and sin (n_tx, P or 0, 3);
    x_rx, cos_rx, sin_rx (P, 3, n_rx)).
    TX-side arrays are (n_tx, P[, 3]), RX-side arrays (P, n_rx) and u_rx (P, 3, n_rx): for one
    TX and point, branch-free float32 loops over the RX compute every contribution and its grid
    position (vectorised), a last one spreads them, each RX into its own grid.
    """
    n_tx, n_pts = c_tx.shape
    n_rx = c_rx.shape[1]
    facets = mu_tx.shape[1] > 0
    exact = x_tx.shape[1] > 0
    grids = np.zeros((n_tx, n_rx, n_window), dtype=np.complex64)
    two_pi = np.float32(2.0 * np.pi)
    inv_h = np.float32(n_grid / (2.0 * np.pi))
    inv_r2 = np.float32(1.0 / capture_radius_m**2)
    log_thr = np.float32(log_threshold)
    dk32, shift, steps = np.float32(dk), np.float32(SHIFT), np.float32(TABLE_STEPS)
    for t in numba.prange(n_tx):
        grid_t = grids[t]
        v = np.empty(n_rx, dtype=np.complex64)
        base = np.empty(n_rx, dtype=np.int32)
        row = np.empty(n_rx, dtype=np.uint32)
        factor = np.ones(n_rx, dtype=np.float32)
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
                base[r] = l0 - FIRST - first_node
                row[r] = np.uint32((pos - np.float32(l0) + shift) * steps)
                v[r] = ct * c_rx[p, r] * (wt * g_rx[p, r])
            if specular_points[p] and g_tx[t, p] != 0:
                nx, ny, nz = normals[p, 0], normals[p, 1], normals[p, 2]
                ux, uy, uz = u_tx[t, p, 0], u_tx[t, p, 1], u_tx[t, p, 2]
                spec = ct * specular_w[p]
                for r in range(n_rx):  # branch-free, so that it vectorises
                    hx, hy, hz = ux + u_rx[p, 0, r], uy + u_rx[p, 1, r], uz + u_rx[p, 2, r]
                    n_dot_h = nx * hx + ny * hy + nz * hz
                    h_norm = np.sqrt(hx * hx + hy * hy + hz * hz)
                    tau, facing = dt + d_rx[p, r], g_rx[p, r] != 0
                    lobe = specular_lobe(n_dot_h, h_norm, tau, inv_r2, log_thr, facing)
                    v[r] += spec * c_rx[p, r] * lobe
            if facets:  # the facet factor's cross term exp(-2 mu_t.u_r), vectorised
                mx, my, mz = mu_tx[t, p, 0], mu_tx[t, p, 1], mu_tx[t, p, 2]
                for r in range(n_rx):
                    cross = mx * u_rx[p, 0, r] + my * u_rx[p, 1, r] + mz * u_rx[p, 2, r]
                    factor[r] = exp_f32(max(np.float32(-2.0) * cross, np.float32(-80.0)))
            if exact:  # the exact facet integral, from the corners' TX and RX phase parts
                xt, ct, st = x_tx[t, p], cos_tx[t, p], sin_tx[t, p]
                xr, cr, sr = x_rx[p], cos_rx[p], sin_rx[p]
                for r in range(n_rx):  # exp(j x) of each corner by the product of its parts
                    c0 = ct[0] * cr[0, r] - st[0] * sr[0, r]
                    s0 = ct[0] * sr[0, r] + st[0] * cr[0, r]
                    c1 = ct[1] * cr[1, r] - st[1] * sr[1, r]
                    s1 = ct[1] * sr[1, r] + st[1] * cr[1, r]
                    c2 = ct[2] * cr[2, r] - st[2] * sr[2, r]
                    s2 = ct[2] * sr[2, r] + st[2] * cr[2, r]
                    f_re, f_im = facet_integral(
                        xt[0] + xr[0, r], xt[1] + xr[1, r], xt[2] + xr[2, r], c0, s0, c1, s1, c2, s2
                    )
                    v[r] *= f_re + 1j * f_im
            for r in range(n_rx):
                taps = table[row[r]]
                g = grid_t[r]
                start, vr = np.uintp(base[r]), v[r] * factor[r]
                for k in range(np.uintp(TAPS)):
                    g[start + k] += vr * taps[k]
    return grids


@numba.njit(parallel=True, fastmath=True, cache=True)
def _antenna_terms(
    antennas_m, vis, points_m, normals, k_carrier, moments, facet_scale, offsets
):  # pragma: no cover - compiled
    """Per (antenna, point): carrier exp(-j k d) vis / d, Lambert factor g, distance d, unit
    vector u, mu = facet_scale M u of the facet moments M, and the corner phases
    x_i = k_c u.e_i of the corner offsets e_i with their cosines and sines.

    antennas_m (n_ant, 3), vis (P, n_ant), points_m and normals (P, 3), moments and offsets
    (P, 3, 3) or (0, 3, 3) (no such facets) -> arrays (n_ant, P), (n_ant, P, 3), mu (n_ant, P or
    0, 3), x, cos x and sin x (n_ant, P or 0, 3); with moments the carrier carries the
    separable part exp(-u.mu) of the Gaussian facet factor. The carrier phasor comes from
    radarface.radar.profiles.unit_phasor.
    """
    inv_lambda = k_carrier / (2 * np.pi)
    n_ant, n_pts = antennas_m.shape[0], points_m.shape[0]
    facets, exact = moments.shape[0] > 0, offsets.shape[0] > 0
    mu = np.zeros((n_ant, moments.shape[0], 3), dtype=np.float32)
    corner_x = np.zeros((n_ant, offsets.shape[0], 3), dtype=np.float32)
    corner_cos = np.zeros((n_ant, offsets.shape[0], 3), dtype=np.float32)
    corner_sin = np.zeros((n_ant, offsets.shape[0], 3), dtype=np.float32)
    carrier = np.empty((n_ant, n_pts), dtype=np.complex64)
    lambert = np.empty((n_ant, n_pts), dtype=np.float32)
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
            if facets:
                m = moments[p]
                mx = facet_scale * (m[0, 0] * ux + m[0, 1] * uy + m[0, 2] * uz)
                my = facet_scale * (m[1, 0] * ux + m[1, 1] * uy + m[1, 2] * uz)
                mz = facet_scale * (m[2, 0] * ux + m[2, 1] * uy + m[2, 2] * uz)
                mu[a, p, 0], mu[a, p, 1], mu[a, p, 2] = mx, my, mz
                amp *= np.exp(-(mx * ux + my * uy + mz * uz))
            if exact:
                for i in range(3):
                    e = offsets[p, i]
                    x = k_carrier * (ux * e[0] + uy * e[1] + uz * e[2])
                    corner_x[a, p, i] = x
                    corner_cos[a, p, i], corner_sin[a, p, i] = np.cos(x), np.sin(x)
            carrier[a, p] = amp * cs - 1j * (amp * sn)
            lambert[a, p] = lambert_factor(cos)
            dist[a, p] = d
            unit[a, p, 0], unit[a, p, 1], unit[a, p, 2] = ux, uy, uz
    return carrier, lambert, dist, unit, mu, corner_x, corner_cos, corner_sin


def facets_f32(facets: np.ndarray | None) -> np.ndarray:
    """Facet moments or corner offsets (P, 3, 3) as float32, or (0, 3, 3) for None."""
    if facets is None:
        return np.zeros((0, 3, 3), dtype=np.float32)
    return np.ascontiguousarray(facets, dtype=np.float32)


def simulate_scatterers_numba(
    array: RadarArray, sc: MeshScatterers, reflectance: Reflectance, specular_threshold: float
) -> np.ndarray:
    """S (n_tx, n_rx, n_freq) complex64 of sampled mesh scatterers (numpy fields) on the CPU;
    needs a uniform sweep."""
    if len(sc.points_m) == 0:
        return np.zeros((array.n_tx, array.n_rx, array.n_freq), dtype=np.complex64)
    diffuse_w, specular_w = point_weights_np(
        array, sc.area_m2, sc.diffuse_phase_rad, reflectance, sc.scattering
    )
    specular_points = (specular_w > 0) & may_glint(
        array, sc.points_m, sc.normals, reflectance, specular_threshold
    )
    spread = spread_scatterers(
        array, sc.points_m, sc.normals, sc.vis_tx, sc.vis_rx, diffuse_w, specular_w,
        specular_points, facets_f32(sc.facet_moment_m2), float(reflectance.capture_radius_m),
        specular_threshold, facets_f32(sc.facet_offsets_m),
    )  # fmt: skip
    return window_modes(spread.grids, spread.first_node, array.n_freq, spread.n_grid)


@dataclass(frozen=True)
class Spread:
    """The NUFFT grids of one simulation: (n_tx, n_rx, n_window) complex64, window node j being
    grid node first_node + j of n_grid (see radarface.radar.nufft)."""

    grids: np.ndarray
    first_node: int
    n_grid: int


def spread_scatterers(
    array: RadarArray,
    points_m: np.ndarray,
    normals: np.ndarray,
    vis_tx: np.ndarray,
    vis_rx: np.ndarray,
    diffuse_w: np.ndarray,
    specular_w: np.ndarray,
    specular_points: np.ndarray,
    moments: np.ndarray,
    capture_radius_m: float,
    specular_threshold: float,
    offsets: np.ndarray,
) -> Spread:
    """Spread P scatterers onto every pair's grid window (`_spread_pairs`): points and normals
    (P, 3), visibilities (P, n_tx) and (P, n_rx), weights (P,) from `point_weights_np`, the
    glinting points (P,) bool, the Gaussian facets' moments and the exact facets' corner offsets
    (each (P, 3, 3), or (0, 3, 3) where the scatterers have none)."""
    k_carrier, dk = sweep_wavenumbers(array)
    scale = facet_scale_m2(array)
    c_tx, g_tx, d_tx, u_tx, mu_tx, *corners_tx = _antenna_terms(
        array.tx_m, vis_tx, points_m, normals, k_carrier, moments, scale, offsets
    )
    c_rx, g_rx, d_rx, u_rx, _, *corners_rx = _antenna_terms(
        array.rx_m, vis_rx, points_m, normals, k_carrier, moments, scale, offsets
    )
    c_rx, g_rx, d_rx = (np.ascontiguousarray(x.T) for x in (c_rx, g_rx, d_rx))  # (P, n_rx)
    u_rx, *corners_rx = (np.ascontiguousarray(x.transpose(1, 2, 0)) for x in (u_rx, *corners_rx))
    n_grid = OVERSAMPLE * array.n_freq
    tau_lo = float((d_tx.min(axis=0) + d_rx.min(axis=1)).min())
    tau_hi = float((d_tx.max(axis=0) + d_rx.max(axis=1)).max())
    first_node, n_window = node_window(tau_lo, tau_hi, dk, n_grid)
    grids = _spread_pairs(
        c_tx,
        c_rx,
        g_tx,
        g_rx,
        d_tx,
        d_rx,
        u_tx,
        u_rx,
        np.asarray(normals, dtype=np.float32),
        diffuse_w,
        specular_w,
        specular_points,
        mu_tx,
        *corners_tx,
        *corners_rx,
        capture_radius_m,
        math.log(specular_threshold),
        dk,
        n_grid,
        first_node,
        n_window,
        kernel_table(),
    )
    return Spread(grids, first_node, n_grid)
