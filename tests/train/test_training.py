"""Training stages on tiny synthetic data: resume, checkpoints, config records, frozen decoder."""

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import SyntheticFaces

from radarface.nn import NetConfig
from radarface.train import (
    PRESETS,
    STAGE_NAMES,
    STAGES,
    TrainConfig,
    load_checkpoint,
    train_stage,
)
from radarface.train.loop import _rng_state, _set_rng_state

TINY_NET = NetConfig(width=1 / 16, blocks=(1, 1, 1, 1), image_size=64)


def tiny_cfg(stage: str, **overrides: object) -> TrainConfig:
    """cpu preset with a tiny net, 2 epochs, small batches and deterministic kernels."""
    base = {"net": TINY_NET, "epochs": 2, "batch_size": 8, "deterministic": True, "progress": False}
    return TrainConfig.preset("cpu", stage, **{**base, **overrides})


def test_presets() -> None:
    enc = TrainConfig.preset("paper", "encoder")
    assert (enc.epochs, enc.batch_size, enc.lr, enc.lr_end, enc.lr_ramp_epochs) == (
        200,
        50,
        0.01,
        0.001,
        150,
    )
    assert [enc.lr * enc.lr_factor(e) for e in (0, 75, 150, 199)] == pytest.approx(
        [0.01, 0.0055, 0.001, 0.001]
    )
    dec, ae = TrainConfig.preset("paper", "decoder"), TrainConfig.preset("paper", "autoencoder")
    assert (dec.epochs, dec.batch_size, dec.lr, dec.lr_factor(299)) == (300, 150, 0.001, 1.0)
    assert (ae.epochs, ae.batch_size, ae.lr, ae.lambda_params) == (300, 50, 0.001, 1.0)
    assert TrainConfig.preset("cpu", "encoder").net == NetConfig.cpu()


def test_stage_registry(tmp_path: Path) -> None:
    assert STAGE_NAMES == ("encoder", "decoder", "autoencoder") == tuple(STAGES)
    assert all(TrainConfig.preset(p, s).epochs > 0 for p in PRESETS for s in STAGE_NAMES)
    assert [STAGES[s].param_metrics for s in STAGE_NAMES] == [True, False, True]
    data = SyntheticFaces(4), SyntheticFaces(4, seed=1)
    with pytest.raises(ValueError, match="unknown stage 'fit'; use one of encoder, decoder, auto"):
        train_stage("fit", *data, tiny_cfg("encoder"), tmp_path)
    with pytest.raises(ValueError, match="the autoencoder needs --encoder RUN and --decoder RUN"):
        train_stage("autoencoder", *data, tiny_cfg("autoencoder"), tmp_path, runs={"encoder": "e"})
    with pytest.raises(ValueError, match="unknown preset 'gpu'; use one of paper, cpu"):
        TrainConfig.preset("gpu", "encoder")
    assert not any(tmp_path.iterdir())


def test_resume_equals_uninterrupted(tmp_path: Path) -> None:
    train, val = SyntheticFaces(24), SyntheticFaces(8, seed=1)
    cfg = tiny_cfg(
        "encoder", net=replace(TINY_NET, dropout=0.5), lr_end=0.005, lr_ramp_epochs=2,
        weight_decay=0.01,
    )  # fmt: skip
    full = train_stage("encoder", train, val, cfg, tmp_path / "full")
    train_stage("encoder", train, val, replace(cfg, epochs=1), tmp_path / "split")
    resumed = train_stage("encoder", train, val, cfg, tmp_path / "split", resume=True)
    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == 1
    for k, v in a["model"].items():
        assert torch.equal(b["model"][k], v), k  # bitwise with deterministic settings
    assert resumed["val"] == pytest.approx(full["val"], abs=1e-6)
    assert a["scheduler"] == b["scheduler"]


