"""Range profiles and scalar kernels shared by the back-projection paths.

For a uniform sweep f_n = f_c + (n - (N - 1) / 2) df and path length tau = d_tx + d_rx,

    sum_n S[t, r, n] exp(j 2 pi f_n tau / c) = exp(j 2 pi f_c tau / c) * P_tr(tau),
    P_tr(tau) = sum_n S[t, r, n] exp(j 2 pi (f_n - f_c) tau / c),                          (2)

where the baseband range profile P_tr is band-limited to |f_n - f_c| <= B / 2 and therefore
smooth in tau (Nyquist spacing c / (N df), about 30 mm of path for the QAR50). P is sampled once
per TX-RX pair on an oversampled tau grid covering the path lengths of a box of voxels (one
complex GEMM) and read by interpolation.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from radarface.radar.array import SPEED_OF_LIGHT_M_S, ImagingGrid, RadarArray
from radarface.resources import check_memory

#: Default profile sampling: this many samples per Nyquist interval c / (n_freq df) of path length.
DEFAULT_OVERSAMPLE = 12


def distance_range(points_m: np.ndarray, lo_m: np.ndarray, hi_m: np.ndarray) -> tuple[float, float]:
    """(min, max) distance between any point (P, 3) and the box [lo_m, hi_m] (3,) (bounds)."""
    nearest = np.linalg.norm(np.clip(points_m, lo_m, hi_m) - points_m, axis=1)
    farthest = np.linalg.norm(np.maximum(np.abs(points_m - lo_m), np.abs(points_m - hi_m)), axis=1)
    return float(nearest.min()), float(farthest.max())


def tau_axis(
    array: RadarArray, lo_m: np.ndarray, hi_m: np.ndarray, oversample: int
) -> tuple[float, float, int, float]:
    """Profile sampling (tau0_m, dtau_m, n_tau, f_c_hz) for voxels in the box [lo_m, hi_m].

    The tau grid covers every path length d_tx + d_rx a voxel of the box can have, plus two
    samples of margin on each side, at `oversample` samples per Nyquist interval c / (N df).
    """
    df = (array.freq_hz[-1] - array.freq_hz[0]) / max(array.n_freq - 1, 1)
    f_c = 0.5 * (array.freq_hz[0] + array.freq_hz[-1])
    nyquist_m = SPEED_OF_LIGHT_M_S / (array.n_freq * df) if array.n_freq > 1 else 1.0
    dtau = nyquist_m / oversample
    tx_lo, tx_hi = distance_range(array.tx_m, lo_m, hi_m)
    rx_lo, rx_hi = distance_range(array.rx_m, lo_m, hi_m)
    tau0 = tx_lo + rx_lo - 2 * dtau
    n_tau = int(math.ceil((tx_hi + rx_hi - tau0) / dtau)) + 3
    return tau0, dtau, n_tau, f_c


def grid_box(grid: ImagingGrid) -> tuple[np.ndarray, np.ndarray]:
    """Corners (lo_m, hi_m) (3,) of the box spanned by the voxel centres."""
    lo = np.array([grid.x_m.min(), grid.y_m.min(), grid.z_m.min()])
    hi = np.array([grid.x_m.max(), grid.y_m.max(), grid.z_m.max()])
    return lo, hi


def profile_matrix(
    freq_hz: np.ndarray, f_c: float, tau0: float, dtau: float, n_tau: int
) -> np.ndarray:
    """(n_freq, n_tau) complex64 E[n, k] = exp(j 2 pi (f_n - f_c) tau_k / c) of eq. (2)."""
    tau = tau0 + dtau * np.arange(n_tau)
    phase = (2 * np.pi / SPEED_OF_LIGHT_M_S) * np.outer(freq_hz - f_c, tau)  # float64 phases
    return np.exp(1j * phase).astype(np.complex64)


def range_profiles(s: np.ndarray, array: RadarArray, axis: tuple) -> np.ndarray:
    """(n_tx, n_rx, n_tau) complex64 range profiles P_tr(tau_k), eq. (2), as one GEMM."""
    tau0, dtau, n_tau, f_c = axis
    check_memory(
        8.0 * n_tau * (array.n_tx * array.n_rx + array.n_freq),  # complex64 profiles and E
        f"range profiles of {array.n_tx} x {array.n_rx} pairs over {n_tau} path lengths",
        "check the antenna positions' units (metres) and the sweep",
    )
    e = profile_matrix(array.freq_hz, f_c, tau0, dtau, n_tau)
    s2 = np.asarray(s, dtype=np.complex64).reshape(array.n_tx * array.n_rx, array.n_freq)
    return (s2 @ e).reshape(array.n_tx, array.n_rx, n_tau)


@intrinsic
def bits_as_float32(typingctx, bits):
    """Reinterpret an int32 as float32 (numba has no scalar bit cast)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@njit(fastmath=True, inline="always")
