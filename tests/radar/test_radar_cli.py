"""The radar commands end to end: simulate (points, mesh, face), image (measured), demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from radarface.cli import app
from radarface.radar import RadarArray, simulate_points, write_measurement

runner = CliRunner()
TARGET_M = (0.004, -0.01, 0.25)
SMALL = ["--pixels", "24", "--pitch-mm", "1"]


def _peak_xy(out: Path) -> tuple[float, float]:
    data = np.load(out / "image.npz")
    row, col = np.unravel_index(np.argmax(data["amplitude"]), data["amplitude"].shape)
    return float(data["x_m"][col]), float(data["y_m"][row])


def _check_outputs(out: Path) -> dict:
    for name in ("image.npz", "amplitude.png", "depth.png", "params.json"):
        assert (out / name).is_file(), name
    data = np.load(out / "image.npz")
    assert data["amplitude"].dtype == np.float32 and data["amplitude"].shape == (24, 24)
    assert 0 <= data["amplitude"].min() and data["amplitude"].max() == 1
    assert data["mask"].dtype == bool and data["max_db"].max() == 0
    assert data["x_m"][0] > data["x_m"][-1] and data["y_m"][0] > data["y_m"][-1]
    return json.loads((out / "params.json").read_text())


def test_simulate_points_focuses_at_the_target(tmp_path: Path) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text("x_m,y_m,z_m,amplitude\n" + ",".join(map(str, TARGET_M)) + ",1.0\n")
    result = runner.invoke(
        app, ["simulate", "--points", str(csv), "--out", str(tmp_path / "o"), *SMALL]
    )
    assert result.exit_code == 0, result.output
    meta = _check_outputs(tmp_path / "o")
    assert meta["n_points"] == 1 and "radarface_version" in meta
    x, y = _peak_xy(tmp_path / "o")
    assert abs(x - TARGET_M[0]) <= 1e-3 and abs(y - TARGET_M[1]) <= 1e-3


def test_simulate_points_with_an_array_from_csv_files(tmp_path: Path, qar50: RadarArray) -> None:
    for name, pos in (("tx.csv", qar50.tx_m[::3]), ("rx.csv", qar50.rx_m[::3])):
        (tmp_path / name).write_text("x,y,z\n" + "".join(f"{x},{y},{z}\n" for x, y, z in pos))
    csv = tmp_path / "points.csv"
    csv.write_text("x_m,y_m,z_m,amplitude\n" + ",".join(map(str, TARGET_M)) + ",1.0\n")
    args = [
        "simulate",
        "--points",
        str(csv),
        "--tx",
        str(tmp_path / "tx.csv"),
        "--rx",
        str(tmp_path / "rx.csv"),
        "--freq-ghz",
        "72:82:64",
        *SMALL,
    ]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert _check_outputs(tmp_path / "o")["array"]["freq_ghz"] == "72:82:64"
    x, y = _peak_xy(tmp_path / "o")
    assert abs(x - TARGET_M[0]) <= 1e-3 and abs(y - TARGET_M[1]) <= 1e-3


def test_simulate_mesh(tmp_path: Path, make_plate) -> None:
    vertices, faces = make_plate(0.01, (0.0, 0.0, 0.25))
    path = tmp_path / "plate.ply"
    trimesh.Trimesh(vertices * 1000, faces).export(path)
    result = runner.invoke(
        app,
        [
            "simulate",
            "--mesh",
            str(path),
            "--mesh-units",
            "mm",
            "--material",
            "0",
            "--out",
            str(tmp_path / "o"),
            *SMALL,
        ],
    )
    assert result.exit_code == 0, result.output
    meta = _check_outputs(tmp_path / "o")
    assert meta["reflectance"]["material"] == 0.0
    assert meta["settings"]["sampling"]["scattering"] == "coherent"
    depth = np.load(tmp_path / "o" / "image.npz")["depth_m"]
    assert abs(np.nanmedian(depth) - 0.25) < 3e-3
    args = ["simulate", "--mesh", str(path), "--mesh-units", "mm", "--out", str(tmp_path / "s")]
    result = runner.invoke(app, [*args, "--scattering", "speckle", *SMALL])
    assert result.exit_code == 0, result.output
    assert _check_outputs(tmp_path / "s")["settings"]["sampling"]["scattering"] == "speckle"
    bad = runner.invoke(app, [*args, "--scattering", "rough", *SMALL])
    assert bad.exit_code != 0 and "rough" in bad.output


def test_image_measured_capture(tmp_path: Path, qar50: RadarArray) -> None:
    s = simulate_points(qar50, np.array([TARGET_M]), np.array([1.0]))
    write_measurement(tmp_path / "capture.h5", s, qar50)
    result = runner.invoke(
        app,
        ["image", "--measured", str(tmp_path / "capture.h5"), "--out", str(tmp_path / "o"), *SMALL],
    )
    assert result.exit_code == 0, result.output
    _check_outputs(tmp_path / "o")
    x, y = _peak_xy(tmp_path / "o")
    assert abs(x - TARGET_M[0]) <= 1e-3 and abs(y - TARGET_M[1]) <= 1e-3


def test_simulate_face_and_demo(tmp_path: Path, ict_npz: Path) -> None:
    model = ["--face-model", str(ict_npz)]
    grid = ["--pixels", "24", "--pitch-mm", "8"]
    result = runner.invoke(
        app, ["simulate", "--seed", "3", "--out", str(tmp_path / "f"), *grid, *model]
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "f" / "params.json").read_text())
    assert meta["seed"] == 3 and meta["face_model"]["name"].startswith("ict")
    assert 0.0 <= meta["reflectance"]["material"] <= 1.0
    result = runner.invoke(app, ["demo", "--n", "1", "--out", str(tmp_path / "d"), *grid, *model])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "face_000.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert len(summary["faces"]) == 1 and summary["faces"][0]["seconds"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--mesh", "a.ply", "--points", "b.csv"], "either --mesh or --points"),
        (["simulate", "--mesh", "missing.ply"], "mesh file not found"),
        (["simulate", "--points", "missing.csv"], "point file not found"),
        (["image", "--measured", "missing.h5"], "measurement file not found"),
        (["simulate", "--freq-ghz", "72-82"], "--freq-ghz must be START:STOP:N"),
        (["simulate", "--tx", "tx.csv"], "give both --tx and --rx"),
        (["simulate", "--device", "gpu"], "unknown device 'gpu'"),
        (["image", "--measured", "m.h5", "--device", "cuda:99"], "CUDA device(s)"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
