"""Back-projection imaging: S[tx, rx, f] -> complex reflectivity volume V[z, y, x].

Matched filter of the simulator's model (see `radarface.radar.simulate`): for every voxel v,

    V(v) = sum_{t, r, f} S[t, r, f] exp(+j 2 pi f (d_tx(v, t) + d_rx(v, r)) / c)        (1)

with exact bistatic distances (the "delay-and-sum" / generalised synthetic-aperture focusing of
near-field MIMO imaging, e.g. Ahmed, Schiessl & Schmidt, "A Novel Fully Electronic Active
Real-Time Imager Based on a Planar Multistatic Sparse Array", IEEE T-MTT 59(12), 2011).

`backproject_reference` evaluates (1) literally. The fast paths (`backproject`) use the
factorisation, for a uniform sweep f_n = f_c + (n - (N - 1) / 2) df and path length tau,

    sum_n S[t, r, n] exp(j 2 pi f_n tau / c) = exp(j 2 pi f_c tau / c) * P_tr(tau),
    P_tr(tau) = sum_n S[t, r, n] exp(j 2 pi (f_n - f_c) tau / c),                          (2)

where the baseband range profile P_tr is band-limited to |f_n - f_c| <= B / 2 and therefore
smooth in tau (Nyquist spacing c / (N df), about 30 mm of path for the QAR50). P is sampled once
per TX-RX pair on an oversampled tau grid covering the path lengths the imaging grid can produce
(one complex GEMM), then every voxel reads it by linear interpolation at tau = d_tx + d_rx. The
carrier factor splits into a TX and an RX phasor, exp(j k_c d_tx) exp(j k_c d_rx), so

    V(v) = sum_t exp(j k_c d_tx) sum_r exp(j k_c d_rx) P_tr(d_tx + d_rx),  k_c = 2 pi f_c / c.   (3)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from radarface.arrays import is_cuda, is_tensor
from radarface.radar.array import SPEED_OF_LIGHT_M_S, ImagingGrid, RadarArray
from radarface.radar.factorized import (
    BLOCK_M,
    N_LEVELS,
    antenna_blocks,
    backproject_factorized,
    factorized_applies,
)
from radarface.radar.profiles import (
    DEFAULT_OVERSAMPLE,
    grid_box,
    lerp_packed,
    profile_matrix,
    range_profiles,
    tau_axis,
    unit_phasor,
)
from radarface.resources import check_memory

if TYPE_CHECKING:
    import torch


def _check_inputs(s: np.ndarray | torch.Tensor, array: RadarArray) -> None:
    """One-line ValueErrors for S that does not match the array or is not finite."""
    expected = (array.n_tx, array.n_rx, array.n_freq)
    if tuple(s.shape) != expected:
        raise ValueError(
            f"S has shape {tuple(s.shape)}, expected (n_tx, n_rx, n_freq) = {expected}"
        )
    finite = s.isfinite().all() if is_tensor(s) else np.isfinite(s).all()
    if not bool(finite):
        raise ValueError("S contains NaN or infinite values")


#: Bytes per voxel of a back-projection: the float32 real and imaginary volumes (8), their
#: complex64 sum (8), and the projection's float64 magnitudes, int64 indices and float32
#: temporaries (`radar.images.form_image`), with a margin; set from the resident memory measured in
#: tests/test_resources.py (the estimate must not fall below it).
_BYTES_PER_VOXEL = 56
#: Bytes per pixel and top-level sub-array of the factorised plan (float64 path lengths at the
#: grid's two ends, their sum and the coarse index ranges: `factorized.make_plan`).
_PLAN_BYTES_PER_PIXEL_BLOCK = 3 * 2 * 8


def backprojection_bytes(
    array: RadarArray, grid: ImagingGrid, oversample: int = DEFAULT_OVERSAMPLE
) -> int:
    """About the peak memory of `backproject` plus `form_image` of `array` onto `grid`, in bytes:
    the range profiles (n_tx, n_rx, n_tau) and their sampling matrix, the volume, and the
    factorised plan's per-pixel tables."""
    n_vox = len(grid.z_m) * grid.n_y * grid.n_x
    n_tau = tau_axis(array, *grid_box(grid), oversample)[2]
    pairs = array.n_tx * array.n_rx
    profiles = 8 * (pairs * (n_tau + array.n_freq) + array.n_freq * n_tau)
    plan = 0
    if factorized_applies(array, grid):
        top_m = BLOCK_M * 2 ** (N_LEVELS - 1)
        n_top = len(antenna_blocks(array.tx_m, top_m)) * len(antenna_blocks(array.rx_m, top_m))
        plan = _PLAN_BYTES_PER_PIXEL_BLOCK * n_top * grid.n_x * grid.n_y
    return profiles + _BYTES_PER_VOXEL * n_vox + plan


