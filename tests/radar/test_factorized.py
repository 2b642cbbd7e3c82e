"""Factorised back-projection: against the exact formula and the direct kernel, and its plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from common import rel_rms

import radarface
from radarface.radar import ImagingGrid, RadarArray, backproject, qar50_array, simulate_points
from radarface.radar.factorized import (
    _LATERAL_POLYS,
    _TAU_POLYS,
    LATERAL_RAD_PER_SAMPLE,
    TAU_RAD_PER_SAMPLE,
    _weights6,
    factorized_applies,
    make_plan,
)


@pytest.fixture(scope="module")
def qar50() -> RadarArray:
    return qar50_array()


def test_matches_reference_on_point_targets(qar50: RadarArray) -> None:
    points = np.array([[0.003, -0.005, 0.25], [0.02, 0.012, 0.262], [-0.015, 0.004, 0.241]])
    s = simulate_points(qar50, points, np.array([1.0, 0.7j, 0.5 - 0.2j]))
    grid = ImagingGrid(n_x=16, n_y=16, pitch_m=3e-3, z_min_m=0.235, z_max_m=0.265, z_step_m=6e-3)
    ref = backproject(s, qar50, grid, method="reference")
    fast = backproject(s, qar50, grid, method="factorized")
    assert fast.shape == ref.shape and fast.dtype == np.complex64
    assert rel_rms(fast, ref) < 0.01


def test_matches_direct_kernel_for_any_signal(qar50: RadarArray) -> None:
    """Random S (not a physical scene) excites every pair and path length of a wide grid."""
    rng = np.random.default_rng(1)
    shape = (qar50.n_tx, qar50.n_rx, qar50.n_freq)
    s = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    grid = ImagingGrid(n_x=40, n_y=36, pitch_m=6e-3, z_min_m=0.22, z_max_m=0.31, z_step_m=9e-3)
    direct = backproject(s, qar50, grid, method="numba")
    assert rel_rms(backproject(s, qar50, grid, method="factorized"), direct) < 0.01


def test_sparse_array_of_single_antenna_blocks_is_imaged_directly(qar50: RadarArray) -> None:
    """Every 24th antenna: blocks of one antenna leave the plan's lateral steps unbounded (they
    once ran to kilometres and asked for TiB); "auto" images such an array directly."""
    sparse = RadarArray(qar50.tx_m[::24], qar50.rx_m[::24], qar50.freq_hz[::16])
    grid = ImagingGrid(n_x=32, n_y=32, pitch_m=8e-3, z_min_m=0.225, z_max_m=0.36, z_step_m=6e-3)
    assert not factorized_applies(sparse, grid)
    assert factorized_applies(RadarArray(qar50.tx_m[::12], qar50.rx_m[::12], sparse.freq_hz), grid)
    s = simulate_points(sparse, np.array([[0.004, -0.006, 0.25]]), np.array([1.0]))
    direct = backproject(s, sparse, grid, method="numba")
    np.testing.assert_array_equal(backproject(s, sparse, grid, method="auto"), direct)
    with pytest.raises(ValueError, match="factorised back-projection needs"):
        make_plan(sparse, grid)


def _lagrange_weights(t: float) -> np.ndarray:
    nodes = np.arange(-2, 4)
    return np.array([np.prod([(t - n) / (m - n) for n in nodes if n != m]) for m in nodes])


@pytest.mark.parametrize(
    ("polys", "omega"), [(_LATERAL_POLYS, LATERAL_RAD_PER_SAMPLE), (_TAU_POLYS, TAU_RAD_PER_SAMPLE)]
)
def test_interpolators_reproduce_band_limited_signals(polys: tuple, omega: float) -> None:
    """exp(j w n) for |w| up to the design band, read between its samples: the least-squares
    interpolator's error stays below 1% and is a fraction of 6-point Lagrange interpolation's."""
    nodes = np.arange(-2, 4)
    w = np.linspace(-omega, omega, 201)
    errors, lagrange_errors = [], []
    for t in np.linspace(0.0, 1.0, 33)[:-1]:
        weights = np.array(_weights6(polys, t))
        samples = np.exp(1j * np.outer(w, nodes - t))  # the signal at the nodes, seen from t
        errors.append(np.abs(samples @ weights - 1))
        lagrange_errors.append(np.abs(samples @ _lagrange_weights(t) - 1))
    errors, lagrange_errors = np.array(errors), np.array(lagrange_errors)
    assert errors.max() < 0.01
    assert np.sqrt(np.mean(errors**2)) < 0.2 * np.sqrt(np.mean(lagrange_errors**2))


def test_volume_scales_exactly_with_the_signal(qar50: RadarArray) -> None:
    """Stage 2 sums in fixed point scaled to the signal: no overflow or lost precision at any
    magnitude (powers of two scale every float operation exactly), and zero stays zero."""
    s = simulate_points(qar50, np.array([[0.01, -0.02, 0.26]]), np.array([1.0 + 0.5j]))
    grid = ImagingGrid(n_x=12, n_y=10, pitch_m=4e-3, z_min_m=0.24, z_max_m=0.28, z_step_m=8e-3)
    volume = backproject(s, qar50, grid, method="factorized")
    for power in (-60, 60):
        scaled = backproject(np.ldexp(s.real, power) + 1j * np.ldexp(s.imag, power), qar50, grid)
        np.testing.assert_array_equal(
            scaled, np.ldexp(volume.real, power) + 1j * np.ldexp(volume.imag, power)
        )
    assert not np.any(backproject(np.zeros_like(s), qar50, grid, method="factorized"))


def test_auto_uses_it_only_where_it_applies(qar50: RadarArray) -> None:
    grid = ImagingGrid(n_x=4, n_y=4)
    assert factorized_applies(qar50, grid)
    behind = RadarArray(qar50.tx_m + [0, 0, 0.3], qar50.rx_m, qar50.freq_hz)
    assert not factorized_applies(behind, grid)
    with pytest.raises(ValueError, match="in front of the grid"):
        make_plan(behind, grid)
    s = simulate_points(behind, np.array([[0.0, 0.0, 0.25]]), np.ones(1))
    np.testing.assert_array_equal(
        backproject(s, behind, grid), backproject(s, behind, grid, method="numba")
    )


def test_plan_levels_partition_the_pairs(qar50: RadarArray) -> None:
    plan = make_plan(qar50, ImagingGrid(n_x=32, n_y=32), n_levels=3)
    finest = plan.levels[0]
    pairs = [
        (t, r)
        for b in range(len(finest.sub_tx))
        for t in finest.tx_blocks[finest.sub_tx[b]]
        for r in finest.rx_blocks[finest.sub_rx[b]]
    ]
    assert len(pairs) == len(set(pairs)) == qar50.n_tx * qar50.n_rx
    for child, level in zip(plan.levels[:-1], plan.levels[1:], strict=True):
        kids = level.children[level.children >= 0]
        assert sorted(kids) == list(range(len(child.sub_tx)))  # each child has one parent
        assert level.h_lat_m == pytest.approx(child.h_lat_m / 2)
        assert (level.k_hi >= level.k_lo).any() and level.k_hi.max() < level.n_tau


# Stage 2 on random J for a sparse QAR50 and a 16 x 16 grid, saved to argv[1]; prints whether numba
# compiled `_stage2` or loaded it from its cache.
_STAGE2_RUN = """
import json, sys
import numpy as np
from radarface.radar import ImagingGrid, RadarArray, linear_sweep, qar50_array
from radarface.radar.factorized import _stage2, _stage2_volume, cached_plan

