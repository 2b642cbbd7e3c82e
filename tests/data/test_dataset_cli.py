"""The dataset commands: info, show, and generate's errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from radarface.cli import app

runner = CliRunner()


def test_info(tiny_dataset: Path) -> None:
    result = runner.invoke(app, ["dataset", "info", str(tiny_dataset)])
    assert result.exit_code == 0, result.output
    lines = ("kind: random", "done: 12 of 12", "splits: 9 train, 3 val", "face_model: bump")
    for line in (*lines, "scattering: coherent, sub-facets <= 8 mm, exact facet integral"):
        assert line in result.output
    assert "16 x 16 pixels at 4 mm" in result.output and "disk: " in result.output


def test_show(tiny, tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "sample.png"
    args = ["dataset", "show", str(tiny_dataset), "--index", "3", "--out", str(out)]
    result = runner.invoke(app, [*args, "--face-model", str(tiny.model_path)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(app, [*args[:4], "12", *args[5:]])
    assert bad.exit_code == 1 and "index 12 is outside [0, 12)" in bad.output


def test_generate_errors_are_one_line(tiny, tiny_dataset: Path, tmp_path: Path) -> None:
    base = ["dataset", "generate", *tiny.cli_args(), "--no-progress"]
    result = runner.invoke(app, [*base, "--out", str(tiny_dataset), "--n", "12", "--seed", "6"])
    assert result.exit_code == 1 and "another configuration (differs in: " in result.output
    assert result.output.count("\n") == 1
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "e"), "--kind", "eval", "--n", "9"])
    assert result.exit_code == 1 and "an eval set has 50 samples" in result.output
    assert not (tmp_path / "e").exists()
