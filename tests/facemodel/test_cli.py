"""The `radarface facemodel` commands through typer's CliRunner."""

import json

import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from radarface.cli import app
from radarface.facemodel import load_model, save_model

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_user_model(monkeypatch, tmp_path):
    monkeypatch.delenv("RADARFACE_FACE_MODEL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def test_sample_writes_meshes_and_params(make_model, tmp_path):
    model_path = save_model(make_model(), tmp_path / "m.npz")
    out = tmp_path / "samples"
    result = runner.invoke(
        app,
        [
            "facemodel",
            "sample",
            "--n",
            "3",
            "--seed",
            "7",
            "--out",
            str(out),
            "--face-model",
            str(model_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "face_000.ply",
        "face_001.ply",
        "face_002.ply",
        "params.json",
    ]
    params = json.loads((out / "params.json").read_text())
    assert params["seed"] == 7 and params["face_model"] == "tiny"
    assert params["face_model_hash"] == load_model(model_path).content_hash
    assert "radarface_version" in params and len(params["params"]["shape"]) == 3
    mesh = trimesh.load(out / "face_000.ply", process=False)
    assert 0.15 < mesh.vertices[:, 2].mean() < 0.35  # placed in front of the array

    result = runner.invoke(
        app,
        [
            "facemodel",
            "sample",
            "--n",
            "1",
            "--out",
            str(out / "obj"),
            "--format",
            "obj",
            "--face-model",
            str(model_path),
        ],
    )
    assert result.exit_code == 0 and (out / "obj" / "face_000.obj").is_file()


def test_info_prints_summary(make_model, tmp_path, monkeypatch):
    model = make_model()
    monkeypatch.setenv("RADARFACE_FACE_MODEL", str(save_model(model, tmp_path / "m.npz")))
    result = runner.invoke(app, ["facemodel", "info"])
    assert result.exit_code == 0
    assert "name: tiny" in result.output and model.content_hash in result.output
    assert "expr_variance_share_first_7: 1.0000" in result.output


def test_missing_model_is_a_one_line_error():
    result = runner.invoke(app, ["facemodel", "info"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "facemodel fetch ict` or `radarface facemodel import PATH" in lines[0]
    )
    assert "Traceback" not in result.output


def test_import_into_cache_and_bad_input(write_ict_checkout, tmp_path):
    checkout = write_ict_checkout(tmp_path / "checkout")
    result = runner.invoke(app, ["facemodel", "import", str(checkout), "--region", "narrow-face"])
    assert result.exit_code == 0, result.output
    cached = load_model(tmp_path / "xdg" / "radarface" / "face_model.npz")
    assert cached.name == "ict-facekit:narrow-face" and cached.n_vertices == 10
    np.savez(tmp_path / "junk.npz", a=np.zeros(1))
    result = runner.invoke(
        app, ["facemodel", "import", str(tmp_path / "junk.npz"), "--out", str(tmp_path / "x.npz")]
    )
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "junk.npz" in result.stderr and not (tmp_path / "x.npz").exists()


def test_fetch_rejects_unknown_source():
    result = runner.invoke(app, ["facemodel", "fetch", "bfm"])
    assert result.exit_code == 1 and "only 'ict'" in result.stderr
