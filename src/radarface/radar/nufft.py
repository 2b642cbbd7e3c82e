"""The type-1 NUFFT of the mesh simulators: kernel, grid window and the modes of the grid.

Type-1 NUFFT (Dutt & Rokhlin 1993; kernel: Barnett, Magland & af Klinteberg, "A parallel
non-uniform fast Fourier transform library based on an 'exponential of semicircle' kernel",
SIAM J. Sci. Comput. 41(5), 2019). For one TX-RX pair,

    S_m = sum_p v_p exp(-j m theta_p),  m = n - N/2,  theta_p = dk tau_p  (mod 2 pi),

spread each v_p onto an R-times oversampled periodic grid of n = R N nodes with the kernel
phi(x) = exp(beta (sqrt(1 - (2x / W)^2) - 1)) of W grid cells, transform, and divide by the
kernel's Fourier transform at mode m. W = 4 taps with beta = 2.5 W on a 3x oversampled grid
keep the relative error near 2e-4 (W = 5, R = 2: 6e-5 with a quarter more scatter-adds, 18%
slower; the Gaussian of Greengard & Lee needs 6 taps for 1e-3).

A face spans a few tenths of a metre of path out of the grid's period c / df (3.8 m for the
QAR50), so its scatterers touch ~50 of the 384 nodes: the kernel spreads into that window only
and one GEMM takes the window's nodes to the N modes, in place of an FFT over the mostly empty
period. The small windows make the larger grid of 4 taps cheap. The spreading itself is the
backends' (`radarface.radar.simulate_numba`, `radarface.radar.simulate_torch`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from radarface.arrays import is_tensor
from radarface.radar.array import SPEED_OF_LIGHT_M_S, RadarArray

if TYPE_CHECKING:
    import torch

OVERSAMPLE = 3
TAPS = 4
BETA = 2.5 * TAPS
# The taps are the nodes l0 - FIRST ... l0 - FIRST + TAPS - 1 around the node l0 nearest to a
# point (odd TAPS) or the node l0 just below it (even TAPS): SHIFT rounds accordingly.
FIRST = (TAPS - 1) // 2
SHIFT = 0.5 if TAPS % 2 else 0.0
TABLE_STEPS = 2048  # tabulated sub-cell offsets of the kernel: position error <= h / 4096


def sweep_wavenumbers(array: RadarArray) -> tuple[float, float]:
    """(k_carrier, dk) rad/m: the wavenumber of mode m = 0 (frequency n_freq // 2) and the step.

    The NUFFT needs a uniform sweep k_n = k_0 + n dk; anything else is a one-line error.
    """
    if not array.is_uniform_sweep() or array.n_freq < 2:
        raise ValueError("fast simulation needs a uniform frequency sweep; use method='reference'")
    k = 2 * np.pi * array.freq_hz / SPEED_OF_LIGHT_M_S
    dk = float(k[1] - k[0])
    return float(k[0] + (array.n_freq // 2) * dk), dk


def kernel(x: np.ndarray) -> np.ndarray:
    """phi(x) for x in grid cells (0 outside |x| < W / 2)."""
    z2 = np.clip(1.0 - (2.0 * x / TAPS) ** 2, 0.0, None)
    return np.where(z2 > 0, np.exp(BETA * (np.sqrt(z2) - 1.0)), 0.0)


def kernel_torch(x: torch.Tensor) -> torch.Tensor:
    """`kernel` in torch, differentiable in x (cells from the node)."""
    import torch

    z2 = 1.0 - (2.0 * x / TAPS) ** 2
    return torch.where(z2 > 0, torch.exp(BETA * (z2.clamp(min=1e-12).sqrt() - 1.0)), 0.0)


def _table_offsets() -> np.ndarray:
    """(steps, W) cells from the taps l0 - FIRST + k to a point at (step + 0.5) / steps - SHIFT
    cells from its node l0: the arguments of the kernel tables."""
    frac = (np.arange(TABLE_STEPS) + 0.5) / TABLE_STEPS - SHIFT
    return (np.arange(TAPS) - FIRST)[None, :] - frac[:, None]


def kernel_table() -> np.ndarray:
    """(steps, W) float32: the kernel at the taps of each tabulated sub-cell offset."""
    return kernel(_table_offsets()).astype(np.float32)


def kernel_slope_table() -> np.ndarray:
    """(steps, W) float64: d phi / dx at the taps of `kernel_table`, for the adjoint."""
    x = _table_offsets()
    z2 = 1.0 - (2.0 * x / TAPS) ** 2
    root = np.sqrt(np.clip(z2, 1e-12, None))
    return np.where(z2 > 0, kernel(x) * BETA * (-4.0 * x / TAPS**2) / root, 0.0)


def kernel_fourier(modes: np.ndarray, n_grid: int) -> np.ndarray:
    """int phi(x) exp(-2 pi j m x / n_grid) dx over x in cells, by Gauss-Legendre quadrature."""
    nodes, weights = np.polynomial.legendre.leggauss(4 * TAPS + 20)
    x = 0.5 * TAPS * nodes  # phi is even: the transform is real
    integrand = weights * kernel(x) * np.cos(2 * np.pi * np.outer(modes, x) / n_grid)
    return 0.5 * TAPS * integrand.sum(axis=1)


def node_window(tau_lo_m: float, tau_hi_m: float, dk: float, n_grid: int) -> tuple[int, int]:
    """(first node, node count) of the grid nodes that the kernel can reach for path lengths
    d_tx + d_rx between tau_lo_m and tau_hi_m; the whole padded period if they span it.

    TAPS nodes of margin on each side cover the taps' reach and the float32 rounding of the
    kernel's positions. A window that crosses the period's end takes the whole period, with the
    TAPS nodes that the last taps reach beyond it.
    """
    node_lo = math.floor(tau_lo_m * dk * n_grid / (2 * math.pi)) - TAPS
    node_hi = math.ceil(tau_hi_m * dk * n_grid / (2 * math.pi)) + TAPS
    if node_lo < 0 or node_hi >= n_grid:  # wraps: the kernel reduces positions modulo n_grid
        return -FIRST, n_grid + TAPS
    return node_lo, node_hi - node_lo + 1


def fold_window(grids: np.ndarray | torch.Tensor, n_grid: int) -> np.ndarray | torch.Tensor:
    """Fold the nodes of a wrapping window (n_grid + TAPS, last axis) beyond the period onto
    its head; other windows pass unchanged. numpy arrays or torch tensors."""
    n_window = grids.shape[-1]
    if n_window <= n_grid:
        return grids
    head = grids[..., : n_window - n_grid] + grids[..., n_grid:]
    rest = grids[..., n_window - n_grid : n_grid]
    if is_tensor(grids):
        import torch

        return torch.cat([head, rest], dim=-1)
    return np.concatenate([head, rest], axis=-1)


def modes_matrix(first_node: int, n_nodes: int, n_freq: int, n_grid: int) -> np.ndarray:
    """(n_nodes, n_freq) complex64: node first_node + j to mode m = n - n_freq // 2, i.e. the
    DFT exp(-2 pi j m node / n_grid) divided by the kernel's Fourier transform at m."""
    m = np.arange(n_freq) - n_freq // 2
    node = first_node + np.arange(n_nodes)
    dft = np.exp((-2j * np.pi / n_grid) * np.outer(node, m))
    return (dft / kernel_fourier(m, n_grid)).astype(np.complex64)


def window_modes(
    grids: np.ndarray | torch.Tensor, first_node: int, n_freq: int, n_grid: int
) -> np.ndarray | torch.Tensor:
    """(n_tx, n_rx, n_freq) complex64 modes of the spread grids (n_tx, n_rx, n_window), window
    node j being grid node first_node + j: fold, then one GEMM. numpy arrays or torch tensors."""
    n_tx, n_rx = grids.shape[:2]
    grids = fold_window(grids, n_grid)
    modes = modes_matrix(first_node, grids.shape[2], n_freq, n_grid)
    if is_tensor(grids):
        import torch

        modes = torch.as_tensor(modes, device=grids.device)
    return (grids.reshape(-1, grids.shape[2]) @ modes).reshape(n_tx, n_rx, n_freq)