qar50 = qar50_array(linear_sweep(72e9, 82e9, 32))
array = RadarArray(qar50.tx_m[::6], qar50.rx_m[::6], qar50.freq_hz)
grid = ImagingGrid(n_x=16, n_y=16, pitch_m=4e-3)
plan = cached_plan(array, grid)
top = plan.levels[-1]
rng = np.random.default_rng(0)
shape = (len(top.sub_tx), top.n_xc, top.n_yc, top.n_tau)
j_re, j_im = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
np.save(sys.argv[1], _stage2_volume(j_re, j_im, top, grid, plan.h_tau_m, 77e9 / 299792458.0))
hits, misses = (sum(c.values()) for c in (_stage2.stats.cache_hits, _stage2.stats.cache_misses))
print(json.dumps({"hits": hits, "misses": misses}))
"""


@pytest.mark.slow
def test_stage2_compiled_and_cached_give_the_same_volume(tmp_path: Path) -> None:
    """A process that compiles stage 2 and one that loads it from numba's cache run two different
    compilations of it (docs/radar.md, "Fresh and cached code"): their volumes must be
    bit-identical, or a resumed dataset differs from a fresh one. One process compiles into an
    empty cache, a second loads from it (~40 s, most of it compiling)."""
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(radarface.__file__).parents[1]), os.environ.get("PYTHONPATH")) if p
        ),
    }
    volumes, stats = [], []
    for run in ("compiled", "cached"):
        out = tmp_path / f"{run}.npy"
        done = subprocess.run(
            [sys.executable, "-c", _STAGE2_RUN, str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        stats.append(json.loads(done.stdout.splitlines()[-1]))
        volumes.append(np.load(out))
    assert stats == [{"hits": 0, "misses": 1}, {"hits": 1, "misses": 0}]
    assert np.abs(volumes[0]).max() > 0
    np.testing.assert_array_equal(volumes[0], volumes[1])
