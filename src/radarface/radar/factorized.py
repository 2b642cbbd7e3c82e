"""Factorised back-projection: the CPU fast path of eq. (1) in `radarface.radar.imaging`.

Direct back-projection (eq. 3 there) costs one profile interpolation per voxel and TX-RX pair:
753k voxels x 8836 pairs for the default grid and the QAR50. Factorised back-projection (after
Ulander, Hellsten & Stenstroem, "Synthetic-aperture radar processing using fast factorized
back-projection", IEEE T-AES 39(3), 2003, here for a planar MIMO array) splits the array into
sub-arrays of nearby antennas, a block of TX times a block of RX, with centres c_t and c_r.
With tau_c(v) = |v - c_t| + |v - c_r| the sub-array image is

    I_b(v) = exp(j k_c tau_c(v)) J_b(v),
    J_b(v) = sum_{t, r in b} exp(j k_c (d_t + d_r - tau_c)) P_tr(d_t + d_r),               (4)

and J_b is smooth: in the coordinates (x, y, tau_c) its lateral bandwidth is about k_c a / z
(a: the sub-array's half-size; ~90 rad/m for 8 x 8 blocks of the QAR50 at 22.5 cm, against
~1000 rad/m for the full image) and along tau_c it is the range profile's baseband width pi B / c.
J_b is therefore sampled on a coarse grid: lateral points every h_lat (LATERAL_RAD_PER_SAMPLE /
lateral bandwidth), path lengths every h_tau (TAU_RAD_PER_SAMPLE / (pi B / c)); a coarse point
(x, y, tau) is the 3D point on that column with tau_c = tau.

1. Stage 1 evaluates (4) exactly, with the direct kernel, on the coarse points of the finest
   sub-arrays (BLOCK_M cells: 144 sub-arrays of 8 x 8 pairs for the QAR50).
2. Merge: each level up doubles the cells (4 children per sub-array) and halves h_lat. A parent
   point is the sum over its children of exp(j k_c (tau_child - tau_parent)) J_child
   interpolated there with 6-point interpolation, separably in x, y and tau_child: the
   least-squares optimal interpolator for the band that the sampling keeps (Laakso et al.
   1996), which at 1.6 and 1.4 rad/sample errs less than Lagrange interpolation at 1.2 and 1.1
   with 0.6x the stage-1 points.
3. Stage 2 interpolates the top level's J_b to every voxel the same way, multiplies by the
   carrier exp(j k_c tau_c(v)) and sums over sub-arrays (36 for the QAR50).

Only the coarse points that some interpolation stencil reads are computed (`make_plan` tracks
them from the image down). With N_LEVELS = 2 the three stages take about 13x less time than
direct back-projection for the QAR50, and the volume agrees with the exact reference to ~0.36%
relative RMS (the tests and `benchmarks/bench_imaging.py` measure it). Needs the antennas in
front of the grid (z_antenna < z_min of the grid) and a uniform sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from radarface.radar.array import SPEED_OF_LIGHT_M_S, ImagingGrid, RadarArray
from radarface.radar.profiles import (
    DEFAULT_OVERSAMPLE,
    fma,
    grid_box,
    lerp_packed,
    range_profiles,
    tau_axis,
    unit_phasor,
    unit_phasor_f32,
)

#: Sub-array block size of the finest level (8 elements of the QAR50's 3 mm lines).
BLOCK_M = 24e-3
#: Levels of sub-arrays: block sizes BLOCK_M * 2**i, i < N_LEVELS.
N_LEVELS = 2
#: Coarse sampling = these many radians of the signal's highest phase rate per sample (Nyquist:
#: pi); the interpolators are designed for these bands (`_interpolator_polynomials`).
LATERAL_RAD_PER_SAMPLE = 1.6
TAU_RAD_PER_SAMPLE = 1.4
#: Interpolation stencil: nodes floor(u) - 2 ... floor(u) + 3.
_LO, _HI = 2, 3
#: The fastmath flags that change no finite result (for stage 2, see the note above it).
_SAME_ROUNDING = {"nnan", "ninf", "nsz"}
_TAPS = _LO + _HI + 1


def antenna_blocks(pos_m: np.ndarray, block_m: float = BLOCK_M) -> list[np.ndarray]:
    """Indices of the antennas in each cubic cell of side block_m (cells in sorted order)."""
    cells = np.floor((pos_m - pos_m.min(axis=0)) / block_m).astype(np.int64)
    _, label = np.unique(cells, axis=0, return_inverse=True)
    return [np.flatnonzero(label.ravel() == k) for k in range(label.max() + 1)]


def factorized_applies(array: RadarArray, grid: ImagingGrid) -> bool:
    """True when every antenna is in front of the grid (z_antenna < z_min), the sweep is uniform
    and the top level's sub-arrays have an extent (an array so sparse that every top block
    holds one antenna leaves the lateral steps unbounded: the direct kernels image it)."""
    z_antennas = max(array.tx_m[:, 2].max(), array.rx_m[:, 2].max())
    in_front = z_antennas < grid.z_m[0] and array.is_uniform_sweep()
    return bool(in_front and _top_half_size(array, BLOCK_M * 2 ** (N_LEVELS - 1)) > 0)


def _top_half_size(array: RadarArray, block_m: float) -> float:
    """The largest distance of an antenna from its block's centre, blocks of block_m."""
    return max(
        np.linalg.norm(pos[b] - pos[b].mean(0), axis=1).max()
        for pos in (array.tx_m, array.rx_m)
        for b in antenna_blocks(pos, block_m)
    )


def _stencil_base(u: np.ndarray) -> np.ndarray:
    """First node floor(u) - 2 of the 6-point stencils at fractional grid positions u."""
    return np.floor(u).astype(np.int64) - _LO


