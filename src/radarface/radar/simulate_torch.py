"""The mesh simulator in torch, on any device and with autograd: the NUFFT of radar.nufft."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from radarface.radar.array import RadarArray
from radarface.radar.nufft import (
    FIRST,
    OVERSAMPLE,
    SHIFT,
    TAPS,
    kernel_torch,
    node_window,
    sweep_wavenumbers,
    window_modes,
)
from radarface.radar.reflectance import (
    Reflectance,
    facet_integral_torch,
    facet_scale_m2,
    lambert_factor_torch,
    may_glint,
    point_weights,
    specular_lobe_torch,
)
from radarface.radar.scene import MeshScatterers


def unit_phasor_torch(phase_rad: torch.Tensor) -> torch.Tensor:
    """exp(j phase) as complex64; the phase is reduced modulo 2 pi in float64 first."""
    reduced = torch.remainder(phase_rad.double(), 2 * math.pi).float()
    return torch.polar(torch.ones_like(reduced), reduced)


def _antenna_terms_torch(
    antennas_m: torch.Tensor,
    vis: torch.Tensor,
    points_m: torch.Tensor,
    normals: torch.Tensor,
    k_carrier: float,
    moments: torch.Tensor | None,
    facet_scale: float,
    offsets: torch.Tensor | None,
) -> tuple[torch.Tensor, ...]:
    """The numba `_antenna_terms` in torch, (P, n_ant): carrier exp(-j k d) vis / d (times
    exp(-u.mu) with Gaussian facets), Lambert factor g, d, n.u, the unit vectors u (P, n_ant, 3)
    from the points to the antennas, mu = facet_scale M u (P, n_ant, 3) or None, and the exact
    facets' corner phases k_c u.e_i (P, n_ant, 3) or None."""
    vec = antennas_m[None, :, :] - points_m[:, None, :]
    dist = vec.norm(dim=2)
    unit = vec / dist[..., None]
    cos = (unit * normals[:, None, :]).sum(dim=2)
    amp, mu = vis / dist, None
    if moments is not None:
        mu = facet_scale * torch.einsum("pij,paj->pai", moments, unit)
        amp = amp * torch.exp(-(mu * unit).sum(dim=2))
    carrier = amp * unit_phasor_torch(-k_carrier * dist)
    lambert = lambert_factor_torch(cos)
    corner_x = None if offsets is None else k_carrier * torch.einsum("pad,pcd->pac", unit, offsets)
    carrier = carrier.to(torch.complex64)
    return carrier, lambert.float(), dist, cos.float(), unit.float(), mu, corner_x


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
    facet_scale: float  # k_c^2 / 24, 1/m^2


def _spread_chunk(
    setup: _SpreadSetup,
    points: torch.Tensor,
    normals: torch.Tensor,
    vis_tx: torch.Tensor,
    vis_rx: torch.Tensor,
    diffuse_w: torch.Tensor,
    specular_w: torch.Tensor,
    glint: torch.Tensor,
    moments: torch.Tensor | None,
    offsets: torch.Tensor | None,
) -> torch.Tensor:
    """One chunk of scatterers spread onto every pair's window: (n_tx * n_rx * n_window,)
    complex64; the per-(point, TX, RX) terms of the numba `_spread_pairs`, as tensors."""
    terms = (setup.k_carrier, moments, setup.facet_scale, offsets)
    c_t, g_t, d_t, cos_t, u_t, mu_t, x_t = _antenna_terms_torch(
        setup.tx_m, vis_tx, points, normals, *terms
    )
    c_r, g_r, d_r, cos_r, u_r, _, x_r = _antenna_terms_torch(
        setup.rx_m, vis_rx, points, normals, *terms
    )
    tau = d_t[:, :, None] + d_r[:, None, :]  # (p, t, r), float64
    weight = diffuse_w[:, None, None] * (g_t[:, :, None] * g_r[:, None, :])
    # Half-vector h = u_t + u_r: n.h = cos_t + cos_r, |h|^2 = 2 + 2 u_t.u_r.
    n_dot_h = cos_t[:, :, None] + cos_r[:, None, :]
    h_norm = (2.0 + 2.0 * torch.bmm(u_t, u_r.transpose(1, 2))).clamp(min=1e-12).sqrt()
    facing = glint[:, None, None] & (g_t[:, :, None] > 0) & (g_r[:, None, :] > 0)
    lobe = specular_lobe_torch(
        n_dot_h, h_norm, tau.float(), setup.inv_r2, setup.log_threshold, facing
    )
    v = c_t[:, :, None] * c_r[:, None, :] * (weight + specular_w[:, None, None] * lobe)
    if mu_t is not None:  # the facet factor's cross term exp(-2 mu_t.u_r)
        cross = torch.bmm(mu_t.float(), u_r.transpose(1, 2))
        v = v * torch.exp((-2.0 * cross).clamp(min=-80.0))
    if x_t is not None:  # the exact facet integral of the corner phases x_t + x_r
        x = x_t[:, :, None, :] + x_r[:, None, :, :]  # (p, t, r, 3)
        v = v * facet_integral_torch(x, unit_phasor_torch(x)).to(v.dtype)
    pos = torch.remainder(tau * setup.dk, 2 * math.pi) * (setup.n_grid / (2 * math.pi))
    l0 = torch.floor(pos.detach() + SHIFT)
    n_tx, n_rx = len(setup.tx_m), len(setup.rx_m)
    pair_offset = torch.arange(n_tx * n_rx, device=points.device).view(n_tx, n_rx)
    # (re, im) rows: index_add of real rows works on every backend, with autograd.
    grid = torch.zeros((n_tx * n_rx * setup.n_window, 2), device=points.device)
    for tap in range(TAPS):
        node = l0 + (tap - FIRST)
        index = pair_offset * setup.n_window + (node - setup.first_node).long()
        term = v * kernel_torch(node - pos).float()
        grid = grid.index_add(0, index.flatten(), torch.view_as_real(term.flatten()))
    return torch.view_as_complex(grid)