def lerp_packed(q0: np.int64, q1: np.int64, w: np.float32) -> tuple[np.float32, np.float32]:
    """(re, im) float32 at fraction w between two complex64 profile samples read as int64
    (the back-projection kernels view their range profiles so, one load per sample)."""
    re0 = bits_as_float32(np.int32(q0 & 0xFFFFFFFF))
    im0 = bits_as_float32(np.int32(q0 >> 32))
    re1 = bits_as_float32(np.int32(q1 & 0xFFFFFFFF))
    im1 = bits_as_float32(np.int32(q1 >> 32))
    return re0 + w * (re1 - re0), im0 + w * (im1 - im0)


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma), in the widest of the three float types.

    fastmath's "contract" lets LLVM fuse a product into a sum, or not, and in a sum of two
    products pick either: two compilations of one kernel can round differently, and numba runs
    one compilation where it compiled a kernel and another where it loads the kernel from its
    cache (see `_stage2` in radarface.radar.factorized). An explicit fma rounds the same in every
    compilation, as fast as a contracted one on CPUs with FMA (and exact, if slow, without).
    """
    if not all(isinstance(t, types.Float) for t in (a, b, c)):
        return None
    ty = max((a, b, c), key=lambda t: t.bitwidth)

    def codegen(context, builder, signature, args):
        args = [context.cast(builder, v, t, ty) for v, t in zip(args, signature.args, strict=True)]
        return builder.fma(*args)

    return ty(a, b, c), codegen


@njit(fastmath=True, inline="always")
def unit_phasor(d_m: float, inv_lambda_c: float) -> tuple[float, float]:
    """(cos, sin) of 2 pi d / lambda_c with plain arithmetic, so that LLVM can vectorise it.

    The phase is reduced to one turn in float64 (exact), divided by 4 (|angle| <= pi / 4), fed to
    degree-8/9 Taylor polynomials (error < 4e-7) and doubled twice (cos 2a = c^2 - s^2,
    sin 2a = 2 s c): absolute error ~1e-6, far below the float32 resolution of the kernel.
    """
    turns = d_m * inv_lambda_c
    a = (0.5 * math.pi) * (turns - math.floor(turns + 0.5))
    a2 = a * a
    c = 1.0 - a2 / 2 * (1.0 - a2 / 12 * (1.0 - a2 / 30 * (1.0 - a2 / 56)))
    s = a * (1.0 - a2 / 6 * (1.0 - a2 / 20 * (1.0 - a2 / 42 * (1.0 - a2 / 72))))
    c, s = c * c - s * s, 2.0 * s * c
    return c * c - s * s, 2.0 * s * c


@njit(fastmath=True, inline="always")
def unit_phasor_f32(d_m: np.float32, inv_lambda_c: np.float32) -> tuple[np.float32, np.float32]:
    """`unit_phasor` in float32 throughout (twice as many SIMD lanes; for table loops).

    d_m and inv_lambda_c must be float32. The phase in turns (~100 at 0.4 m and 77 GHz) keeps a
    float32 resolution of 8e-6 turns (5e-5 rad), below the kernels' float32 accumulation error.
    """
    one, half = np.float32(1.0), np.float32(0.5)
    turns = d_m * inv_lambda_c
    a = np.float32(0.5 * math.pi) * (turns - np.float32(math.floor(turns + half)))
    a2 = a * a
    # The Horner steps 1 - k a2 p and the doublings as explicit fmas: the same rounding in every
    # compilation, with or without fastmath (see `fma`).
    c = fma(-a2, np.float32(1 / 56), one)
    c = fma(-(a2 * np.float32(1 / 30)), c, one)
    c = fma(-(a2 * np.float32(1 / 12)), c, one)
    c = fma(-(a2 * half), c, one)
    s = fma(-a2, np.float32(1 / 72), one)
    s = fma(-(a2 * np.float32(1 / 42)), s, one)
    s = fma(-(a2 * np.float32(1 / 20)), s, one)
    s = a * fma(-(a2 * np.float32(1 / 6)), s, one)
    c, s = fma(c, c, -(s * s)), np.float32(2.0) * s * c
    return fma(c, c, -(s * s)), np.float32(2.0) * s * c