@dataclass(frozen=True)
class Level:
    """One level of the factorisation: its sub-arrays and the coarse points it computes."""

    sub_tx: np.ndarray  # (n_b,) TX block of each sub-array
    sub_rx: np.ndarray  # (n_b,) RX block of each sub-array
    tx_blocks: list[np.ndarray]  # antenna indices of each TX block
    rx_blocks: list[np.ndarray]
    tx_centres_m: np.ndarray  # (n_tx_blocks, 3)
    rx_centres_m: np.ndarray  # (n_rx_blocks, 3)
    children: np.ndarray  # (n_b, n_max) sub-arrays of the level below, -1 padded; (n_b, 0) at 0
    x0_m: float  # coarse lateral grid: x0 + i * h_lat, y0 + j * h_lat
    y0_m: float
    h_lat_m: float
    n_xc: int
    n_yc: int
    tau0_m: np.ndarray  # (n_b,) coarse path-length grid of sub-array b: tau0[b] + k * h_tau
    n_tau: int
    k_lo: np.ndarray  # (n_b, n_xc, n_yc) int32: first needed tau index (k_hi < k_lo: none)
    k_hi: np.ndarray  # (n_b, n_xc, n_yc) int32: last needed tau index

    def coarse_grid(self) -> tuple[float, float, float, np.ndarray, np.ndarray, np.ndarray]:
        """x0, y0, h_lat, tau0 and the (n_b, 3) TX and RX centres of every sub-array."""
        return (
            self.x0_m,
            self.y0_m,
            self.h_lat_m,
            self.tau0_m,
            self.tx_centres_m[self.sub_tx],
            self.rx_centres_m[self.sub_rx],
        )


@dataclass(frozen=True)
class FactorizedPlan:
    """The levels, finest sub-arrays (stage 1) first, and the common path-length step."""

    levels: list[Level]
    h_tau_m: float


def _centres(pos_m: np.ndarray, blocks: list[np.ndarray]) -> np.ndarray:
    return np.array([pos_m[b].mean(0) for b in blocks])


def _parent_of(children: list[np.ndarray], parents: list[np.ndarray]) -> np.ndarray:
    """(n_children,) index of the parent block holding each (nested) child block."""
    owner = np.empty(sum(len(p) for p in parents), dtype=np.int64)
    for k, p in enumerate(parents):
        owner[p] = k
    return np.array([owner[c[0]] for c in children])


def _tau_to_k(tau_lo: np.ndarray, tau_hi: np.ndarray, h_tau: float):
    """Needed path-length intervals (n_b, n_xc, n_yc) -> tau0 (n_b,), k_lo, k_hi, n_tau.

    The indices cover the 6-point stencils of the interval ends plus one sample of margin.
    """
    valid = np.isfinite(tau_lo)
    lowest = np.where(valid, tau_lo, np.inf).reshape(len(tau_lo), -1).min(1)
    tau0 = np.where(np.isfinite(lowest), lowest, 0.0) - (_LO + 2) * h_tau
    k_lo = _stencil_base((np.where(valid, tau_lo, 0) - tau0[:, None, None]) / h_tau) - 1
    k_hi = _stencil_base((np.where(valid, tau_hi, 0) - tau0[:, None, None]) / h_tau) + _TAPS
    k_lo, k_hi = np.where(valid, k_lo, 0), np.where(valid, k_hi, -1)
    return tau0, k_lo.astype(np.int32), k_hi.astype(np.int32), int(k_hi.max()) + 1


