"""Back-projection timings: full QAR50 data (8836 pairs x 128 freqs) onto the default grid.

Run: PYTHONPATH=src python benchmarks/bench_imaging.py
Prints a markdown table (factorized and numba: median of 3 after JIT warm-up and, for factorized,
its plan; torch CPU and the exact reference timed on a z-subset of the grid and extrapolated
linearly in voxels) and the relative RMS error of the fast paths against the reference on that
subset, and of factorized against numba on the full grid.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import numba
import numpy as np
import torch

from radarface.radar import (
    ImagingGrid,
    backproject,
    backproject_reference,
    qar50_array,
    simulate_points,
)
from radarface.radar.factorized import cached_plan


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    """(median wall time in s, last result) of `repeat` calls."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    array, grid = qar50_array(), ImagingGrid()
    rng = np.random.default_rng(0)
    n_points = 200  # a face-sized cloud of scatterers
    points = rng.uniform([-0.08, -0.1, 0.24], [0.08, 0.1, 0.3], size=(n_points, 3))
    amps = rng.standard_normal(n_points) + 1j * rng.standard_normal(n_points)
    t_sim, s = timed(lambda: simulate_points(array, points, amps))
    n_z = len(grid.z_m)
    sub_z = 2  # slices timed for the slow paths
    sub = dataclasses.replace(grid, z_min_m=0.25, z_max_m=0.25 + (sub_z - 1) * grid.z_step_m)
    scale = n_z / sub_z

    backproject(s, array, dataclasses.replace(grid, n_x=4, n_y=4), method="numba")  # JIT
    backproject(s, array, dataclasses.replace(grid, n_x=4, n_y=4), method="factorized")
    t_plan, _ = timed(lambda: cached_plan(array, grid))
    t_fact, v_fact = timed(lambda: backproject(s, array, grid, method="factorized"), repeat=3)
    t_numba, v_numba = timed(lambda: backproject(s, array, grid, method="numba"), repeat=3)
    t_torch, v_torch = timed(lambda: backproject(s, array, sub, method="torch"))
    t_ref, v_ref = timed(lambda: backproject_reference(s, array, sub))
    v_numba_sub = backproject(s, array, sub, method="numba")
    v_fact_sub = backproject(s, array, sub, method="factorized")
    fact_vs_numba = np.linalg.norm(v_fact - v_numba) / np.linalg.norm(v_numba)

    def err(v: np.ndarray) -> float:
        return float(np.linalg.norm(v - v_ref) / np.linalg.norm(v_ref))

    print(f"numba threads: {numba.get_num_threads()}, torch threads: {torch.get_num_threads()}")
    print(f"grid {grid.n_x} x {grid.n_y} x {n_z} voxels, {array.n_tx * array.n_rx} pairs x "
          f"{array.n_freq} freqs, {n_points} scatterers\n")  # fmt: skip
    print("| step | time (s) | note | rel. RMS vs reference |")
    print("|---|---|---|---|")
    print(f"| simulate_points | {t_sim:.3f} | {n_points} points | |")
    print(
        f"| backproject factorized | {t_fact:.2f} | median of 3; plan {t_plan:.2f} s once; "
        f"{fact_vs_numba:.1e} vs numba | {err(v_fact_sub):.2e} |"
    )
    print(f"| backproject numba | {t_numba:.2f} | median of 3 | {err(v_numba_sub):.2e} |")
    print(
        f"| backproject torch (CPU) | {t_torch * scale:.1f} | {t_torch:.2f} s for {sub_z} "
        f"slices x {scale:.0f} | {err(v_torch.numpy()):.2e} |"
    )
    print(
        f"| backproject_reference | {t_ref * scale:.0f} | {t_ref:.1f} s for {sub_z} slices "
        f"x {scale:.0f} | 0 |"
    )


if __name__ == "__main__":
    main()
