"""The radar commands end to end: simulate (points, mesh, face), image (measured), demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from radarface.cli import app
from radarface.radar import (
    RadarArray,
    linear_sweep,
    maroon_to_radar,
    qar50_array,
    simulate_points,
    write_measurement,
)

runner = CliRunner()
TARGET_M = (0.004, -0.01, 0.25)
FAR_TARGET_M = (0.004, -0.01, 0.40)  # beyond the default grid (22.5-36 cm), as MAROON's 40 cm
SMALL = ["--pixels", "24", "--pitch-mm", "1"]
SRC = Path(__file__).resolve().parents[2] / "src"


def _peak(out: Path) -> tuple[float, float, float]:
    """(x, y, depth) of the brightest pixel of an output."""
    data = np.load(out / "image.npz")
    row, col = np.unravel_index(np.argmax(data["max_db"]), data["max_db"].shape)
    return float(data["x_m"][col]), float(data["y_m"][row]), float(data["depth_m"][row, col])


def write_maroon_capture(path: Path, array: RadarArray, target_m, rows: int = 96) -> Path:
    """A point target as MAROON ships a capture: xr (rows, rows, n_freq), RX first; a 96 x 96
    array carries the outlier rows 0 and 95 (filled with a constant that must be dropped)."""
    s = simulate_points(array, np.array([target_m]), np.array([1.0]))
    xr = np.full((rows, rows, array.n_freq), 5.0 + 0j)
    cut = slice(1, 95) if rows == 96 else slice(None)
    xr[cut, cut] = s.transpose(1, 0, 2)
    np.save(path, {"xr": xr, "fvec": array.freq_hz, "number_of_measurements": 1})
    return path


def _peak_xy(out: Path) -> tuple[float, float]:
    data = np.load(out / "image.npz")
    row, col = np.unravel_index(np.argmax(data["amplitude"]), data["amplitude"].shape)
    return float(data["x_m"][col]), float(data["y_m"][row])


def _check_outputs(out: Path) -> dict:
    for name in ("image.npz", "amplitude.png", "depth.png", "figure.png", "params.json"):
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


def test_image_maroon_capture_at_40_cm_with_no_option(tmp_path: Path) -> None:
    """Done-when of issue 20: 96 x 96, outlier rows 0 and 95, the published geometry, 40 cm."""
    capture = write_maroon_capture(tmp_path / "000000.npy", qar50_array(), FAR_TARGET_M)
    out = tmp_path / "o"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "radarface.cli",
            "image",
            "--measured",
            str(capture),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,  # a cold numba cache compiles the kernels first
    )
    assert proc.returncode == 0, proc.stderr
    assert "chosen from the data" in proc.stderr and "warning" not in proc.stderr
    meta = json.loads((out / "params.json").read_text())
    assert meta["capture"]["layout"] == "96 x 96 (outlier rows 0 and 95 dropped)"
    assert meta["z_range"]["chosen"] == "from the data" and meta["warnings"] == []
    grid = meta["settings"]["grid"]
    assert grid["z_min_m"] < FAR_TARGET_M[2] < grid["z_max_m"]
    x, y, depth = _peak(out)
    assert abs(depth - FAR_TARGET_M[2]) < grid["z_step_m"]  # within a slice of its true depth
    assert abs(x - FAR_TARGET_M[0]) <= 1e-3 and abs(y - FAR_TARGET_M[1]) <= 1e-3


@pytest.fixture(scope="module")
def array64(qar50: RadarArray) -> RadarArray:
    """The QAR50 with 64 frequencies (unambiguous to 1 m of depth): small captures."""
    return RadarArray(qar50.tx_m, qar50.rx_m, linear_sweep(72e9, 82e9, 64))


def test_image_warns_for_a_scene_beyond_the_z_range(tmp_path: Path, array64: RadarArray) -> None:
    capture = write_maroon_capture(tmp_path / "000000.npy", array64, FAR_TARGET_M, rows=94)
    args = ["image", "--measured", str(capture), *SMALL]
    result = runner.invoke(app, [*args, "--z-range-cm", "22.5:36", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "warning: the strongest echoes lie at 38" in result.stderr
    meta = json.loads((tmp_path / "o" / "params.json").read_text())
    assert meta["z_range"]["chosen"] == "given" and len(meta["warnings"]) == 1
    assert meta["capture"]["layout"] == "94 x 94 (already cut)"
    result = runner.invoke(app, [*args, "--z-range-cm", "38:42", "--out", str(tmp_path / "o2")])
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output
    assert abs(_peak(tmp_path / "o2")[2] - FAR_TARGET_M[2]) < 3e-3


def test_image_options_for_maroon_captures(tmp_path: Path, array64: RadarArray) -> None:
    folder = tmp_path / "calibrated_data"
    folder.mkdir()
    write_maroon_capture(folder / "000000.npy", array64, (0.0, 0.0, 0.3))
    twin = write_maroon_capture(folder / "000000_emptyfiltered.npy", array64, FAR_TARGET_M)
    data = np.load(twin, allow_pickle=True).item()
    data["xr"][10] = 0  # RX 9 (row 10 of 96) switched off
    np.save(twin, data)
    args = ["image", "--measured", str(folder / "000000.npy"), "--empty-filtered", *SMALL]
    args += ["--depth-estimator", "maroon", "--dynamic-range-db", "15"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "o" / "params.json").read_text())
    assert meta["capture"]["empty_filtered"] and meta["capture"]["file"] == str(twin)
    assert meta["capture"]["masked_rx"] == [9] and meta["capture"]["masked_pairs"] == 94
    assert meta["settings"]["depth_estimator"] == "maroon"
    assert abs(_peak(tmp_path / "o")[2] - FAR_TARGET_M[2]) < 3e-3  # the twin's target, not 30 cm


def test_image_rejects_an_unknown_h5_version(tmp_path: Path, array64: RadarArray) -> None:
    import h5py

    path = tmp_path / "capture.h5"
    s = simulate_points(array64, np.array([TARGET_M]), np.array([1.0]))
    write_measurement(path, s, array64)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 7
    result = runner.invoke(app, ["image", "--measured", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and not (tmp_path / "o").exists()
    assert result.stderr.strip() == (
        f"{path}: measurement format_version 7 is not supported (this radarface reads version 1)"
    )


def test_simulate_z_range(tmp_path: Path) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text("x_m,y_m,z_m,amplitude\n" + ",".join(map(str, FAR_TARGET_M)) + ",1.0\n")
    args = ["simulate", "--points", str(csv), *SMALL, "--freq-ghz", "72:82:32"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0 and "last slice (z = 36.0 cm)" in result.stderr, result.output
    assert json.loads((tmp_path / "o" / "params.json").read_text())["warnings"]
    result = runner.invoke(app, [*args, "--z-range-cm", "35:45", "--out", str(tmp_path / "o2")])
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output
    assert abs(_peak(tmp_path / "o2")[2] - FAR_TARGET_M[2]) < 3e-3


def test_simulate_mesh_in_maroon_frame(tmp_path: Path, make_plate) -> None:
    vertices, faces = make_plate(0.006, (0.012, 0.0, 0.25))  # right of centre in the radar frame
    path = tmp_path / "plate_maroon.ply"  # as registered to a MAROON capture: x mirrored
    trimesh.Trimesh(maroon_to_radar(vertices), faces[:, ::-1], process=False).export(path)
    args = ["simulate", "--mesh", str(path), "--mesh-frame", "maroon", "--material", "0", *SMALL]
    args += ["--pitch-mm", "2", "--freq-ghz", "72:82:32"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    x, _, depth = _peak(tmp_path / "o")
    assert abs(x - 0.012) <= 2e-3 and abs(depth - 0.25) < 3e-3
    assert json.loads((tmp_path / "o" / "params.json").read_text())["mesh_frame"] == "maroon"


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
        (["simulate", "--z-range-cm", "36"], "--z-range-cm must be MIN:MAX in cm"),
        (["image", "--measured", "m.npy", "--z-range-cm", "36:20"], "0 < MIN <= MAX"),
        (["image", "--measured", "m.npy", "--empty-filtered"], "capture not found"),
        (["simulate", "--device", "gpu"], "unknown device 'gpu'"),
        (["image", "--measured", "m.h5", "--device", "cuda:99"], "CUDA device(s)"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == (2 if "--device" in args else 1)  # a bad option value: usage
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_the_first_run_says_it_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the kernels cached nothing is said; with a cold cache, one line on stderr first."""
    import radarface.radar as radar
    from radarface.radar import render_kernels_cached

    csv = tmp_path / "points.csv"
    csv.write_text("x_m,y_m,z_m,amplitude\n" + ",".join(map(str, TARGET_M)) + ",1.0\n")
    args = ["simulate", "--points", str(csv), *SMALL]
    warm = runner.invoke(app, [*args, "--out", str(tmp_path / "warm")])
    assert warm.exit_code == 0 and render_kernels_cached()
    assert "compiling" not in warm.stderr
    monkeypatch.setattr(radar, "render_kernels_cached", lambda: False)
    cold = runner.invoke(app, [*args, "--out", str(tmp_path / "cold")])
    assert cold.exit_code == 0, cold.output
    assert cold.stderr.startswith("compiling the radar kernels for this machine (once")