def make_plan(
    array: RadarArray, grid: ImagingGrid, block_m: float = BLOCK_M, n_levels: int = N_LEVELS
) -> FactorizedPlan:
    """Plan the factorisation of `array` onto `grid` (geometry only; reusable for any S).

    Level i groups the antennas into cells of block_m * 2**i; its sub-arrays are the TX cell x
    RX cell products, and the children of a sub-array are the products of its sub-cells.
    """
    if not factorized_applies(array, grid):
        raise ValueError(
            "factorised back-projection needs all antennas in front of the grid, a uniform sweep "
            "and sub-arrays of more than one antenna"
        )
    blocks = [
        (antenna_blocks(array.tx_m, block_m * 2**i), antenna_blocks(array.rx_m, block_m * 2**i))
        for i in range(n_levels)
    ]
    half_size = _top_half_size(array, block_m * 2 ** (n_levels - 1))
    f_c = 0.5 * (array.freq_hz[0] + array.freq_hz[-1])
    k_c = 2 * math.pi * f_c / SPEED_OF_LIGHT_M_S
    z_near = grid.z_m[0] - max(array.tx_m[:, 2].max(), array.rx_m[:, 2].max())
    # A sub-array of half-size a adds a lateral phase rate of up to k_c a / z (eq. 4); each level
    # down halves the sub-arrays and doubles the coarse step, keeping the grids nested.
    h_top = LATERAL_RAD_PER_SAMPLE / max(k_c * half_size / z_near, 1e-9)
    bandwidth = array.freq_hz[-1] - array.freq_hz[0]
    h_tau = TAU_RAD_PER_SAMPLE / (math.pi * max(bandwidth, 1.0) / SPEED_OF_LIGHT_M_S)

    # Lateral grids, top first: each level's origin lies 3 steps before the first point that
    # the level above (or the image) interpolates from it.
    x, y = grid.x_m, grid.y_m
    lateral = []
    lo_x, hi_x, lo_y, hi_y = x.min(), x.max(), y.min(), y.max()
    for i in reversed(range(n_levels)):
        h = h_top * 2 ** (n_levels - 1 - i)
        x0, y0 = lo_x - 3 * h, lo_y - 3 * h
        n_xc = int(math.ceil((hi_x - x0) / h)) + 4
        n_yc = int(math.ceil((hi_y - y0) / h)) + 4
        lateral.insert(0, (x0, y0, h, n_xc, n_yc))
        lo_x, lo_y, hi_x, hi_y = x0, y0, x0 + (n_xc - 1) * h, y0 + (n_yc - 1) * h

    geometry = []
    for i, (tx_blocks, rx_blocks) in enumerate(blocks):
        sub_tx, sub_rx = (
            g.ravel()
            for g in np.meshgrid(
                np.arange(len(tx_blocks)), np.arange(len(rx_blocks)), indexing="ij"
            )
        )
        children = np.zeros((len(sub_tx), 0), dtype=np.int64)
        if i:
            tx_child, rx_child = blocks[i - 1]
            parent_t = _parent_of(tx_child, tx_blocks)
            parent_r = _parent_of(rx_child, rx_blocks)
            kids = [
                [
                    t * len(rx_child) + r
                    for t in np.flatnonzero(parent_t == st)
                    for r in np.flatnonzero(parent_r == sr)
                ]
                for st, sr in zip(sub_tx, sub_rx, strict=True)
            ]
            children = np.full((len(kids), max(map(len, kids))), -1, dtype=np.int64)
            for k, kid in enumerate(kids):
                children[k, : len(kid)] = kid
        tx_c, rx_c = _centres(array.tx_m, tx_blocks), _centres(array.rx_m, rx_blocks)
        geometry.append((sub_tx, sub_rx, tx_blocks, rx_blocks, tx_c, rx_c, children))

    # Needed path-length intervals, top down: the image's columns need the top level's points
    # between z_min and z_max; each level's points need their children's points on the same
    # 3D segments (tau_c is monotone in z on a column).
    sub_tx, sub_rx, _, _, tx_c, rx_c, _ = geometry[-1]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    ends = np.stack([np.stack([xx, yy, np.full_like(xx, z)], -1) for z in grid.z_m[[0, -1]]])

    def dist(c: np.ndarray) -> np.ndarray:
        return np.linalg.norm(ends[None] - c[:, None, None, None, :], axis=-1)

    tau_ends = dist(tx_c)[sub_tx] + dist(rx_c)[sub_rx]  # (n_b, 2, n_y, n_x)
    x0, y0, h, n_xc, n_yc = lateral[-1]
    tau_lo, tau_hi = _spread_ranges(
        tau_ends[:, 0],
        tau_ends[:, 1],
        _stencil_base((x - x0) / h),
        _stencil_base((y - y0) / h),
        n_xc,
        n_yc,
    )
    levels: list[Level] = []
    for i in reversed(range(n_levels)):
        sub_tx, sub_rx, tx_blocks, rx_blocks, tx_c, rx_c, children = geometry[i]
        tau0, k_lo, k_hi, n_tau = _tau_to_k(tau_lo, tau_hi, h_tau)
        x0, y0, h, n_xc, n_yc = lateral[i]
        levels.insert(
            0,
            Level(
                sub_tx,
                sub_rx,
                tx_blocks,
                rx_blocks,
                tx_c,
                rx_c,
                children,
                x0,
                y0,
                h,
                n_xc,
                n_yc,
                tau0,
                n_tau,
                k_lo,
                k_hi,
            ),
        )
        if i:
            c_tx, c_rx, _, _, c_tx_c, c_rx_c, _ = geometry[i - 1]
            cx0, cy0, ch, cn_x, cn_y = lateral[i - 1]
            seg_lo, seg_hi = _child_ranges(
                tx_c[sub_tx],
                rx_c[sub_rx],
                x0,
                y0,
                h,
                tau0,
                h_tau,
                k_lo,
                k_hi,
                children,
                c_tx_c[c_tx],
                c_rx_c[c_rx],
            )
            tau_lo, tau_hi = _spread_ranges(
                seg_lo,
                seg_hi,
                _stencil_base((x0 + h * np.arange(n_xc) - cx0) / ch),
                _stencil_base((y0 + h * np.arange(n_yc) - cy0) / ch),
                cn_x,
                cn_y,
            )
    return FactorizedPlan(levels, h_tau)


@njit(cache=True)
def _spread_ranges(tau_lo, tau_hi, jx, jy, n_xc, n_yc):
    """Needed path-length intervals of coarse points: (n_b, n_xc, n_yc) min of tau_lo and max
    of tau_hi over the consumer columns (tau_*: (n_b, n_y, n_x), inf where none) whose 6 x 6
    lateral stencil (first nodes jx (n_x,), jy (n_y,)) covers them."""
    n_b, n_y, n_x = tau_lo.shape
    lo = np.full((n_b, n_xc, n_yc), np.inf)
    hi = np.full((n_b, n_xc, n_yc), -np.inf)
    for b in range(n_b):
        for iy in range(n_y):
            for ix in range(n_x):
                if not np.isfinite(tau_lo[b, iy, ix]):
                    continue
                for mx in range(_TAPS):
                    for my in range(_TAPS):
                        cx, cy = jx[ix] + mx, jy[iy] + my
                        lo[b, cx, cy] = min(lo[b, cx, cy], tau_lo[b, iy, ix])
                        hi[b, cx, cy] = max(hi[b, cx, cy], tau_hi[b, iy, ix])
    return lo, hi


@njit(cache=True)
def _child_ranges(ct, cr, x0, y0, h, tau0, h_tau, k_lo, k_hi, children, c_ct, c_cr):
    """Path lengths (n_children_total, n_y, n_x) (inf where none) of each child sub-array at the
    ends of its parent's needed segments; ct, cr: (n_b, 3) parent centres, c_ct, c_cr children's."""
    n_b, n_x, n_y = k_lo.shape
    n_child = c_ct.shape[0]
    lo = np.full((n_child, n_y, n_x), np.inf)
    hi = np.full((n_child, n_y, n_x), np.inf)
    for p in range(n_b):
        for ix in range(n_x):
            for iy in range(n_y):
                if k_hi[p, ix, iy] < k_lo[p, ix, iy]:
                    continue
                x, y = x0 + ix * h, y0 + iy * h
                t_lo, t_hi = tau0[p] + k_lo[p, ix, iy] * h_tau, tau0[p] + k_hi[p, ix, iy] * h_tau
                z_hi = _solve_z(x, y, t_hi, ct[p], cr[p], 0.5 * t_hi)
                if z_hi < 0:
                    continue
                z_lo = _solve_z(x, y, t_lo, ct[p], cr[p], 0.5 * t_lo)
                if z_lo < 0:
                    z_lo = max(ct[p, 2], cr[p, 2]) + 1e-6
                for c in children[p]:
                    if c < 0:
                        break
                    lo[c, iy, ix] = _path(x, y, z_lo, c_ct[c], c_cr[c])
                    hi[c, iy, ix] = _path(x, y, z_hi, c_ct[c], c_cr[c])
    return lo, hi


