"""2-D radar images from back-projected volumes: max-intensity projection, depth, dynamic range.

Orientation comes straight from the grid (see `radarface.radar.array`): image row 0 is the
largest y (top), column 0 the largest x, i.e. unmirrored for a viewer behind the array looking
along +z. All functions accept numpy arrays or torch tensors; the torch paths are differentiable
(dataset loading applies a random dynamic range per item, fitting backpropagates through them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from radarface.arrays import is_tensor
from radarface.radar.array import ImagingGrid, RadarArray

if TYPE_CHECKING:
    pass

Array = Any  # np.ndarray or torch.Tensor

#: |V| below this fraction of the image maximum is treated as this fraction (avoids log10(0)).
_FLOOR = 1e-12

#: Depth estimators of `form_image`: "parabola" (`project_volume`, on |V|: the paper's brightest
#: voxel), "maroon" (`maroon_depth`, MAROON's, on dB) or "phase" (`radar.phase_depth`: the
#: carrier phase of the brightest voxel, for the coherent scattering model).
DEPTH_ESTIMATORS = ("parabola", "maroon", "phase")
#: The phase estimator reads the pixels within this many dB of the peak (every dynamic range
#: the networks train on, 15-30 dB); the others keep the parabola's depth.
PHASE_DEPTH_RANGE_DB = 30.0


def project_volume(volume_zyx: Array, grid: ImagingGrid) -> tuple[Array, Array]:
    """Max-intensity projection along z: (max_db (H, W), depth_m (H, W)), float32.

    volume_zyx: (n_z, n_y, n_x) complex. max_db = 20 log10(max_z |V| / max |V|), so the
    brightest pixel is 0 dB and all others are <= 0. depth_m is the z of the brightest voxel of
    each column, refined to sub-voxel precision by the vertex of the parabola through that voxel
    and its two z neighbours, fitted to the LINEAR magnitude |V| (offset clamped to +-half a
    step; no refinement when the maximum lies on the first or last slice).
    """
    if is_tensor(volume_zyx):
        import torch

        mag = volume_zyx.abs().float()
        k = mag.argmax(0)
        around = torch.stack(
            [torch.take_along_dim(mag, z[None], 0)[0] for z in _around(k, len(mag))]
        )
    else:
        mag = np.abs(volume_zyx).astype(np.float32)
        k = mag.argmax(0)
        around = np.stack([np.take_along_axis(mag, z[None], 0)[0] for z in _around(k, len(mag))])
    return project_slices(around, k, grid)


def _around(k: Array, n_z: int) -> list[Array]:
    """The slices k - 1, k, k + 1 of each column, clamped into [0, n_z)."""
    clip = np.clip if isinstance(k, np.ndarray) else (lambda x, lo, hi: x.clamp(lo, hi))
    return [clip(k - 1, 0, n_z - 1), k, clip(k + 1, 0, n_z - 1)]


def project_slices(around: Array, k: Array, grid: ImagingGrid) -> tuple[Array, Array]:
    """(max_db, depth_m) of `project_volume` from the magnitudes (3, H, W) of each column's
    brightest slice k (H, W) and its two neighbours (numpy or torch, differentiable)."""
    if is_tensor(around):
        import torch

        log10, clip, xp = torch.log10, torch.clamp, torch
    else:
        log10, clip, xp = np.log10, np.clip, np
    m_lo, peak, m_hi = around[0], around[1], around[2]
    # Vertex of the parabola through (-1, m_lo), (0, peak), (+1, m_hi) on |V|.
    curv = m_lo - 2 * peak + m_hi
    refine = (k > 0) & (k < len(grid.z_m) - 1) & (curv < 0)
    safe = xp.where(refine, curv, -xp.ones_like(curv))
    offset = clip(xp.where(refine, 0.5 * (m_lo - m_hi) / safe, xp.zeros_like(curv)), -0.5, 0.5)
    depth = float(grid.z_m[0]) + (k + offset) * float(grid.z_step_m)
    max_db = 20 * log10(clip(peak / peak.max(), _FLOOR, None))
    return max_db, depth.float() if is_tensor(depth) else depth.astype(np.float32)


def project_brightest(
    s: Any,
    array: RadarArray,
    grid: ImagingGrid,
    volume_zyx: Array,
    dynamic_range_db: float | None = None,
) -> tuple[Any, Any]:
    """`project_volume` of the back-projection of S (n_tx, n_rx, n_freq) tensor, differentiable
    in S, given that back-projection already computed without gradient (volume_zyx, numpy or
    torch, e.g. by the fast `backproject`).

    The max projection reads only each column's brightest voxel and its two z neighbours, so
    only those are imaged again in torch (exact eq. (3)); with `dynamic_range_db`, only the
    columns within that many dB of the peak (the others clip to zero amplitude and no depth,
    so they carry no gradient) and the rest keep volume_zyx's values.
    """
    import torch

    from radarface.radar.imaging import backproject_torch

    mag = np.abs(volume_zyx.cpu().numpy() if is_tensor(volume_zyx) else volume_zyx)
    mag = mag.astype(np.float32)
    k = mag.argmax(0)
    z = np.stack(_around(k, len(grid.z_m)))  # (3, H, W) slice indices
    around = np.take_along_axis(mag, z, 0)  # (3, H, W) magnitudes, without gradient
    columns = np.ones(k.shape, dtype=bool)
    if dynamic_range_db is not None:
        columns = around[1] >= around[1].max() * 10 ** (-dynamic_range_db / 20)
    y, x = np.meshgrid(grid.y_m, grid.x_m, indexing="ij")
    voxels = np.stack([np.broadcast_to(x, z.shape), np.broadcast_to(y, z.shape), grid.z_m[z]], -1)[
        :, columns
    ]  # (3, n_columns, 3)
    picked = backproject_torch(s, array, voxels).abs().float()
    around_t = torch.from_numpy(around).to(picked.device)
    around_t[:, torch.from_numpy(columns).to(picked.device)] = picked
    return project_slices(around_t, torch.from_numpy(k).to(picked.device), grid)


def maroon_depth(volume_zyx: np.ndarray, grid: ImagingGrid) -> np.ndarray:
    """MAROON's depth estimator (`extract_depth_parabola_fit` of its radar_control.py): (H, W)
    float32 metres, from volume_zyx (n_z, n_y, n_x) complex (numpy).

    The vertex of the parabola through each column's brightest voxel and its two z neighbours,
    fitted to the dB values 20 log10 |V| where `project_volume` fits |V|; neighbours beyond the
    first or last slice repeat the edge slice (the vertex then lies half a step outside it) and
    the offset is not clamped. MAROON masks pixels 15 dB below the peak (`--dynamic-range-db 15`).
    """
    mag = np.abs(volume_zyx).astype(np.float64)
    db = 20 * np.log10(np.maximum(mag, _FLOOR * mag.max()))
    k = mag.argmax(0)
    lo, peak, hi = (np.take_along_axis(db, z[None], 0)[0] for z in _around(k, len(db)))
    # Vertex of y = a x^2 + b x + c through (-1, lo), (0, peak), (1, hi): x = -b / 2a.
    curv = lo - 2 * peak + hi
    offset = np.where(curv != 0, 0.5 * (lo - hi) / np.where(curv != 0, curv, 1.0), 0.0)
    return (grid.z_m[0] + (k + offset) * grid.z_step_m).astype(np.float32)


def apply_dynamic_range(
    max_db: Array, depth_m: Array, dynamic_range_db: float | Array
) -> tuple[Array, Array, Array]:
    """Clip an image at -theta dB: (amplitude (H, W) in [0, 1], depth_masked (H, W), mask (H, W)).

    amplitude = clip((max_db + theta) / theta, 0, 1), linear in dB: 1 at the peak, 0 at and below
    -theta. mask = max_db >= -theta (bool). depth_masked is depth_m where mask holds and NaN
    elsewhere (pixels without a usable echo have no depth). theta > 0 is a float, or a tensor
    broadcastable to max_db (e.g. one random theta per batch item, shape (B, 1, 1)); the torch path
    is differentiable in max_db and depth_m.
    """
    if is_tensor(max_db):
        import torch

        theta = torch.as_tensor(dynamic_range_db, dtype=max_db.dtype, device=max_db.device)
        if bool((theta <= 0).any()):
            raise ValueError("dynamic_range_db must be positive")
        amplitude = ((max_db + theta) / theta).clamp(0.0, 1.0)
        mask = max_db >= -theta
        depth = torch.where(mask, depth_m, torch.full_like(depth_m, float("nan")))
        return amplitude, depth, mask
    theta = np.asarray(dynamic_range_db, dtype=np.float32)
    if np.any(theta <= 0):
        raise ValueError("dynamic_range_db must be positive")
    amplitude = np.clip((max_db + theta) / theta, 0.0, 1.0).astype(np.float32)
    mask = max_db >= -theta
    depth = np.where(mask, depth_m, np.nan).astype(np.float32)
    return amplitude, depth, mask


@dataclass(frozen=True)
class RadarImage:
    """A radar image: row 0 is +y (top), column 0 is +x (unmirrored for a viewer behind the array).

    amplitude (H, W) float32 in [0, 1]; depth_m (H, W) float32, NaN outside mask; mask (H, W) bool;
    max_db (H, W) float32 <= 0 (before clipping); x_m (W,) and y_m (H,) pixel coordinates (both
    decreasing); dynamic_range_db the clipping level theta; peak_depth_m (H, W) float32 the z of
    every pixel's brightest voxel, not masked (what datasets store, to clip at any level later).
    """

    amplitude: np.ndarray
    depth_m: np.ndarray
    mask: np.ndarray
    max_db: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    dynamic_range_db: float
    peak_depth_m: np.ndarray


def clip_image(
    max_db: np.ndarray, depth_m: np.ndarray, grid: ImagingGrid, dynamic_range_db: float = 20.0
) -> RadarImage:
    """The RadarImage of a projection (max_db, depth_m (H, W)) clipped at -dynamic_range_db dB."""
    amplitude, depth_masked, mask = apply_dynamic_range(max_db, depth_m, dynamic_range_db)
    return RadarImage(
        amplitude, depth_masked, mask, max_db, grid.x_m, grid.y_m, float(dynamic_range_db), depth_m
    )


def form_image(
    volume_zyx: np.ndarray,
    grid: ImagingGrid,
    dynamic_range_db: float = 20.0,
    depth_estimator: str = "parabola",
    s: np.ndarray | None = None,
    array: RadarArray | None = None,
) -> RadarImage:
    """Project a volume (n_z, n_y, n_x) and clip it at -dynamic_range_db dB (numpy); the depth
    by one of DEPTH_ESTIMATORS ("phase" also needs the signal s and its array)."""
    if depth_estimator not in DEPTH_ESTIMATORS:
        raise ValueError(
            f"unknown depth estimator {depth_estimator!r}; use {' or '.join(DEPTH_ESTIMATORS)}"
        )
    volume_zyx = np.asarray(volume_zyx)
    max_db, depth = project_volume(volume_zyx, grid)
    if depth_estimator == "maroon":
        depth = maroon_depth(volume_zyx, grid)
    if depth_estimator == "phase":
        if s is None or array is None:
            raise ValueError("the phase depth estimator needs the signal and its array")
        depth = phase_refined_depth(volume_zyx, max_db, depth, s, array, grid)
    return clip_image(max_db, depth.astype(np.float32), grid, dynamic_range_db)


def phase_refined_depth(
    volume_zyx: np.ndarray,
    max_db: np.ndarray,
    depth_m: np.ndarray,
    s: np.ndarray,
    array: RadarArray,
    grid: ImagingGrid,
) -> np.ndarray:
    """depth_m (H, W) with the carrier-phase depth (`radar.phase_depth`) in the columns whose
    max_db is within PHASE_DEPTH_RANGE_DB of the peak; numpy."""
    from radarface.radar.phase_depth import phase_depth

    columns = max_db >= -PHASE_DEPTH_RANGE_DB
    return np.where(columns, phase_depth(volume_zyx, s, array, grid, columns), depth_m)


def image_volume(
    s: np.ndarray,
    array: RadarArray,
    grid: ImagingGrid,
    dynamic_range_db: float = 20.0,
    method: str = "auto",
    device: str | None = None,
    depth_estimator: str = "parabola",
) -> RadarImage:
    """Back-project s (n_tx, n_rx, n_freq) onto grid and form the image (see `backproject`,
    `form_image`)."""
    from radarface.radar.imaging import backproject

    volume = backproject(s, array, grid, method=method, device=device)
    if is_tensor(volume):
        volume = volume.detach().cpu().numpy()
    if is_tensor(s):
        s = s.detach().cpu().numpy()
    return form_image(volume, grid, dynamic_range_db, depth_estimator, s, array)