def check_backprojection_memory(array: RadarArray, grid: ImagingGrid, workers: int = 1) -> None:
    """One-line ResourceError when `workers` back-projections onto `grid` would not fit in
    memory, before any of it is allocated."""
    need = workers * backprojection_bytes(array, grid)
    what = f"imaging {array.n_tx} x {array.n_rx} x {array.n_freq} onto {grid.n_x} x {grid.n_y}"
    what += f" x {len(grid.z_m)} voxels" + (f" in {workers} workers" if workers > 1 else "")
    hint = "use a smaller grid (--pixels) or fewer frequencies (--freq-ghz)"
    check_memory(need, what, hint + (", or fewer workers" if workers > 1 else ""))


def _voxels_zyx(grid: ImagingGrid) -> np.ndarray:
    """(n_z, n_y, n_x, 3) voxel centres in metres, float64."""
    z, y, x = np.meshgrid(grid.z_m, grid.y_m, grid.x_m, indexing="ij")
    return np.stack([x, y, z], axis=-1)


def backproject_reference(
    s: np.ndarray, array: RadarArray, grid: ImagingGrid, voxel_chunk: int = 2048
) -> np.ndarray:
    """Exact back-projection (1), any frequency list: volume_zyx (n_z, n_y, n_x) complex128.

    s: (n_tx, n_rx, n_freq) complex. Per frequency and voxel the triple sum is the bilinear form
    e_tx(v)^T S_f e_rx(v) with e(v) = exp(+j 2 pi f d(v) / c), evaluated with one matmul per
    chunk of voxels. Slow (about n_vox * n_freq * (n_tx + n_rx) complex exponentials): a
    reference for tests and small grids.
    """
    _check_inputs(s, array)
    s = np.asarray(s, dtype=np.complex128)
    vox = _voxels_zyx(grid).reshape(-1, 3)
    out = np.empty(len(vox), dtype=np.complex128)
    for start in range(0, len(vox), voxel_chunk):
        v = vox[start : start + voxel_chunk]
        d_tx = np.linalg.norm(v[:, None, :] - array.tx_m[None], axis=-1)  # (n_v, n_tx)
        d_rx = np.linalg.norm(v[:, None, :] - array.rx_m[None], axis=-1)  # (n_v, n_rx)
        acc = np.zeros(len(v), dtype=np.complex128)
        for f_idx, f in enumerate(array.freq_hz):
            k = 2 * np.pi * f / SPEED_OF_LIGHT_M_S
            e_tx, e_rx = np.exp(1j * k * d_tx), np.exp(1j * k * d_rx)
            acc += np.einsum("vt,vt->v", e_tx @ s[:, :, f_idx], e_rx)
        out[start : start + voxel_chunk] = acc
    return out.reshape(len(grid.z_m), grid.n_y, grid.n_x)


@njit(parallel=True, fastmath=True, cache=True)
def _backproject_numba(prof_bits, tx_m, rx_m, x_m, y_m, z_m, tau0, inv_dtau, inv_lambda_c):
    """Eq. (3) on CPU: prof_bits (n_tx, n_rx, n_tau) int64 -> (re, im) (n_z, n_y, n_x) float32.

    prof_bits is the complex64 profile table viewed as int64, so that one 64-bit load (a gather
    once vectorised) fetches a whole complex sample: this halves the gathers of the inner loop,
    which is gather-bound. Parallel over voxel rows (z, y). Per row the RX distances (in profile
    samples) and RX carrier phasors are tabulated as (n_x, n_rx) float32 so that the innermost
    loop, a reduction over RX, is contiguous and free of stores (LLVM vectorises it).
    """
    n_tx, n_rx, n_x = tx_m.shape[0], rx_m.shape[0], x_m.shape[0]
    n_y, n_z, n_tau = y_m.shape[0], z_m.shape[0], prof_bits.shape[2]
    out_re = np.empty((n_z, n_y, n_x), dtype=np.float32)
    out_im = np.empty((n_z, n_y, n_x), dtype=np.float32)
    rx_offset = np.arange(n_rx).astype(np.int32) * np.int32(n_tau)  # start of pair (t, r)
    for row in prange(n_z * n_y):
        iz, iy = row // n_y, row % n_y
        y, z = y_m[iy], z_m[iz]
        u_rx = np.empty((n_x, n_rx), dtype=np.float32)
        c_rx = np.empty((n_x, n_rx), dtype=np.float32)
        s_rx = np.empty((n_x, n_rx), dtype=np.float32)
        for ix in range(n_x):
            for r in range(n_rx):
                d = math.sqrt(
                    (x_m[ix] - rx_m[r, 0]) ** 2 + (y - rx_m[r, 1]) ** 2 + (z - rx_m[r, 2]) ** 2
                )
                u_rx[ix, r] = (d - tau0) * inv_dtau
                c_rx[ix, r], s_rx[ix, r] = unit_phasor(d, inv_lambda_c)
        acc_re = np.zeros(n_x, dtype=np.float32)
        acc_im = np.zeros(n_x, dtype=np.float32)
        for t in range(n_tx):
            table = prof_bits[t].ravel()  # (n_rx * n_tau,)
            for ix in range(n_x):
                d = math.sqrt(
                    (x_m[ix] - tx_m[t, 0]) ** 2 + (y - tx_m[t, 1]) ** 2 + (z - tx_m[t, 2]) ** 2
                )
                u_tx = np.float32(d * inv_dtau)
                ur, cr, sr = u_rx[ix], c_rx[ix], s_rx[ix]
                a_re = np.float32(0.0)
                a_im = np.float32(0.0)
                for r in range(n_rx):
                    # Linear interpolation of P_tr at u = (d_tx + d_rx - tau0) / dtau.
                    u = u_tx + ur[r]
                    i = np.int32(u)
                    w = u - np.float32(i)
                    q0 = table[i + rx_offset[r]]
                    q1 = table[i + rx_offset[r] + 1]
                    v_re, v_im = lerp_packed(q0, q1, w)
                    a_re += v_re * cr[r] - v_im * sr[r]  # times the RX carrier phasor
                    a_im += v_re * sr[r] + v_im * cr[r]
                ct, st = unit_phasor(d, inv_lambda_c)  # TX carrier phasor
                acc_re[ix] += ct * a_re - st * a_im
                acc_im[ix] += ct * a_im + st * a_re
        out_re[iz, iy] = acc_re
        out_im[iz, iy] = acc_im
    return out_re, out_im