@njit(fastmath=True, inline="always")
def _path(x, y, z, ct, cr):
    """|p - ct| + |p - cr| at p = (x, y, z)."""
    return math.sqrt((x - ct[0]) ** 2 + (y - ct[1]) ** 2 + (z - ct[2]) ** 2) + math.sqrt(
        (x - cr[0]) ** 2 + (y - cr[1]) ** 2 + (z - cr[2]) ** 2
    )


def _interpolator_polynomials(omega: float) -> tuple[tuple[float, ...], ...]:
    """The 6 weights (nodes -2 ... 3) of the least-squares optimal interpolator for signals
    band-limited to |w| <= omega rad/sample, as degree-6 polynomials in the offset t in [0, 1)
    (lowest coefficient first).

    Minimising int_{-omega}^{omega} |sum_m w_m exp(j w (m - t)) - 1|^2 dw over the weights gives
    G w = b(t) with G_mn = sinc(omega (m - n)) and b_m = sinc(omega (m - t)) (unnormalised sinc;
    the least-squares fractional-delay filter of Laakso et al., "Splitting the unit delay", IEEE
    Signal Processing Magazine 13(1), 1996). Against Lagrange interpolation at the same sampling
    it has a tenth of the error near the band edge. The weights are smooth in t; the fits are
    within 3e-6 of them.
    """
    nodes = np.arange(-_LO, _HI + 1)
    t = np.linspace(0.0, 1.0, 257)
    gram = np.sinc(omega / np.pi * (nodes[:, None] - nodes[None, :]))
    weights = np.linalg.solve(gram, np.sinc(omega / np.pi * (nodes[:, None] - t[None, :])))
    coefficients = np.polynomial.polynomial.polyfit(t, weights.T, 6).T  # (6 nodes, 7)
    return tuple(tuple(float(c) for c in node) for node in coefficients)


def _abs_weight_sum(polys: tuple[tuple[float, ...], ...]) -> float:
    """Largest sum of the absolute weights over the offsets (the interpolator's gain bound)."""
    t = np.linspace(0.0, 1.0, 1025)
    return float(sum(np.abs(np.polynomial.polynomial.polyval(t, c)) for c in polys).max() + 1e-3)


_LATERAL_POLYS = _interpolator_polynomials(LATERAL_RAD_PER_SAMPLE)
_TAU_POLYS = _interpolator_polynomials(TAU_RAD_PER_SAMPLE)


@njit(fastmath=True, inline="always")
def _horner(c, t):
    """c[0] + c[1] t + ... + c[6] t^6 (float32 coefficients: a float32 t stays float32)."""
    acc = np.float32(c[6])
    for d in (5, 4, 3, 2, 1, 0):
        acc = fma(acc, t, np.float32(c[d]))
    return acc


@njit(fastmath=True, inline="always")
def _weights6(polys, t):
    """The interpolator's weights of the nodes -2 ... 3 at offset t in [0, 1)."""
    return (
        _horner(polys[0], t),
        _horner(polys[1], t),
        _horner(polys[2], t),
        _horner(polys[3], t),
        _horner(polys[4], t),
        _horner(polys[5], t),
    )


@njit(fastmath=True, inline="always")
def _interp6(col_re, col_im, row, u):
    """(re, im) of column `row` of (n_rows, n) arrays at fractional index u >= _LO (the
    path-length interpolator)."""
    i = np.int32(u)
    w0, w1, w2, w3, w4, w5 = _weights6(_TAU_POLYS, u - np.float32(i))
    i = np.uintp(i - _LO)  # unsigned: no negative-index wraparound in the loads
    re, im = w0 * col_re[row, i], w0 * col_im[row, i]  # then fmas, in a fixed order
    re, im = fma(w1, col_re[row, i + 1], re), fma(w1, col_im[row, i + 1], im)
    re, im = fma(w2, col_re[row, i + 2], re), fma(w2, col_im[row, i + 2], im)
    re, im = fma(w3, col_re[row, i + 3], re), fma(w3, col_im[row, i + 3], im)
    re, im = fma(w4, col_re[row, i + 4], re), fma(w4, col_im[row, i + 4], im)
    re, im = fma(w5, col_re[row, i + 5], re), fma(w5, col_im[row, i + 5], im)
    return re, im


@njit(fastmath=True, inline="always")
def _solve_z(x, y, tau, ct, cr, z_start):
    """z > max(ct_z, cr_z) with |p - ct| + |p - cr| = tau at p = (x, y, z); -1 if there is none.

    With equal centre heights z_c and a = |p - ct|, b = |p - cr|: a + b = tau and
    a^2 - b^2 = at - ar (lateral squared distances) give a = (tau + (at - ar) / tau) / 2 and
    z = z_c + sqrt(a^2 - at). Otherwise Newton from z_start.
    """
    at = (x - ct[0]) ** 2 + (y - ct[1]) ** 2
    ar = (x - cr[0]) ** 2 + (y - cr[1]) ** 2
    z_min = max(ct[2], cr[2])
    if math.sqrt(at + (z_min - ct[2]) ** 2) + math.sqrt(ar + (z_min - cr[2]) ** 2) >= tau:
        return -1.0
    if ct[2] == cr[2]:
        a = 0.5 * (tau + (at - ar) / tau)
        return ct[2] + math.sqrt(max(a * a - at, 0.0))
    z = max(z_start, z_min + 1e-3)
    for _ in range(30):
        dt = math.sqrt(at + (z - ct[2]) ** 2)
        dr = math.sqrt(ar + (z - cr[2]) ** 2)
        step = (dt + dr - tau) / ((z - ct[2]) / dt + (z - cr[2]) / dr)
        z = max(z - step, 0.5 * (z + z_min))
        if abs(step) < 1e-10:
            break
    return z


