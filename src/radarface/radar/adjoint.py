"""The numba simulator with a hand-written adjoint: S differentiable on the CPU at numba speed.

`simulate_scatterers_adjoint` is `simulate_scatterers_torch` (the same model, to the float32
rounding of the numba kernel) whose NUFFT spreading is a `torch.autograd.Function`: the forward
pass is the numba `_spread_pairs`, the backward pass `_adjoint_pairs`, which recomputes every
(point, TX, RX) term in float64 and contracts its derivatives with the incoming gradient at once,
instead of keeping the terms for autograd (torch's backward of the same sum reads and writes
~20 tensors of P x n_tx x n_rx values).

The term of point p for one pair (radarface.radar.reflectance, `_spread_pairs`) is

    v = A exp(-j k_c tau) B,   A = vis_t vis_r / (d_t d_r) exp(-s h^T M h),
    B = w_d g_t g_r + w_s L,   g = sqrt(max(n.u, 0)),   L = exp((n.h / |h| - 1) tau^2 / rho^2),

with d the distances to the antennas, u the unit vectors to them, h = u_t + u_r, tau = d_t + d_r,
M the facet moment and s = k_c^2 / 24 (the facet factor's two carrier terms and cross term
exp(-2 s u_t^T M u_r) combined, M being symmetric); it is spread onto the grid nodes i as
v phi(i - pos) with pos = n_grid dk tau / (2 pi) (mod n_grid). For a real loss with gradient G
on the grid nodes (torch's convention dL/dRe + j dL/dIm), Gamma = sum_i conj(G_i) phi_i and
Gamma' = sum_i conj(G_i) phi'_i give

    dL/dtheta = Re(Gamma v) dlnA/dtheta + (k_c Im(Gamma v) - a Re(Gamma' v)) dtau/dtheta
                + Re(Gamma A exp(-j k_c tau) dB/dtheta),    a = n_grid dk / (2 pi),

and with dd/dx = -u and du/dx = -(I - u u^T) / d for the point's position x the chain closes.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from radarface.radar.array import RadarArray
from radarface.radar.nufft import (
    FIRST,
    SHIFT,
    TABLE_STEPS,
    TAPS,
    kernel_slope_table,
    kernel_table,
    sweep_wavenumbers,
    window_modes,
)
from radarface.radar.reflectance import Reflectance, facet_scale_m2
from radarface.radar.scene import MeshScatterers
from radarface.radar.simulate_numba import spread_scatterers
from radarface.radar.simulate_torch import weighted_scatterers


@numba.njit(parallel=True, fastmath=True, cache=True)
def _adjoint_pairs(
    grad_grids,
    tx,
    rx,
    points,
    normals,
    vis_tx,
    vis_rx,
    diffuse_w,
    specular_w,
    specular_points,
    moments,
    facet_scale,
    k_carrier,
    dk,
    n_grid,
    first_node,
    inv_r2,
    log_threshold,
    table,
    slope_table,
):  # pragma: no cover - compiled
    """The gradients of a real loss with respect to points (P, 3), normals (P, 3), diffuse_w
    (P,) complex, specular_w (P,), moments (P, 3, 3) (or (0, 3, 3): no facets) and, per point
    (P,), the lobe's inverse squared capture radius inv_r2 = 1 / rho^2, given its
    gradient grad_grids (n_tx, n_rx, n_window) on the spread grids (see the module); the kernel
    and its slope from `kernel_table` and `kernel_slope_table`, as `_spread_pairs` reads them."""
    n_tx, n_rx, _ = grad_grids.shape
    n_pts = points.shape[0]
    facets = moments.shape[0] > 0
    g_points = np.zeros((n_pts, 3))
    g_normals = np.zeros((n_pts, 3))
    g_diffuse = np.zeros(n_pts, dtype=np.complex128)
    g_specular = np.zeros(n_pts)
    g_moments = np.zeros((moments.shape[0], 3, 3))
    g_inv_r2 = np.zeros(n_pts)
    slope = n_grid * dk / (2 * np.pi)  # grid cells per metre of path
    two_pi = 2 * np.pi
    for p in numba.prange(n_pts):
        px, py, pz = points[p, 0], points[p, 1], points[p, 2]
        nx, ny, nz = normals[p, 0], normals[p, 1], normals[p, 2]
        m00 = m01 = m02 = m11 = m12 = m22 = 0.0
        if facets:
            m00, m01, m02 = moments[p, 0, 0], moments[p, 0, 1], moments[p, 0, 2]
            m11, m12, m22 = moments[p, 1, 1], moments[p, 1, 2], moments[p, 2, 2]
        # RX side of the point: distances, unit vectors, Lambert factors.
        d_r = np.empty(n_rx)
        u_r = np.empty((n_rx, 3))
        g_r = np.empty(n_rx)
        c_r = np.empty(n_rx, dtype=np.complex128)  # vis_r exp(-j k_c d_r) / d_r
        for r in range(n_rx):
            vx, vy, vz = rx[r, 0] - px, rx[r, 1] - py, rx[r, 2] - pz
            d = math.sqrt(vx * vx + vy * vy + vz * vz)
            d_r[r] = d
            u_r[r, 0], u_r[r, 1], u_r[r, 2] = vx / d, vy / d, vz / d
            g_r[r] = math.sqrt(max((nx * vx + ny * vy + nz * vz) / d, 0.0))
            phase = k_carrier * d
            c_r[r] = vis_rx[p, r] / d * complex(math.cos(phase), -math.sin(phase))
        # Accumulated per RX over the TX: dL/dd_r and dL/du_r.
        acc_d_r = np.zeros(n_rx)
        acc_u_r = np.zeros((n_rx, 3))
        gx = gy = gz = 0.0
        gnx = gny = gnz = 0.0
        gm00 = gm01 = gm02 = gm11 = gm12 = gm22 = 0.0
        g_wd = 0.0 + 0.0j
        g_ws = 0.0
        g_r2 = 0.0
        wd, ws = diffuse_w[p], specular_w[p]
        glints = specular_points[p]
        for t in range(n_tx):
            if vis_tx[p, t] == 0:
                continue
            vx, vy, vz = tx[t, 0] - px, tx[t, 1] - py, tx[t, 2] - pz
            d_t = math.sqrt(vx * vx + vy * vy + vz * vz)
            utx, uty, utz = vx / d_t, vy / d_t, vz / d_t
            g_t = math.sqrt(max(nx * utx + ny * uty + nz * utz, 0.0))
            phase = k_carrier * d_t
            c_t = vis_tx[p, t] / d_t * complex(math.cos(phase), -math.sin(phase))
            acc_d_t = 0.0
            atx = aty = atz = 0.0
            for r in range(n_rx):
                if vis_rx[p, r] == 0:
                    continue
                urx, ury, urz, gr, dr = u_r[r, 0], u_r[r, 1], u_r[r, 2], g_r[r], d_r[r]
                hx, hy, hz = utx + urx, uty + ury, utz + urz
                tau = d_t + dr
                mhx = m00 * hx + m01 * hy + m02 * hz
                mhy = m01 * hx + m11 * hy + m12 * hz
                mhz = m02 * hx + m12 * hy + m22 * hz
                log_a = -facet_scale * (hx * mhx + hy * mhy + hz * mhz)
                carrier = c_t * c_r[r] * math.exp(log_a)  # A exp(-j k_c tau)
                b_d = g_t * gr
                lobe = log_lobe = h_norm = eta = 0.0
                if glints and g_t != 0 and gr != 0:
                    n_dot_h = nx * hx + ny * hy + nz * hz
                    h_norm = math.sqrt(hx * hx + hy * hy + hz * hz)
                    eta = n_dot_h / max(h_norm, 1e-12)
                    log_lobe = (eta - 1.0) * tau * tau * inv_r2
                    if n_dot_h > 0 and log_lobe > log_threshold:
                        lobe = math.exp(min(log_lobe, 0.0))
                v = carrier * (wd * b_d + ws * lobe)
                # Gamma and Gamma' over the taps, placed as `_spread_pairs` places them.
                theta = tau * dk
                pos = (theta - two_pi * math.floor(theta / two_pi)) * (n_grid / two_pi)
                l0 = math.floor(pos + SHIFT)
                row = int((pos - l0 + SHIFT) * TABLE_STEPS)
                gam = 0.0 + 0.0j
                gam_slope = 0.0 + 0.0j
                for k in range(TAPS):
                    gbar = grad_grids[t, r, l0 - FIRST + k - first_node]
                    conj = complex(gbar.real, -gbar.imag)
                    gam += conj * table[row, k]
                    gam_slope += conj * slope_table[row, k]
                q = gam * v
                coef_log_a = q.real  # times d ln A
                coef_tau = k_carrier * q.imag - slope * (gam_slope * v).real
                gc = gam * carrier
                coef_bd = (gc * wd).real  # times d B_d
                coef_lobe = gc.real * ws * lobe  # times d ln L, where lit
                g_wd += complex(gc.real, -gc.imag) * b_d
                g_ws += gc.real * lobe
                # dL/dh through the facet factor (d h^T M h / dh = 2 M h) and the lobe.
                ghx = -2.0 * facet_scale * coef_log_a * mhx
                ghy = -2.0 * facet_scale * coef_log_a * mhy
                ghz = -2.0 * facet_scale * coef_log_a * mhz
                if facets:
                    c = -facet_scale * coef_log_a
                    gm00 += c * hx * hx
                    gm01 += c * hx * hy
                    gm02 += c * hx * hz
                    gm11 += c * hy * hy
                    gm12 += c * hy * hz
                    gm22 += c * hz * hz
                if lobe != 0.0 and log_lobe < 0.0:
                    scale = coef_lobe * tau * tau * inv_r2 / h_norm  # d ln L / d eta / |h|
                    ghx += scale * (nx - eta * hx / h_norm)
                    ghy += scale * (ny - eta * hy / h_norm)
                    ghz += scale * (nz - eta * hz / h_norm)
                    gnx += scale * hx
                    gny += scale * hy
                    gnz += scale * hz
                    coef_tau += coef_lobe * 2.0 * (eta - 1.0) * tau * inv_r2
                    g_r2 += coef_lobe * (eta - 1.0) * tau * tau  # d ln L / d inv_r2
                # Lambert factors: dg/du = n / (2 g), dg/dn = u / (2 g).
                gutx, guty, gutz = ghx, ghy, ghz
                gurx, gury, gurz = ghx, ghy, ghz
                if b_d != 0.0:
                    ct = coef_bd * gr / (2.0 * g_t)
                    cr = coef_bd * g_t / (2.0 * gr)
                    gutx, guty, gutz = gutx + ct * nx, guty + ct * ny, gutz + ct * nz
                    gurx, gury, gurz = gurx + cr * nx, gury + cr * ny, gurz + cr * nz
                    gnx += ct * utx + cr * urx
                    gny += ct * uty + cr * ury
                    gnz += ct * utz + cr * urz
                # ln A = -ln d_t - ln d_r + ...: dL/dd = -coef_log_a / d + dL/dtau.
                acc_d_t += coef_tau - coef_log_a / d_t
                acc_d_r[r] += coef_tau - coef_log_a / dr
                atx, aty, atz = atx + gutx, aty + guty, atz + gutz
                acc_u_r[r, 0] += gurx
                acc_u_r[r, 1] += gury
                acc_u_r[r, 2] += gurz
            # dd/dx = -u, du/dx = -(I - u u^T) / d.
            along = utx * atx + uty * aty + utz * atz
            gx -= acc_d_t * utx + (atx - utx * along) / d_t
            gy -= acc_d_t * uty + (aty - uty * along) / d_t
            gz -= acc_d_t * utz + (atz - utz * along) / d_t
        for r in range(n_rx):
            ux, uy, uz = u_r[r, 0], u_r[r, 1], u_r[r, 2]
            ax, ay, az = acc_u_r[r, 0], acc_u_r[r, 1], acc_u_r[r, 2]
            along = ux * ax + uy * ay + uz * az
            gx -= acc_d_r[r] * ux + (ax - ux * along) / d_r[r]
            gy -= acc_d_r[r] * uy + (ay - uy * along) / d_r[r]
            gz -= acc_d_r[r] * uz + (az - uz * along) / d_r[r]
        g_points[p, 0], g_points[p, 1], g_points[p, 2] = gx, gy, gz
        g_normals[p, 0], g_normals[p, 1], g_normals[p, 2] = gnx, gny, gnz
        g_diffuse[p] = g_wd
        g_specular[p] = g_ws
        g_inv_r2[p] = g_r2
        if facets:
            g_moments[p, 0, 0], g_moments[p, 1, 1], g_moments[p, 2, 2] = gm00, gm11, gm22
            g_moments[p, 0, 1] = g_moments[p, 1, 0] = gm01
            g_moments[p, 0, 2] = g_moments[p, 2, 0] = gm02
            g_moments[p, 1, 2] = g_moments[p, 2, 1] = gm12
    return g_points, g_normals, g_diffuse, g_specular, g_moments, g_inv_r2


class _Spread(torch.autograd.Function):
    """The spread grids (n_tx, n_rx, n_window) complex64 of the scatterers and the window's
    (first node, n_grid): numba forward, numba adjoint (`_adjoint_pairs`); differentiable in
    the points, normals, weights, moments and the lobe's inverse squared capture radius."""

    @staticmethod
    def forward(ctx, points, normals, diffuse_w, specular_w, moments, inv_r2, constants):  # noqa: D102
        array, vis_tx, vis_rx, glints, threshold = constants
        inputs = [x.detach().cpu().numpy() for x in (points, normals, diffuse_w, specular_w)]
        inputs.append(moments.detach().cpu().numpy())
        spread = spread_scatterers(
            array, *(x.astype(np.float32) for x in inputs[:2]), vis_tx, vis_rx,
            inputs[2].astype(np.complex64), inputs[3].astype(np.float32), glints,
            inputs[4].astype(np.float32), float(inv_r2) ** -0.5, threshold,
            np.zeros((0, 3, 3), dtype=np.float32),
        )  # fmt: skip
        ctx.constants, ctx.inputs, ctx.inv_r2 = constants, inputs, float(inv_r2)
        ctx.window = (spread.first_node, spread.n_grid)
        like = (points, normals, diffuse_w, specular_w, moments, inv_r2)
        ctx.like = [(x.device, x.dtype) for x in like]
        window = torch.tensor(ctx.window)
        ctx.mark_non_differentiable(window)
        return torch.from_numpy(spread.grids), window

    @staticmethod
    def backward(ctx, grad_grids, _window):  # noqa: D102
        array, vis_tx, vis_rx, glints, threshold = ctx.constants
        points, normals, diffuse_w, specular_w, moments = ctx.inputs
        k_carrier, dk = sweep_wavenumbers(array)
        first_node, n_grid = ctx.window
        grads = _adjoint_pairs(
            grad_grids.detach().cpu().numpy().astype(np.complex128),
            np.asarray(array.tx_m, dtype=np.float64), np.asarray(array.rx_m, dtype=np.float64),
            points.astype(np.float64), normals.astype(np.float64), vis_tx, vis_rx,
            diffuse_w.astype(np.complex128), specular_w.astype(np.float64), glints,
            moments.astype(np.float64), facet_scale_m2(array), k_carrier, dk, n_grid,
            first_node, ctx.inv_r2, math.log(threshold), kernel_table().astype(np.float64),
            kernel_slope_table(),
        )  # fmt: skip
        grads = (*grads[:5], np.asarray(grads[5].sum()))  # inv_r2 is one value for all points
        grads = (torch.as_tensor(g).to(*like) for g, like in zip(grads, ctx.like, strict=True))
        return (*grads, None)