def _backproject_cpu(
    s: np.ndarray, array: RadarArray, grid: ImagingGrid, oversample: int
) -> np.ndarray:
    """Numba path of `backproject`: volume_zyx (n_z, n_y, n_x) complex64."""
    axis = tau_axis(array, *grid_box(grid), oversample)
    tau0, dtau, _, f_c = axis
    prof = np.ascontiguousarray(range_profiles(s, array, axis))
    re, im = _backproject_numba(
        prof.view(np.int64),
        array.tx_m,
        array.rx_m,
        grid.x_m,
        grid.y_m,
        grid.z_m,
        tau0,
        1.0 / dtau,
        f_c / SPEED_OF_LIGHT_M_S,
    )
    return re + 1j * im


def _cis(d_m: torch.Tensor, k_rad_per_m: float) -> torch.Tensor:
    """exp(j k d) complex64 from float64 distances (phases of ~1000 rad need float64)."""
    import torch

    phase = d_m * k_rad_per_m
    return torch.polar(torch.ones_like(phase), phase).to(torch.complex64)


def _bp_torch_chunk(
    vox: torch.Tensor,
    prof_ri: torch.Tensor,
    tx: torch.Tensor,
    rx: torch.Tensor,
    tau0: float,
    dtau: float,
    k_c: float,
) -> torch.Tensor:
    """Eq. (3) for voxels vox (n_v, 3) float64: (n_v,) complex64. prof_ri (n_tx, n_rx, n_tau, 2)."""
    import torch

    n_tx, n_rx, n_tau, _ = prof_ri.shape
    d_tx = ((vox[:, None, :] - tx[None]) ** 2).sum(-1).sqrt()  # (n_v, n_tx), exact, float64
    d_rx = ((vox[:, None, :] - rx[None]) ** 2).sum(-1).sqrt()  # (n_v, n_rx)
    u = ((d_tx[:, :, None] + d_rx[:, None, :] - tau0) / dtau).float()  # (n_v, n_tx, n_rx)
    i = u.detach().floor().clamp(0, n_tau - 2).long()
    w = (u - i)[..., None]  # differentiable in the voxel positions
    pair = torch.arange(n_tx * n_rx, device=vox.device).reshape(n_tx, n_rx) * n_tau
    flat = prof_ri.reshape(-1, 2)
    p0, p1 = flat[pair + i], flat[pair + i + 1]  # (n_v, n_tx, n_rx, 2)
    p = torch.view_as_complex((p0 + w * (p1 - p0)).contiguous())
    a = torch.einsum("vtr,vr->vt", p, _cis(d_rx, k_c))
    return torch.einsum("vt,vt->v", a, _cis(d_tx, k_c))