@njit(fastmath=True, inline="always")
def _column_depths(x, y, tau0, h_tau, lo, hi, ct, cr, z):
    """z[k] = _solve_z at tau0 + k h_tau for k in [lo, hi); returns the first k that exists.

    The points that exist form a suffix (tau grows with z). With equal centre heights (planar
    arrays) the closed form is evaluated in a loop without dependencies, which LLVM vectorises.
    """
    if ct[2] != cr[2]:
        z_prev, first = -1.0, hi
        for k in range(lo, hi):
            tau = tau0 + k * h_tau
            z[k] = _solve_z(x, y, tau, ct, cr, z_prev if z_prev > 0 else 0.5 * tau)
            z_prev = z[k]
            if z[k] > 0 and first == hi:
                first = k
        return first
    at = (x - ct[0]) ** 2 + (y - ct[1]) ** 2
    ar = (x - cr[0]) ** 2 + (y - cr[1]) ** 2
    reach = math.sqrt(at) + math.sqrt(ar)  # shortest path through the column
    missing = 0
    for k in range(lo, hi):
        tau = tau0 + k * h_tau
        a = 0.5 * (tau + (at - ar) / tau)
        z[k] = ct[2] + math.sqrt(max(a * a - at, 0.0)) if reach < tau else -1.0
        missing += reach >= tau
    return lo + missing


@njit(parallel=True, fastmath=True, cache=True)
def _stage1(
    prof_bits,
    n_rx_all,
    tx_m,
    rx_m,
    tx_idx,
    tx_off,
    rx_idx,
    rx_off,
    sub_tx,
    sub_rx,
    tx_c,
    rx_c,
    x0,
    y0,
    h_lat,
    tau0_sub,
    h_tau,
    k_lo,
    k_hi,
    n_tau,
    tau0_prof,
    inv_dtau,
    inv_lambda_c,
):
    """Eq. (4) on the coarse points: (re, im) (n_b, n_xc, n_yc, n_tau) float32.

    prof_bits: (n_tx * n_rx * n_tau_prof,) complex64 range profiles viewed as int64 (one
    64-bit load per complex sample, as in the direct kernel). Parallel over (sub-array, x);
    per coarse column the TX and RX paths and phasors of all its points are tabulated first as
    (point, antenna), then each point sums its pairs like the direct kernel: the innermost loop
    over RX is a reduction into scalars, which LLVM vectorises with gathers (a loop that stores
    to an array while gathering from the profiles does not vectorise: they might alias).
    """
    n_b, n_xc, n_yc = k_lo.shape
    n_prof = prof_bits.shape[0] // (tx_m.shape[0] * n_rx_all)
    j_re = np.zeros((n_b, n_xc, n_yc, n_tau), dtype=np.float32)
    j_im = np.zeros((n_b, n_xc, n_yc, n_tau), dtype=np.float32)
    for job in prange(n_b * n_xc):
        b, ix = job // n_xc, job % n_xc
        ts = tx_idx[tx_off[sub_tx[b]] : tx_off[sub_tx[b] + 1]]
        rs = rx_idx[rx_off[sub_rx[b]] : rx_off[sub_rx[b] + 1]]
        ct, cr = tx_c[sub_tx[b]], rx_c[sub_rx[b]]
        n_r, n_t = len(rs), len(ts)
        z = np.empty(n_tau)
        roff = rs * n_prof
        toff = ts * (n_rx_all * n_prof)
        # Per-antenna tables, (point k, antenna): path in profile samples and phasor.
        u_r = np.empty((n_tau, n_r), dtype=np.float32)
        c_r = np.empty((n_tau, n_r), dtype=np.float32)
        s_r = np.empty((n_tau, n_r), dtype=np.float32)
        u_t = np.empty((n_tau, n_t), dtype=np.float32)
        c_t = np.empty((n_tau, n_t), dtype=np.float32)
        s_t = np.empty((n_tau, n_t), dtype=np.float32)
        lat_r, z_r = np.empty(n_r, dtype=np.float32), np.empty(n_r, dtype=np.float32)
        lat_t, z_t = np.empty(n_t, dtype=np.float32), np.empty(n_t, dtype=np.float32)
        for i in range(n_r):
            z_r[i] = rx_m[rs[i], 2]
        for m in range(n_t):
            z_t[m] = tx_m[ts[m], 2]
        u_max = np.float32(n_prof - 2)
        tau0_prof32, inv_dtau32 = np.float32(tau0_prof), np.float32(inv_dtau)
        inv_lambda32 = np.float32(inv_lambda_c)
        x = x0 + ix * h_lat
        for iy in range(n_yc):
            y = y0 + iy * h_lat
            lo, hi = k_lo[b, ix, iy], k_hi[b, ix, iy] + 1
            if hi <= lo:
                continue
            # Keep the points that exist (tau_c reachable in front of the array) as [lo, hi).
            lo = _column_depths(x, y, tau0_sub[b], h_tau, lo, hi, ct, cr, z)
            for i in range(n_r):
                lat_r[i] = (x - rx_m[rs[i], 0]) ** 2 + (y - rx_m[rs[i], 1]) ** 2
            for m in range(n_t):
                lat_t[m] = (x - tx_m[ts[m], 0]) ** 2 + (y - tx_m[ts[m], 1]) ** 2
            # RX: path in profile samples and carrier phasor; TX: path and phasor demodulated
            # by tau_c (float32, vectorised over the antennas).
            for k in range(np.uintp(lo), np.uintp(hi)):
                z32, tau32 = np.float32(z[k]), np.float32(tau0_sub[b] + k * h_tau)
                for i in range(n_r):
                    d = np.sqrt(lat_r[i] + (z32 - z_r[i]) ** 2)
                    u_r[k, i] = (d - tau0_prof32) * inv_dtau32
                    c_r[k, i], s_r[k, i] = unit_phasor_f32(d, inv_lambda32)
                for m in range(n_t):
                    d = np.sqrt(lat_t[m] + (z32 - z_t[m]) ** 2)
                    u_t[k, m] = d * inv_dtau32
                    c_t[k, m], s_t[k, m] = unit_phasor_f32(d - tau32, inv_lambda32)
            for k in range(np.uintp(lo), np.uintp(hi)):
                acc_re, acc_im = np.float32(0.0), np.float32(0.0)
                for m in range(n_t):
                    a_re, a_im = np.float32(0.0), np.float32(0.0)
                    for i in range(np.uintp(n_r)):  # a reduction: vectorised, with gathers
                        # Linear interpolation of P_tr at u = (d_tx + d_rx - tau0) / dtau.
                        u = min(max(u_t[k, m] + u_r[k, i], np.float32(0.0)), u_max)
                        j = np.int32(u)
                        w = u - np.float32(j)
                        q = np.uintp(toff[m] + roff[i] + j)
                        q0 = prof_bits[q]
                        q1 = prof_bits[q + np.uintp(1)]
                        v_re, v_im = lerp_packed(q0, q1, w)
                        a_re += v_re * c_r[k, i] - v_im * s_r[k, i]  # times the RX phasor
                        a_im += v_re * s_r[k, i] + v_im * c_r[k, i]
                    c, s = c_t[k, m], s_t[k, m]  # times the TX phasor
                    acc_re += c * a_re - s * a_im
                    acc_im += c * a_im + s * a_re
                j_re[b, ix, iy, k] = acc_re
                j_im[b, ix, iy, k] = acc_im
    return j_re, j_im