@dataclass(frozen=True)
class WeightedScatterers:
    """The differentiable inputs of the spreading per scatterer, as tensors on one device."""

    points: torch.Tensor  # (P, 3) float64
    normals: torch.Tensor  # (P, 3) float64
    diffuse_w: torch.Tensor  # (P,) complex64, `point_weights`
    specular_w: torch.Tensor  # (P,) float32
    moments: torch.Tensor | None  # (P, 3, 3) float64 facet moments, None without them
    offsets: torch.Tensor | None  # (P, 3, 3) float64 exact facets' corner offsets, or None
    glints: np.ndarray  # (P,) bool: specular and within reach of the lobe (`may_glint`)


def weighted_scatterers(
    array: RadarArray,
    sc: MeshScatterers,
    reflectance: Reflectance,
    specular_threshold: float,
    device: torch.device,
) -> WeightedScatterers:
    """sc's points, normals, weights and moments as tensors on `device` (differentiable where
    sc's fields are), and the glinting points (chosen without gradients)."""
    f64 = {"dtype": torch.float64, "device": device}
    points = torch.as_tensor(sc.points_m, **f64)
    normals = torch.as_tensor(sc.normals, **f64)
    area, phase = torch.as_tensor(sc.area_m2, **f64), torch.as_tensor(sc.diffuse_phase_rad, **f64)
    diffuse_w, specular_w = point_weights(array, area, phase, reflectance, sc.scattering)
    moments, offsets = (
        None if x is None else torch.as_tensor(x, **f64)
        for x in (sc.facet_moment_m2, sc.facet_offsets_m)
    )
    glints = (specular_w.detach().cpu().numpy() > 0) & may_glint(
        array,
        points.detach().cpu().numpy(),
        normals.detach().cpu().numpy(),
        reflectance,
        specular_threshold,
    )
    return WeightedScatterers(points, normals, diffuse_w, specular_w, moments, offsets, glints)


def simulate_scatterers_torch(
    array: RadarArray,
    sc: MeshScatterers,
    reflectance: Reflectance,
    specular_threshold: float,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """S (n_tx, n_rx, n_freq) complex64 on `device` (default: that of sc's points if they are a
    tensor, else the CPU): the numba simulator in torch, for CUDA and for gradients.

    The same NUFFT (kernel, grid and window) with the kernel evaluated exactly instead of from
    its table; the fields of `sc` may be tensors, and S is differentiable in the points,
    normals, areas, diffuse phases and visibilities (the window and the glint pre-selection are
    chosen without gradients). Scatterers go in chunks of ~4M point-pair terms; with gradients
    each chunk is recomputed in the backward pass (checkpointing), so memory stays that of a
    chunk rather than of the whole face.
    """
    k_carrier, dk = sweep_wavenumbers(array)
    if device is None:
        on_tensor = isinstance(sc.points_m, torch.Tensor)
        device = sc.points_m.device if on_tensor else "cpu"
    device = torch.device(device)
    n_tx, n_rx, n_freq = array.n_tx, array.n_rx, array.n_freq
    if len(sc.points_m) == 0:
        return torch.zeros((n_tx, n_rx, n_freq), dtype=torch.complex64, device=device)
    f64 = {"dtype": torch.float64, "device": device}
    w = weighted_scatterers(array, sc, reflectance, specular_threshold, device)
    points, normals, diffuse_w, specular_w, moments = (
        w.points,
        w.normals,
        w.diffuse_w,
        w.specular_w,
        w.moments,
    )
    vis_tx = torch.as_tensor(sc.vis_tx, **f64)
    vis_rx = torch.as_tensor(sc.vis_rx, **f64)
    tx, rx = torch.as_tensor(array.tx_m, **f64), torch.as_tensor(array.rx_m, **f64)
    glint = torch.as_tensor(w.glints, device=device)
    n_grid = OVERSAMPLE * n_freq
    with torch.no_grad():
        d_tx, d_rx = torch.cdist(points, tx), torch.cdist(points, rx)
        tau_lo = float((d_tx.min(dim=1).values + d_rx.min(dim=1).values).min())
        tau_hi = float((d_tx.max(dim=1).values + d_rx.max(dim=1).values).max())
    first_node, n_window = node_window(tau_lo, tau_hi, dk, n_grid)
    setup = _SpreadSetup(
        tx_m=tx,
        rx_m=rx,
        k_carrier=k_carrier,
        dk=dk,
        n_grid=n_grid,
        first_node=first_node,
        n_window=n_window,
        inv_r2=1.0 / reflectance.capture_radius_m**2,
        log_threshold=math.log(specular_threshold),
        facet_scale=facet_scale_m2(array),
    )
    weights = (points, normals, vis_tx, vis_rx, diffuse_w, specular_w, glint, moments, w.offsets)
    grids = torch.zeros(n_tx * n_rx * n_window, dtype=torch.complex64, device=device)
    chunk = max(1, 2**22 // (n_tx * n_rx))
    for start in range(0, len(points), chunk):
        part = [None if x is None else x[start : start + chunk] for x in weights]
        if torch.is_grad_enabled():
            grids = grids + checkpoint(_spread_chunk, setup, *part, use_reentrant=False)
        else:
            grids = grids + _spread_chunk(setup, *part)
    return window_modes(grids.view(n_tx, n_rx, n_window), first_node, n_freq, n_grid)
