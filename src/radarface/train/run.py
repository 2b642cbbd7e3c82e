"""One training stage on a radarface dataset: datasets, metrics and provenance for the loop."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from radarface.data import DatasetConfig, load_checked_model, open_dataset
from radarface.eval.metrics import face_model_metrics
from radarface.facemodel import resolve_face_model_path
from radarface.nn.config import NetConfig
from radarface.train.config import Preset, TrainConfig
from radarface.train.loop import check_run_dir
from radarface.train.stages import stage_runs, stage_spec, train_stage

#: Smallest image the encoder's AlexNet accepts (its strides reduce 63 pixels to one).
MIN_IMAGE_PIXELS = 64


def run_stage(
    stage: str,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    input: str = "amplitude",
    preset: Preset = "cpu",
    resume: bool = False,
    overwrite: bool = False,
    encoder_run: str | os.PathLike | None = None,
    decoder_run: str | os.PathLike | None = None,
    face_model: str | os.PathLike | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train `stage` (a STAGES name) on the dataset at data_dir into out_dir; returns the last
    epoch's metrics.

    input: amplitude, depth or amplitude-depth (encoder and autoencoder); the decoder renders
    `net.decoder_target` (amplitude or depth) at 15 dB. overrides: any TrainConfig field, and
    NetConfig fields through `net_overrides={...}`.
    """
    data_dir = Path(data_dir)
    spec = stage_spec(stage)
    runs = stage_runs(stage, {"encoder": encoder_run, "decoder": decoder_run})
    # The run directory and the user's settings are checked before any data is read.
    check_run_dir(Path(out_dir), resume, overwrite)
    user_net = overrides.pop("net_overrides", {})
    base = TrainConfig.preset(preset, stage)
    base = dataclasses.replace(base, net=dataclasses.replace(base.net, **user_net), **overrides)
    config = DatasetConfig.from_json(open_dataset(data_dir).attrs["config"])
    model = load_checked_model(resolve_face_model_path(face_model), config)
    if config.grid.n_x != config.grid.n_y or config.grid.n_x < MIN_IMAGE_PIXELS:
        raise ValueError(
            f"{data_dir}: the networks need square images of at least {MIN_IMAGE_PIXELS} pixels "
            f"(AlexNet's strides), got {config.image_shape}"
        )
    net_overrides = {
        "in_channels": 2 if input == "amplitude-depth" else 1,
        "image_size": config.grid.n_x,
        **spec.net_overrides(runs),
        **user_net,
    }
    cfg = dataclasses.replace(base, net=dataclasses.replace(base.net, **net_overrides))
    train_ds, val_ds = spec.data.datasets(data_dir, input, cfg)
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise ValueError(f"{data_dir}: the train and val splits must both be non-empty")
    info = {
        "data_dir": str(data_dir),
        "dataset_config": config.to_json(),
        "face_model_hash": model.content_hash,
        "input": spec.data.image(input, cfg),
    }
    metrics = face_model_metrics(model) if spec.param_metrics else None
    return train_stage(
        stage, train_ds, val_ds, cfg, out_dir,
        runs=runs, resume=resume, overwrite=overwrite, metrics=metrics, run_info=info,
    )  # fmt: skip


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """["epochs=3", "net.width=0.5"] -> {"epochs": 3, "net_overrides": {"width": 0.5}}.

    Values are JSON where they parse (numbers, true/false, lists), else strings.
    """
    out: dict[str, Any] = {}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    net_fields = {f.name for f in dataclasses.fields(NetConfig)}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if key.startswith("net."):
            if key[4:] not in net_fields:
                raise ValueError(f"unknown network setting {key!r}; known: {sorted(net_fields)}")
            value = tuple(value) if isinstance(value, list) else value
            out.setdefault("net_overrides", {})[key[4:]] = value
        elif key in train_fields - {"net"}:
            out[key] = value
        else:
            known = sorted(train_fields - {"net"})
            raise ValueError(f"unknown training setting {key!r}; known: {known}")
    return out