@njit(parallel=True, fastmath=True, cache=True)
def _merge(
    c_re,
    c_im,
    cx0,
    cy0,
    ch,
    c_tau0,
    c_ct,
    c_cr,
    x0,
    y0,
    h,
    tau0,
    ct,
    cr,
    k_lo,
    k_hi,
    n_tau,
    children,
    h_tau,
    inv_lambda_c,
):
    """One level up: J_p = sum over children c of exp(j k_c (tau_c - tau_p)) J_c, eq. (4).

    c_re, c_im: (n_c, n_xc, n_yc, n_tau_c) children's coarse points; c_ct, c_cr: (n_c, 3)
    and ct, cr: (n_p, 3) sub-array centres. Each parent point (x, y, tau_p) is the 3D point with
    tau_p = |p - ct| + |p - cr|; the child's J is interpolated there (6 points, x then y then
    tau_c). Parallel over (parent, x); returns (re, im) (n_p, n_x, n_y, n_tau) float32.
    """
    n_p, n_x, n_y = k_lo.shape
    n_yc, n_tau_c = c_re.shape[2], c_re.shape[3]
    out_re = np.zeros((n_p, n_x, n_y, n_tau), dtype=np.float32)
    out_im = np.zeros((n_p, n_x, n_y, n_tau), dtype=np.float32)
    for job in prange(n_p * n_x):
        p, ix = job // n_x, job % n_x
        x = x0 + ix * h
        u = (x - cx0) / ch
        jx = int(math.floor(u))
        wx = _weights6(_LATERAL_POLYS, u - jx)
        jx = np.uintp(jx - _LO)
        # The parent points' depths, shared by the children: z[iy, k] on [first[iy], hi).
        z = np.empty((n_y, n_tau))
        first = np.empty(n_y, dtype=np.int64)
        for iy in range(n_y):
            lo, hi = k_lo[p, ix, iy], k_hi[p, ix, iy] + 1
            first[iy] = hi
            if hi > lo:
                first[iy] = _column_depths(
                    x, y0 + iy * h, tau0[p], h_tau, lo, hi, ct[p], cr[p], z[iy]
                )
        u_c = np.empty(n_tau)
        phase = np.empty(n_tau)
        t_re = np.empty((n_yc, n_tau_c), dtype=np.float32)
        t_im = np.empty((n_yc, n_tau_c), dtype=np.float32)
        col_re = np.empty((1, n_tau_c), dtype=np.float32)  # one row, for _interp6
        col_im = np.empty((1, n_tau_c), dtype=np.float32)
        for c in children[p]:
            if c < 0:
                break
            # x-interpolation of the child's points, once for all its y nodes and tau samples.
            t_re[:] = 0.0
            t_im[:] = 0.0
            for m in range(_TAPS):
                w = np.float32(wx[m])
                if w == 0:
                    continue
                for iyc in range(n_yc):
                    for k in range(n_tau_c):
                        t_re[iyc, k] += w * c_re[c, jx + m, iyc, k]
                        t_im[iyc, k] += w * c_im[c, jx + m, iyc, k]
            for iy in range(n_y):
                hi = k_hi[p, ix, iy] + 1
                if first[iy] >= hi:
                    continue
                y = y0 + iy * h
                u_min, u_max = np.inf, -np.inf
                for k in range(np.uintp(first[iy]), np.uintp(hi)):
                    tau_c = _path(x, y, z[iy, k], c_ct[c], c_cr[c])
                    u_c[k] = (tau_c - c_tau0[c]) / h_tau
                    phase[k] = tau_c - (tau0[p] + k * h_tau)
                    u_min, u_max = min(u_min, u_c[k]), max(u_max, u_c[k])
                k_first = int(math.floor(u_min)) - _LO
                k_last = int(math.floor(u_max)) + _HI
                v = (y - cy0) / ch
                jy = int(math.floor(v))
                wy = _weights6(_LATERAL_POLYS, v - jy)
                jy = np.uintp(jy - _LO)
                for k in range(np.uintp(k_first), np.uintp(k_last + 1)):
                    col_re[0, k] = 0.0
                    col_im[0, k] = 0.0
                for m in range(_TAPS):
                    w = np.float32(wy[m])
                    if w == 0:
                        continue
                    for k in range(np.uintp(k_first), np.uintp(k_last + 1)):
                        col_re[0, k] += w * t_re[jy + m, k]
                        col_im[0, k] += w * t_im[jy + m, k]
                for k in range(np.uintp(first[iy]), np.uintp(hi)):
                    v_re, v_im = _interp6(col_re, col_im, 0, u_c[k])
                    cs, sn = unit_phasor(phase[k], inv_lambda_c)  # exp(j k_c (tau_c - tau_p))
                    out_re[p, ix, iy, k] += cs * v_re - sn * v_im
                    out_im[p, ix, iy, k] += cs * v_im + sn * v_re
    return out_re, out_im


