"""Startup stays light: the CPU render path never imports torch, `--help` neither torch nor numba.

Each check runs in a fresh interpreter, since this one has long imported everything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import radarface

SRC = Path(radarface.__file__).resolve().parents[1]

RENDER = """
import sys
from pathlib import Path

import numpy as np

import radarface.cli  # everything `radarface simulate` loads before it renders
from radarface.facemodel import MorphableModel, sample_face_params, vertex_normals
from radarface.radar import ImagingGrid, RadarArray, linear_sweep, qar50_array
from radarface.render import Mesh, RenderSettings, render, render_to_dir

qar50 = qar50_array(linear_sweep(72e9, 82e9, 32))
array = RadarArray(qar50.tx_m[::8], qar50.rx_m[::8], qar50.freq_hz)
settings = RenderSettings(grid=ImagingGrid(n_x=16, n_y=16, pitch_m=4e-3))

# A 6 x 6 cm bumped grid facing the array at 25 cm, as a mesh and as a one-component face model.
y, x = (np.mgrid[0:7, 0:7].astype(float) - 3) * 0.01
z = 0.02 * np.exp(-(x**2 + y**2) / (2 * 0.02**2))
vertices = np.stack([x, y, z], -1).reshape(-1, 3)
corner = np.arange(6)[:, None] * 7 + np.arange(6)[None, :]
triangles = np.concatenate(
    [np.stack([corner, corner + 7, corner + 8], -1), np.stack([corner, corner + 8, corner + 1], -1)]
).reshape(-1, 3)
radar_frame = vertices * [-1, 1, -1] + [0, 0, 0.25 + z.max()]
image = render(Mesh(radar_frame, triangles), array, settings, seed=1)
assert np.isfinite(image.max_db).all()

basis = np.random.default_rng(0).normal(0, 1e-3, (1, len(vertices), 3))
model = MorphableModel.build("bump", vertices, basis, basis, triangles, np.array([0]))
vertex_normals(radar_frame, triangles)
render_to_dir(sys.argv[1], sample_face_params(model, 2, 0), array, settings, seed=2, model=model)
assert (Path(sys.argv[1]) / "params.json").is_file()
print("loaded:", *sorted(m for m in ("torch", "numba", "trimesh") if m in sys.modules))
"""

HELP = """
import sys

from radarface.cli import app

try:
    app(["--help"])
except SystemExit as done:
    assert not done.code, done.code
print("loaded:", *sorted(m for m in ("torch", "numba") if m in sys.modules))
"""


def _loaded(script: str, *args: str) -> set[str]:
    """The modules of interest that a fresh interpreter running `script` reports loaded."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,  # a cold numba cache compiles the kernels first
    )
    assert proc.returncode == 0, proc.stderr
    report = [line for line in proc.stdout.splitlines() if line.startswith("loaded:")]
    assert len(report) == 1, proc.stdout
    return set(report[0].split()[1:])


def test_the_cpu_render_path_does_not_import_torch(tmp_path: Path) -> None:
    loaded = _loaded(RENDER, str(tmp_path / "out"))
    assert {"numba", "trimesh"} <= loaded  # the check itself sees what was imported
    assert "torch" not in loaded


def test_help_imports_neither_torch_nor_numba() -> None:
    assert _loaded(HELP) == set()