def simulate_scatterers_adjoint(
    array: RadarArray,
    sc: MeshScatterers,
    reflectance: Reflectance,
    specular_threshold: float,
) -> torch.Tensor:
    """S (n_tx, n_rx, n_freq) complex64 on the CPU: `simulate_scatterers_torch`'s model and
    gradients (points, normals, areas, facet moments, and the reflectance's material and
    antenna size where they are tensors; the visibilities and the glint selection are
    constants) through the numba kernel and its adjoint."""
    if sc.facet_offsets_m is not None:
        raise ValueError(
            "the CPU adjoint integrates facets to second order only: sample the scatterers with "
            "facet_integral='gaussian', or simulate with method='torch'"
        )
    if len(sc.points_m) == 0:
        return torch.zeros((array.n_tx, array.n_rx, array.n_freq), dtype=torch.complex64)
    cpu = torch.device("cpu")
    w = weighted_scatterers(array, sc, reflectance, specular_threshold, cpu)
    moments = torch.zeros((0, 3, 3), dtype=torch.float64) if w.moments is None else w.moments
    vis_tx, vis_rx = (np.asarray(torch.as_tensor(v), np.float32) for v in (sc.vis_tx, sc.vis_rx))
    constants = (array, vis_tx, vis_rx, w.glints, specular_threshold)
    radius = torch.as_tensor(reflectance.capture_radius_m, dtype=torch.float64)
    grids, (first_node, n_grid) = _Spread.apply(
        w.points, w.normals, w.diffuse_w, w.specular_w, moments, radius**-2, constants
    )
    return window_modes(grids, int(first_node), array.n_freq, int(n_grid))