# The code compiled in this process and the code numba loads from its cache must give
# bit-identical volumes (else a resumed dataset no longer matches a fresh one), and they are two
# different compilations: numba runs a prange body from the library it compiled it into, but
# caches the copy linked into the kernel's own module, which LLVM optimised a second time (see
# docs/radar.md). Every optional rewrite that fastmath allows may go either way in the two:
# "reassoc" the order of a sum (volumes 1e-7 apart), "contract" which products it fuses into
# fmas (4e-6 dB in the images; "arcp" and "afn" similarly). Stage 2 is therefore compiled with
# the flags that change no finite result only: it sums in fixed point (int64), exact in any order,
# which LLVM vectorises without "reassoc", and its products and sums are fused by explicit fmas.
@njit(parallel=True, fastmath=_SAME_ROUNDING, cache=True)
def _stage2(
    j_re,
    j_im,
    x_m,
    y_m,
    z_m,
    x0,
    y0,
    h_lat,
    tx_c,
    rx_c,
    sub_tx,
    sub_rx,
    tau0_sub,
    h_tau,
    inv_lambda_c,
    fixed_bits,
    exponent,
):
    """Interpolate every J_b to the voxels, remodulate, sum: (re, im) (n_z, n_y, n_x) float32.

    Each voxel's terms (of J scaled by 2**-exponent to |J| <= 1) are truncated to multiples of
    2**-fixed_bits and summed as int64; the sums are scaled back by 2**exponent.

    Parallel over voxel rows; per row the distances and carrier phasors from every block centre
    to the row's voxels are tabulated once and shared by the sub-arrays.
    """
    n_b, n_xc, _, n_tau = j_re.shape
    n_z, n_y, n_x = z_m.shape[0], y_m.shape[0], x_m.shape[0]
    out_re = np.empty((n_z, n_y, n_x), dtype=np.float32)
    out_im = np.empty((n_z, n_y, n_x), dtype=np.float32)
    centres = np.concatenate((tx_c, rx_c))
    n_tc = tx_c.shape[0]
    z32 = z_m.astype(np.float32)
    inv_lambda32 = np.float32(inv_lambda_c)
    inv_h_tau32 = np.float32(1.0 / h_tau)
    u_min, u_max = np.float32(_LO), np.float32(n_tau - 1 - _HI)
    fixed, unfixed = np.float32(2.0**fixed_bits), 2.0 ** (exponent - fixed_bits)
    for iy in prange(n_y):
        y = y_m[iy]
        d_c = np.empty((centres.shape[0], n_x, n_z), dtype=np.float32)
        c_c = np.empty((centres.shape[0], n_x, n_z), dtype=np.float32)
        s_c = np.empty((centres.shape[0], n_x, n_z), dtype=np.float32)
        for c in range(centres.shape[0]):
            for ix in range(n_x):
                lateral2 = np.float32((x_m[ix] - centres[c, 0]) ** 2 + (y - centres[c, 1]) ** 2)
                for iz in range(n_z):
                    dz = z32[iz] - np.float32(centres[c, 2])
                    d = np.sqrt(fma(dz, dz, lateral2))
                    d_c[c, ix, iz] = d
                    c_c[c, ix, iz], s_c[c, ix, iz] = unit_phasor_f32(d, inv_lambda32)
        u = (y - y0) / h_lat
        jy = int(math.floor(u))
        wy = _weights6(_LATERAL_POLYS, np.float32(u - jy))
        jy = np.uintp(jy - _LO)
        acc_re = np.empty((n_x, n_z), dtype=np.float32)
        acc_im = np.empty((n_x, n_z), dtype=np.float32)
        # J_b interpolated to the row: t (b, x_c, k); per voxel column x: col (b, k), and per
        # (z, b) the path in samples u and the carrier exp(j k_c tau_c) = TX-centre phasor x
        # RX-centre phasor. Each voxel then sums over b (no store in that loop, in fixed order).
        t_re = np.zeros((n_b, n_xc, n_tau), dtype=np.float32)
        t_im = np.zeros((n_b, n_xc, n_tau), dtype=np.float32)
        for b in range(n_b):
            for ixc in range(n_xc):
                for m in range(_TAPS):
                    w = wy[m]
                    for k in range(n_tau):
                        t_re[b, ixc, k] = fma(w, j_re[b, ixc, jy + m, k], t_re[b, ixc, k])
                        t_im[b, ixc, k] = fma(w, j_im[b, ixc, jy + m, k], t_im[b, ixc, k])
        col_re = np.empty((n_b, n_tau), dtype=np.float32)
        col_im = np.empty((n_b, n_tau), dtype=np.float32)
        u_b = np.empty((n_z, n_b), dtype=np.float32)
        c_b = np.empty((n_z, n_b), dtype=np.float32)
        s_b = np.empty((n_z, n_b), dtype=np.float32)
        for ix in range(n_x):
            u = (x_m[ix] - x0) / h_lat
            jx = int(math.floor(u))
            wx = _weights6(_LATERAL_POLYS, np.float32(u - jx))
            jx = np.uintp(jx - _LO)
            for b in range(n_b):
                for k in range(n_tau):
                    col_re[b, k] = 0.0
                    col_im[b, k] = 0.0
                for m in range(_TAPS):
                    w = wx[m]
                    for k in range(n_tau):
                        col_re[b, k] = fma(w, t_re[b, jx + m, k], col_re[b, k])
                        col_im[b, k] = fma(w, t_im[b, jx + m, k], col_im[b, k])
            for b in range(n_b):
                ct, cr = np.uintp(sub_tx[b]), np.uintp(n_tc + sub_rx[b])
                tau0_b = np.float32(tau0_sub[b])
                for iz in range(n_z):
                    u_b[iz, b] = (d_c[ct, ix, iz] + d_c[cr, ix, iz] - tau0_b) * inv_h_tau32
                    c_t, s_t = c_c[ct, ix, iz], s_c[ct, ix, iz]
                    c_r, s_r = c_c[cr, ix, iz], s_c[cr, ix, iz]
                    c_b[iz, b] = fma(c_t, c_r, -(s_t * s_r))
                    s_b[iz, b] = fma(c_t, s_r, s_t * c_r)
            for iz in range(n_z):
                a_re, a_im = np.int64(0), np.int64(0)
                for b in range(np.uintp(n_b)):
                    # Clamped, so that the loads stay in b's column (the plan puts every
                    # voxel's stencil inside it).
                    u = min(max(u_b[iz, b], u_min), u_max)
                    v_re, v_im = _interp6(col_re, col_im, b, u)
                    a_re += np.int64(fma(c_b[iz, b], v_re, -(s_b[iz, b] * v_im)) * fixed)
                    a_im += np.int64(fma(c_b[iz, b], v_im, s_b[iz, b] * v_re) * fixed)
                acc_re[ix, iz] = np.float32(a_re * unfixed)
                acc_im[ix, iz] = np.float32(a_im * unfixed)
        out_re[:, iy, :] = acc_re.T
        out_im[:, iy, :] = acc_im.T
    return out_re, out_im


