"""Coherent near-field MIMO SFCW simulation: scatterers -> S[tx, rx, f] (complex64).

Each scatterer p contributes (exact bistatic distances, no midpoint or monostatic approximation)

    S[t, r, f] += w_tx[p, t] * w_rx[p, r] * exp(-j 2 pi f (d_tx[p, t] + d_rx[p, r]) / c)

with amplitude weights that factor into a TX part and an RX part; spherical spreading
1 / (d_tx d_rx) is one such factorised weight. The separable form turns the sum over scatterers
into one complex matrix product per frequency, (n_tx x P) @ (P x n_rx) (`coherent_sum`, used by
`simulate_points`).

Meshes (`simulate_mesh`) become point scatterers (`radarface.radar.scene`) whose specular lobe
couples TX and RX (`radarface.radar.reflectance`): `simulate` sums them with a type-1 NUFFT
(`radarface.radar.nufft`) in numba (`radarface.radar.simulate_numba`) or torch
(`radarface.radar.simulate_torch`), or exactly (`simulate_scatterers_reference`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from radarface.arrays import is_cuda, is_tensor
from radarface.radar.array import SPEED_OF_LIGHT_M_S, RadarArray, SamplingConfig
from radarface.radar.reflectance import (
    Reflectance,
    centre_wavelength_m,
    facet_integral_np,
    facet_scale_m2,
    lambert_factor_np,
    point_weights_np,
    specular_lobe_np,
)
from radarface.radar.scene import MeshScatterers, mesh_scatterers
from radarface.radar.simulate_numba import simulate_scatterers_numba

if TYPE_CHECKING:
    import torch

_BLOCK = 8  # frequencies per matrix-product batch
_POINT_CHUNK = 2048  # scatterers per batch: keeps the (block, chunk, n_ant) phasors in cache


def _phasor_blocks(dist_m: torch.Tensor, freq_hz: torch.Tensor) -> Iterator[torch.Tensor]:
    """Yield exp(-j 2 pi f d / c) in blocks of _BLOCK frequencies, each (block, *dist.shape).

    For a uniform sweep f_n = f_0 + n df only exp(-j k_0 d) and exp(-j dk d) are evaluated; the
    rest follows by complex multiplication (after 127 complex64 steps the phase error is below
    1e-4 rad). Other sweeps evaluate every phasor directly.
    """
    import torch

    from radarface.radar.simulate_torch import unit_phasor_torch

    k = (-2 * math.pi / SPEED_OF_LIGHT_M_S) * freq_hz.double()
    dk = torch.diff(k)
    if len(k) <= 1 or not torch.allclose(dk, dk[0], rtol=1e-9, atol=0.0):
        for start in range(0, len(k), _BLOCK):
            yield unit_phasor_torch(k[start : start + _BLOCK, None, None] * dist_m)
        return
    step = unit_phasor_torch(dk[0] * dist_m)
    rows = [unit_phasor_torch(k[0] * dist_m)]
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
    import torch

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
    import torch

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


def simulate_scatterers_reference(
    array: RadarArray, sc: MeshScatterers, reflectance: Reflectance
) -> np.ndarray:
    """Slow exact triple sum over points, TX, RX and frequencies, for tests on small arrays."""
    vec_t = array.tx_m[None, :, None, :] - sc.points_m[:, None, None, :]  # (P, T, 1, 3)
    vec_r = array.rx_m[None, None, :, :] - sc.points_m[:, None, None, :]  # (P, 1, R, 3)
    d_t, d_r = np.linalg.norm(vec_t, axis=3), np.linalg.norm(vec_r, axis=3)
    u_t, u_r = vec_t / d_t[..., None], vec_r / d_r[..., None]
    n = sc.normals[:, None, None, :]
    g_t, g_r = lambert_factor_np((u_t * n).sum(3)), lambert_factor_np((u_r * n).sum(3))
    half = u_t + u_r
    n_dot_h, h_norm = (half * n).sum(3), np.linalg.norm(half, axis=3)
    inv_rho2 = 1.0 / float(reflectance.capture_radius_m) ** 2
    lobe = specular_lobe_np(n_dot_h, h_norm, d_t + d_r, inv_rho2, -math.inf, (g_t > 0) & (g_r > 0))
    diffuse_w, specular_w = point_weights_np(
        array, sc.area_m2, sc.diffuse_phase_rad, reflectance, sc.scattering
    )
    w = diffuse_w[:, None, None] * g_t * g_r + specular_w[:, None, None] * lobe
    if sc.facet_moment_m2 is not None:  # F = exp(-k_c^2 q^T M q / 24), q = u_t + u_r
        q_m_q = np.einsum("ptri,pij,ptrj->ptr", half, sc.facet_moment_m2, half)
        w = w * np.exp(-facet_scale_m2(array) * q_m_q)
    if sc.facet_offsets_m is not None:  # F = 2 g[x_0, x_1, x_2], x_i = k_c q.e_i
        k_c = 2 * np.pi / centre_wavelength_m(array)
        x = k_c * np.einsum("ptrd,pcd->ptrc", half, sc.facet_offsets_m)
        e = np.exp(1j * x)
        w = w * facet_integral_np(*(x[..., i] for i in range(3)), *(e[..., i] for i in range(3)))
    w = w * sc.vis_tx[:, :, None] * sc.vis_rx[:, None, :] / (d_t * d_r)
    k = 2 * np.pi * array.freq_hz / SPEED_OF_LIGHT_M_S
    return np.einsum("ptr,ptrf->trf", w, np.exp(-1j * k * (d_t + d_r)[..., None])).astype(
        np.complex64
    )


def _numpy_fields(sc: MeshScatterers) -> MeshScatterers:
    """sc with its tensor fields as numpy arrays (detached, on the CPU)."""
    tensors = {
        f.name: getattr(sc, f.name).detach().cpu().numpy()
        for f in dataclasses.fields(sc)
        if is_tensor(getattr(sc, f.name))
    }
    return dataclasses.replace(sc, **tensors)


def simulate(
    array: RadarArray,
    scatterers: MeshScatterers,
    reflectance: Reflectance,
    specular_threshold: float,
    *,
    method: str = "auto",
    device: str | torch.device | None = None,
) -> np.ndarray | torch.Tensor:
    """S (n_tx, n_rx, n_freq) complex64 of sampled mesh scatterers (`mesh_scatterers`).

    method: "numba" (CPU NUFFT, numpy array); "torch" (the same NUFFT in torch: a tensor on
    `device`, default the scatterers' device, differentiable in their fields, see
    `simulate_scatterers_torch`); "adjoint" (the numba NUFFT as a CPU tensor, differentiable
    in the points, normals, areas and facet moments through a hand-written adjoint, see
    `simulate_scatterers_adjoint`); "reference" (the exact, slow
    `simulate_scatterers_reference`, any frequency list; numpy array); or "auto" (torch on
    CUDA, adjoint when the scatterers' points are a CPU tensor, unless they carry exact
    facets, which the adjoint lacks: then torch; else numba). Lobe values below
    `specular_threshold` are dropped by the fast methods, which need a uniform sweep and agree
    with the reference to ~2e-4 relative RMS.
    """
    methods = ("numba", "torch", "reference", "adjoint")
    points = scatterers.points_m
    if method == "auto":
        method = "torch" if is_tensor(points) or is_cuda(device) else "numba"
        on_cpu = method == "torch" and not is_cuda(device) and points.device.type == "cpu"
        if on_cpu and scatterers.facet_offsets_m is None:
            method = "adjoint"
    if method not in methods:
        raise ValueError(f"unknown method {method!r}; use 'auto' or one of {', '.join(methods)}")
    if method == "torch":
        from radarface.radar.simulate_torch import simulate_scatterers_torch

        return simulate_scatterers_torch(array, scatterers, reflectance, specular_threshold, device)
    if method == "adjoint":
        from radarface.radar.adjoint import simulate_scatterers_adjoint

        return simulate_scatterers_adjoint(array, scatterers, reflectance, specular_threshold)
    if method == "reference":
        return simulate_scatterers_reference(array, _numpy_fields(scatterers), reflectance)
    return simulate_scatterers_numba(
        array, _numpy_fields(scatterers), reflectance, specular_threshold
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

    The seed fixes the noise and, under "speckle" scattering, the surface sampling and the
    diffuse phases (the coherent default samples no random numbers for the surface). Defaults:
    `Reflectance()` and `SamplingConfig()`. The simulation runs as `simulate(..., device=device)`
    chooses: in torch on a CUDA `device`, otherwise in numba on the CPU.
    """
    reflectance = reflectance or Reflectance()
    sampling = sampling or SamplingConfig()
    rng = np.random.default_rng(seed)
    sc = mesh_scatterers(array, vertices_m, triangles, sampling, rng)
    s = simulate(array, sc, reflectance, sampling.specular_threshold, device=device)
    s = s.cpu().numpy() if is_tensor(s) else s
    return s if snr_db is None else add_noise(s, snr_db, rng)
