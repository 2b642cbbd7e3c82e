"""`radarface train`: the three stages on a tiny generated dataset, overrides, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radarface.cli import app
from radarface.data import build_config, generate_dataset
from radarface.radar import ImagingGrid, RadarArray, linear_sweep, qar50_array
from radarface.train import parse_overrides, run_stage

# Tiny networks and one epoch: the point is the wiring, not the fit.
FAST = ["--epochs", "1", "--batch-size", "4"]
FAST += ["--set", "net.width=0.0625", "--set", "progress=false"]


@pytest.fixture(scope="module")
def dataset(bump_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 samples (2 validation) of 64 x 64 pixels from a sparse QAR50 with 16 frequencies."""
    qar50 = qar50_array(linear_sweep(72e9, 82e9, 16))
    array = RadarArray(qar50.tx_m[::6], qar50.rx_m[::6], qar50.freq_hz)
    config = build_config(
        array=array,
        grid=ImagingGrid(n_x=64, n_y=64, pitch_m=4e-3),
        face_model_path=bump_model_path,
        n=8,
        n_val=2,
    )
    out = tmp_path_factory.mktemp("train-data") / "data"
    generate_dataset(out, config, bump_model_path, 1, progress=False)
    return out


def train(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["train", *map(str, args)])
    return result.exit_code, result.output


def test_three_stages_from_the_cli(dataset: Path, bump_model_path: Path, tmp_path: Path) -> None:
    common = ["--data", dataset, "--face-model", bump_model_path, *FAST]
    code, out = train("encoder", "--out", tmp_path / "enc", "--input", "amplitude-depth", *common)
    assert code == 0, out
    code, out = train("decoder", "--out", tmp_path / "dec", "--decoder-target", "depth", *common)
    assert code == 0, out
    code, out = train(
        "autoencoder", "--out", tmp_path / "ae", "--input", "amplitude-depth",
        "--encoder", tmp_path / "enc", "--decoder", tmp_path / "dec", *common,
    )  # fmt: skip
    assert code == 0, out
    config = json.loads((tmp_path / "ae" / "config.json").read_text())
    assert config["config"]["net"]["in_channels"] == 2
    assert config["config"]["net"]["decoder_target"] == "depth"  # taken from the decoder run
    assert config["dataset_config"]["n"] == 8 and len(config["face_model_hash"]) > 8
    metrics = json.loads((tmp_path / "ae" / "metrics.json").read_text())["final"]["val"]
    assert {"shape", "expression", "point_dist_mm", "image"} <= metrics.keys()


def test_overrides_parse_and_reject_unknown_keys() -> None:
    parsed = parse_overrides(["epochs=3", "lr=0.5", "net.blocks=[1,1,1,1]", "device=cpu"])
    assert parsed == {
        "epochs": 3,
        "lr": 0.5,
        "device": "cpu",
        "net_overrides": {"blocks": (1, 1, 1, 1)},
    }
    with pytest.raises(ValueError, match="unknown training setting 'epoch'"):
        parse_overrides(["epoch=3"])
    with pytest.raises(ValueError, match="unknown network setting"):
        parse_overrides(["net.depth=3"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_overrides(["epochs"])


def test_bad_inputs_give_one_line_errors(dataset: Path, tmp_path: Path) -> None:
    code, out = train("autoencoder", "--data", dataset, "--out", tmp_path / "ae", *FAST)
    assert code == 1 and "needs --encoder RUN and --decoder RUN" in out
    code, out = train("encoder", "--data", tmp_path / "missing", "--out", tmp_path / "e", *FAST)
    assert code == 1 and "no such dataset" in out


def test_unknown_stage_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown stage 'renderer'; use one of encoder, decoder"):
        run_stage("renderer", tmp_path / "missing", tmp_path / "out")