def _flat_blocks(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated indices and offsets (n_blocks + 1,) of a list of index arrays."""
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blocks])]).astype(np.int64)
    return np.concatenate(blocks).astype(np.int64), offsets


_PLANS: dict[tuple, FactorizedPlan] = {}
_MAX_PLANS = 4


def cached_plan(array: RadarArray, grid: ImagingGrid) -> FactorizedPlan:
    """make_plan(array, grid), kept for the last few (array, grid) pairs (a plan takes ~1 s)."""
    freq = array.freq_hz[[0, -1]]  # the plan depends on the sweep through f_c and B only
    key = (array.tx_m.tobytes(), array.rx_m.tobytes(), freq.tobytes(), grid)
    if key not in _PLANS:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = make_plan(array, grid)
    return _PLANS[key]


def backproject_factorized(
    s: np.ndarray,
    array: RadarArray,
    grid: ImagingGrid,
    plan: FactorizedPlan | None = None,
    oversample: int = DEFAULT_OVERSAMPLE,
) -> np.ndarray:
    """Factorised back-projection of s (n_tx, n_rx, n_freq): volume_zyx complex64."""
    plan = plan or cached_plan(array, grid)
    first, top, h_tau = plan.levels[0], plan.levels[-1], plan.h_tau_m
    # Profiles must cover the path lengths of the finest level's points: its lateral grid, and
    # the grid's depth grown by the interpolation stencils of every level.
    lo, hi = grid_box(grid)
    depth_margin = 6 * h_tau * len(plan.levels)
    lo = np.array([first.x0_m, first.y0_m, lo[2] - depth_margin])
    hi = np.array(
        [
            first.x0_m + (first.n_xc - 1) * first.h_lat_m,
            first.y0_m + (first.n_yc - 1) * first.h_lat_m,
            hi[2] + depth_margin,
        ]
    )
    axis = tau_axis(array, lo, hi, oversample)
    tau0, dtau, _, f_c = axis
    prof = np.ascontiguousarray(range_profiles(s, array, axis)).ravel().view(np.int64)
    tx_idx, tx_off = _flat_blocks(first.tx_blocks)
    rx_idx, rx_off = _flat_blocks(first.rx_blocks)
    inv_lambda_c = f_c / SPEED_OF_LIGHT_M_S
    j_re, j_im = _stage1(
        prof,
        array.n_rx,
        array.tx_m,
        array.rx_m,
        tx_idx,
        tx_off,
        rx_idx,
        rx_off,
        first.sub_tx,
        first.sub_rx,
        first.tx_centres_m,
        first.rx_centres_m,
        first.x0_m,
        first.y0_m,
        first.h_lat_m,
        first.tau0_m,
        h_tau,
        first.k_lo,
        first.k_hi,
        first.n_tau,
        tau0,
        1.0 / dtau,
        inv_lambda_c,
    )
    for child, level in zip(plan.levels[:-1], plan.levels[1:], strict=True):
        j_re, j_im = _merge(
            j_re,
            j_im,
            *child.coarse_grid(),
            *level.coarse_grid(),
            level.k_lo,
            level.k_hi,
            level.n_tau,
            level.children,
            h_tau,
            inv_lambda_c,
        )
    return _stage2_volume(j_re, j_im, top, grid, h_tau, inv_lambda_c)


def _stage2_volume(
    j_re: np.ndarray,
    j_im: np.ndarray,
    top: Level,
    grid: ImagingGrid,
    h_tau: float,
    inv_lambda_c: float,
) -> np.ndarray:
    """Stage 2: the top level's J (n_b, n_xc, n_yc, n_tau) float32 pair, rescaled in place, to
    the volume_zyx complex64."""
    # Stage 2's fixed point (see _stage2): J scaled by a power of two to |J| <= 1 makes each term
    # smaller than 2 L_x L_y L_tau (L: an interpolator's largest absolute weight sum), so the
    # sum of n_b terms fits in 62 bits.
    exponent = int(np.frexp(max(np.abs(j_re).max(), np.abs(j_im).max(), 1e-30))[1])
    np.ldexp(j_re, -exponent, out=j_re)
    np.ldexp(j_im, -exponent, out=j_im)
    term_bound = 2 * _abs_weight_sum(_LATERAL_POLYS) ** 2 * _abs_weight_sum(_TAU_POLYS)
    fixed_bits = 62 - math.ceil(math.log2(len(top.sub_tx) * term_bound))
    re, im = _stage2(
        j_re,
        j_im,
        grid.x_m,
        grid.y_m,
        grid.z_m,
        top.x0_m,
        top.y0_m,
        top.h_lat_m,
        top.tx_centres_m,
        top.rx_centres_m,
        top.sub_tx,
        top.sub_rx,
        top.tau0_m,
        h_tau,
        inv_lambda_c,
        fixed_bits,
        exponent,
    )
    return re + 1j * im