def backproject_torch(
    s: torch.Tensor | np.ndarray,
    array: RadarArray,
    voxels_m: torch.Tensor | np.ndarray,
    *,
    oversample: int = DEFAULT_OVERSAMPLE,
    voxel_chunk: int | None = None,
) -> torch.Tensor:
    """Differentiable eq. (3) at arbitrary voxel positions: (...,) complex64 on s's device.

    s: (n_tx, n_rx, n_freq) complex tensor (uniform sweep); voxels_m: (..., 3) metres, float64
    preferred. Gradients flow to s and to voxels_m (through the distances, the interpolation
    weights and the carrier phasors; piecewise linear in tau). Voxels are processed in chunks of
    `voxel_chunk` (default: ~64 MB of pair temporaries); with autograd on, each chunk is
    checkpointed so the backward pass recomputes it instead of storing (n_v, n_tx, n_rx) tensors.
    """
    import torch
    from torch.utils.checkpoint import checkpoint

    _check_inputs(s, array)
    _check_uniform(array)
    s = torch.as_tensor(s)
    device = s.device
    vox = torch.as_tensor(voxels_m, device=device).to(torch.float64)
    flat_vox = vox.reshape(-1, 3)
    box = flat_vox.detach().cpu().numpy()
    tau0, dtau, n_tau, f_c = tau_axis(array, box.min(0), box.max(0), oversample)
    e = torch.from_numpy(profile_matrix(array.freq_hz, f_c, tau0, dtau, n_tau)).to(device)
    s2 = s.to(torch.complex64).reshape(array.n_tx * array.n_rx, array.n_freq)
    prof_ri = torch.view_as_real(s2 @ e).reshape(array.n_tx, array.n_rx, n_tau, 2)
    tx = torch.from_numpy(array.tx_m).to(device)
    rx = torch.from_numpy(array.rx_m).to(device)
    k_c = 2 * math.pi * f_c / SPEED_OF_LIGHT_M_S
    chunk = voxel_chunk or max(1, (64 << 20) // (40 * array.n_tx * array.n_rx))
    grad = torch.is_grad_enabled() and (prof_ri.requires_grad or flat_vox.requires_grad)
    out = []
    for start in range(0, len(flat_vox), chunk):
        args = (flat_vox[start : start + chunk], prof_ri, tx, rx, tau0, dtau, k_c)
        if grad:
            out.append(checkpoint(_bp_torch_chunk, *args, use_reentrant=False))
        else:
            out.append(_bp_torch_chunk(*args))
    return torch.cat(out).reshape(vox.shape[:-1])


def _check_uniform(array: RadarArray) -> None:
    if not array.is_uniform_sweep():
        raise ValueError(
            "fast back-projection needs a uniform frequency sweep; use method='reference'"
        )


def backproject(
    s: np.ndarray | torch.Tensor,
    array: RadarArray,
    grid: ImagingGrid,
    *,
    method: str = "auto",
    device: str | torch.device | None = None,
    oversample: int = DEFAULT_OVERSAMPLE,
    voxel_chunk: int | None = None,
) -> np.ndarray | torch.Tensor:
    """Fast back-projection (3) of s (n_tx, n_rx, n_freq) onto grid: volume_zyx (n_z, n_y, n_x).

    method: "factorized" (CPU, two-level factorised back-projection of
    `radarface.radar.factorized`, about 8x faster than "numba"; needs the antennas in front of
    the grid), "numba" (CPU, direct eq. (3)), both returning complex64 numpy arrays; "torch"
    (returns a complex64 tensor on `device`, default s's device; differentiable w.r.t. s);
    "reference" (the exact, slow `backproject_reference`, any frequency list; complex128 numpy);
    or "auto" (torch when `device` is CUDA, else factorized where it applies, else numba). The
    fast methods need a uniform sweep; "numba" and "torch" agree with the reference to ~0.2%
    relative RMS at the default oversampling (linear interpolation of the range profiles sampled
    12x finer than Nyquist: 2.5 mm of path for the QAR50), "factorized" to ~0.4%.
    """
    methods = ("factorized", "numba", "torch", "reference")
    if method == "auto":
        if is_cuda(device):
            method = "torch"
        else:
            method = "factorized" if factorized_applies(array, grid) else "numba"
    if method not in methods:
        raise ValueError(f"unknown method {method!r}; use 'auto' or one of {', '.join(methods)}")
    _check_inputs(s, array)
    check_backprojection_memory(array, grid)
    if method == "reference":
        s_np = s.detach().cpu().numpy() if is_tensor(s) else s
        return backproject_reference(s_np, array, grid)
    _check_uniform(array)
    if method in ("numba", "factorized"):
        s_np = s.detach().cpu().numpy() if is_tensor(s) else s
        if method == "factorized":
            return backproject_factorized(s_np, array, grid, oversample=oversample)
        return _backproject_cpu(s_np, array, grid, oversample)
    import torch

    s_t = torch.as_tensor(s) if device is None else torch.as_tensor(s).to(device)
    vox = torch.from_numpy(_voxels_zyx(grid)).to(s_t.device)
    return backproject_torch(s_t, array, vox, oversample=oversample, voxel_chunk=voxel_chunk)