def test_run_records_and_weights_only_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_load = torch.load

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    train, val = SyntheticFaces(16, channels=2), SyntheticFaces(8, channels=2, seed=1)
    cfg = tiny_cfg("encoder", epochs=1, net=replace(TINY_NET, in_channels=2))
    out = train_stage(
        "encoder",
        train,
        val,
        cfg,
        tmp_path,
        run_info={"dataset_sha256": "abc"},
        metrics={"point_dist_mm": lambda p, t: (p - t).abs().mean(dim=1)},
    )
    for key in ("shape", "expression", "translation", "rotation", "total", "all", "point_dist_mm"):
        assert key in out["val"]
    record = json.loads((tmp_path / "config.json").read_text())
    assert record["dataset_sha256"] == "abc" and record["seed"] == 0
    assert "radarface_version" in record and record["stage"] == "encoder"
    assert TrainConfig.from_dict(record["config"]) == cfg
    assert any((tmp_path / "tensorboard").iterdir())
    monkeypatch.setattr(torch, "load", spy)
    train_stage("encoder", train, val, replace(cfg, epochs=2), tmp_path, resume=True)
    assert calls == [True]


def test_decoder_then_autoencoder(tmp_path: Path) -> None:
    enc_cfg = tiny_cfg("encoder", epochs=1)
    train_stage("encoder", SyntheticFaces(16), SyntheticFaces(8, seed=1), enc_cfg, tmp_path / "enc")
    dec = train_stage(
        "decoder",
        SyntheticFaces(16, decoder=True),
        SyntheticFaces(8, decoder=True, seed=1),
        tiny_cfg("decoder", epochs=1),
        tmp_path / "dec",
    )
    assert set(dec["val"]) == {"loss", "image"}
    out = train_stage(
        "autoencoder",
        SyntheticFaces(16),
        SyntheticFaces(8, seed=1),
        tiny_cfg("autoencoder", bf16=True),
        tmp_path / "ae",
        runs={"encoder": tmp_path / "enc", "decoder": tmp_path / "dec"},
    )
    assert {"image", "params", "total"} <= set(out["val"])
    ae = load_checkpoint(tmp_path / "ae" / "checkpoint.pt")["model"]
    dec_weights = load_checkpoint(tmp_path / "dec" / "checkpoint.pt")["model"]
    assert all(torch.equal(ae[f"decoder.{k}"], v) for k, v in dec_weights.items())


def test_rng_state_round_trip_is_weights_only_safe(tmp_path: Path) -> None:
    torch.save(_rng_state(), tmp_path / "rng.pt")
    first = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    _set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    second = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    assert torch.equal(first[0], second[0]) and (first[1] == second[1]).all()
    assert first[2] == second[2]


def test_an_existing_run_is_replaced_only_with_overwrite(tmp_path: Path) -> None:
    train, val = SyntheticFaces(8), SyntheticFaces(4, seed=1)
    cfg = tiny_cfg("encoder", epochs=1)
    train_stage("encoder", train, val, cfg, tmp_path / "run")
    first = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    logs = sorted((tmp_path / "run" / "tensorboard").iterdir())
    with pytest.raises(ValueError, match="already holds a training run; continue it with --resume"):
        train_stage("encoder", train, val, cfg, tmp_path / "run")
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == first  # untouched
    with pytest.raises(ValueError, match="holds no checkpoint.pt to continue"):
        train_stage("encoder", train, val, cfg, tmp_path / "mistyped", resume=True)
    assert not (tmp_path / "mistyped").exists()
    train_stage("encoder", train, val, replace(cfg, seed=3), tmp_path / "run", overwrite=True)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 3
    assert not set(logs) & set((tmp_path / "run" / "tensorboard").iterdir())  # old logs gone


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", "abc", "epochs must be a whole number >= 1"),
        ("epochs", 0, "epochs must be"),
        ("lr", -1.0, "lr must be a number > 0"),
        ("bf16", "yes", "bf16 must be true or false"),
        ("batch_size", 2.5, "batch_size must be"),
    ],
)
def test_train_config_rejects_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(tiny_cfg("encoder"), **{field: value})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("width", 0, r"net.width must be in \(0, 16\], got 0"),
        ("blocks", (0, 0, 0, 0), "net.blocks must be four whole numbers >= 1"),
        ("blocks", (1, 1, 1), "net.blocks"),
        ("in_channels", 3, "net.in_channels must be 1 or 2"),
        ("dropout", 1.0, "net.dropout"),
        ("decoder_target", "phase", "net.decoder_target"),
    ],
)
def test_net_config_rejects_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(TINY_NET, **{field: value})
