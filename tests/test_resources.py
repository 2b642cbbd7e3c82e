"""Memory and scene checks before large allocations: estimates against measured peaks, one-line
refusals, the scene's extent against the grid (with the mesh's size in every unit)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from radarface.radar import ImagingGrid, SamplingConfig, mesh_scatterers, qar50_array
from radarface.radar.imaging import backprojection_bytes, check_backprojection_memory
from radarface.render import MESH_UNITS_M, Mesh, RenderSettings, check_scene_extent, simulate_scene
from radarface.resources import (
    MEMORY_LIMIT_ENV,
    ResourceError,
    available_memory_bytes,
    check_memory,
    format_bytes,
)

SRC = Path(__file__).resolve().parents[1] / "src"

PEAK = """
import sys
from pathlib import Path
import numpy as np
from radarface.radar import ImagingGrid, backproject, form_image, linear_sweep, qar50_array
from radarface.radar.imaging import backprojection_bytes

def status_bytes(key):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))
    return int(line.split()[1]) * 1024

array = qar50_array(linear_sweep(72e9, 82e9, 64))
grid = ImagingGrid(n_x=int(sys.argv[1]), n_y=int(sys.argv[1]), pitch_m=2e-3)
s = np.random.default_rng(0).standard_normal((94, 94, 64)).astype(np.complex64)
backproject(s, array, ImagingGrid(n_x=4, n_y=4))  # load (or compile) the kernels first
Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
before = status_bytes("VmRSS:")
form_image(backproject(s, array, grid), grid, 20.0)
print(status_bytes("VmHWM:") - before, backprojection_bytes(array, grid))
"""


def test_check_memory_refuses_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, str(1 << 30))
    assert available_memory_bytes() == 1 << 30
    check_memory(0.9 * (1 << 30), "a job", "make it smaller")
    with pytest.raises(ResourceError, match=r"^a job needs about 2 GiB, more than the 1 GiB "):
        check_memory(2 << 30, "a job", "make it smaller")
    assert format_bytes(1.5 * (1 << 40)) == "1.5 TiB" and format_bytes(512) == "512 B"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_backprojection_estimate_bounds_the_measured_peak() -> None:
    """The estimate is at least the memory a back-projection grows by, and not far above it."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for pixels in (160,):
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(PEAK), str(pixels)],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        grown, estimate = map(int, proc.stdout.split())
        assert grown <= estimate <= 2.5 * grown, (grown, estimate)


def test_huge_grids_and_workers_are_refused_before_allocating() -> None:
    array = qar50_array()
    start = time.perf_counter()
    with pytest.raises(ResourceError, match="use a smaller grid .--pixels."):
        check_backprojection_memory(array, ImagingGrid(n_x=20000, n_y=20000))
    assert time.perf_counter() - start < 2
    need = backprojection_bytes(array, ImagingGrid())
    workers = int(available_memory_bytes() // need) + 1
    with pytest.raises(ResourceError, match=f"in {workers} workers.*or fewer workers"):
        check_backprojection_memory(array, ImagingGrid(), workers)
    check_backprojection_memory(array, ImagingGrid(), 1)


def test_a_huge_surface_is_refused_before_sampling() -> None:
    """A triangle of 180,000 m^2 (a face scan in mm read as m is that large) at 30 cm."""
    side = 300.0
    vertices = np.array([[-side, -side, 0.3], [side, -side, 0.3], [side, side, 0.3]])
    rng = np.random.default_rng(0)
    with pytest.raises(ResourceError, match=r"sampling a 1.8e\+05 m\^2 surface.*--mesh-units"):
        mesh_scatterers(qar50_array(), vertices, np.array([[0, 1, 2]]), SamplingConfig(), rng)


def _sheet(size_m: float, z_m: float) -> np.ndarray:
    """Corners (4, 3) of a square of side size_m centred on the axis at depth z_m."""
    h = size_m / 2
    return np.array([[-h, -h, z_m], [h, -h, z_m], [h, h, z_m], [-h, h, z_m]])


@pytest.mark.parametrize(
    ("file_units", "read_as", "hint"),
    [("mm", "m", "use --mesh-units mm"), ("m", "mm", "use --mesh-units m"),
     ("cm", "mm", "use --mesh-units cm")],
)  # fmt: skip
def test_a_mesh_in_the_wrong_units_names_the_right_ones(
    file_units: str, read_as: str, hint: str
) -> None:
    grid = ImagingGrid()
    in_file = _sheet(0.2, 0.28) / MESH_UNITS_M[file_units]  # a 20 cm face at 28 cm
    read_m = in_file * MESH_UNITS_M[read_as]
    check_scene_extent(in_file * MESH_UNITS_M[file_units], grid, units=file_units)
    with pytest.raises(ValueError, match="outside the imaging grid") as caught:
        check_scene_extent(read_m, grid, source="face.ply", units=read_as)
    message = str(caught.value)
    assert message.startswith(f"face.ply: read in {read_as}, ") and message.endswith(hint)
    side_m = 0.2 / MESH_UNITS_M[file_units]
    sizes = [f"{side_m * f:.3g} m if in {u}" for u, f in MESH_UNITS_M.items()]
    assert f"its largest side is {', '.join(sizes)}" in message
    assert "\n" not in message


def test_render_refuses_a_scene_outside_the_grid_before_simulating() -> None:
    tiny = Mesh(_sheet(2e-4, 2.8e-4), np.array([[0, 1, 2], [0, 2, 3]]), source="s.ply", units="mm")
    with pytest.raises(ValueError, match="s.ply: read in mm, .*use --mesh-units m"):
        simulate_scene(tiny, qar50_array(), RenderSettings())
