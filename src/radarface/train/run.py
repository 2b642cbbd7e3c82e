"""One training stage on a radarface dataset: datasets, metrics and provenance for `fit`."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from radarface import params as P
from radarface.data import DatasetConfig, RadarFaceDataset, load_checked_model, open_dataset
from radarface.eval import vertex_distance
from radarface.facemodel import resolve_face_model_path
from radarface.nn.config import NetConfig
from radarface.train.config import Preset, Stage, TrainConfig
from radarface.train.stages import train_autoencoder, train_decoder, train_encoder

#: Smallest image the encoder's AlexNet accepts (its strides reduce 63 pixels to one).
MIN_IMAGE_PIXELS = 64


class RendererItems(Dataset):
    """(params (26,), image (1, H, W)) items for the learned renderer, from a dataset whose items
    carry a decoder target as their third element."""

    def __init__(self, items: RadarFaceDataset) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        _, params, image = self.items[i]
        return params, image


def _datasets(
    stage: Stage, data_dir: Path, input: str, decoder_target: str, seed: int
) -> tuple[Dataset, Dataset]:
    """Training and validation datasets of one stage (paper 3.5's dynamic ranges)."""
    if stage == "decoder":
        # The renderer draws at the fixed 15 dB; its inputs are the parameters, whose dynamic
        # range entry is then 15 dB too.
        def renderer(split: str) -> Dataset:
            return RendererItems(
                RadarFaceDataset(
                    data_dir, split, decoder_target, P.DECODER_DYNAMIC_RANGE_DB,
                    seed=seed, decoder_target=decoder_target,
                )
            )  # fmt: skip

        return renderer("train"), renderer("val")
    target = decoder_target if stage == "autoencoder" else None
    train = RadarFaceDataset(
        data_dir, "train", input, P.DYNAMIC_RANGE_DB, seed=seed, decoder_target=target
    )
    val = RadarFaceDataset(
        data_dir, "val", input, P.VALIDATION_DYNAMIC_RANGE_DB, seed=seed, decoder_target=target
    )
    return train, val


def run_stage(
    stage: Stage,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    input: str = "amplitude",
    preset: Preset = "cpu",
    resume: bool = False,
    encoder_run: str | os.PathLike | None = None,
    decoder_run: str | os.PathLike | None = None,
    face_model: str | os.PathLike | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train `stage` on the dataset at data_dir into out_dir; returns the last epoch's metrics.

    input: amplitude, depth or amplitude-depth (encoder and autoencoder); the decoder renders
    `net.decoder_target` (amplitude or depth) at 15 dB. overrides: any TrainConfig field, and
    NetConfig fields through `net_overrides={...}`.
    """
    data_dir = Path(data_dir)
    if stage == "autoencoder" and (encoder_run is None or decoder_run is None):
        raise ValueError("the autoencoder needs --encoder RUN and --decoder RUN")
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
    }
    if stage == "autoencoder":  # the autoencoder reconstructs what its decoder renders
        decoder = TrainConfig.from_dict(_run_config(Path(decoder_run))["config"])
        net_overrides["decoder_target"] = decoder.net.decoder_target
    net_overrides.update(overrides.pop("net_overrides", {}))
    base = TrainConfig.preset(preset, stage)
    cfg = dataclasses.replace(base, net=dataclasses.replace(base.net, **net_overrides), **overrides)
    train_ds, val_ds = _datasets(stage, data_dir, input, cfg.net.decoder_target, cfg.seed)
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise ValueError(f"{data_dir}: the train and val splits must both be non-empty")
    info = {
        "data_dir": str(data_dir),
        "dataset_config": config.to_json(),
        "face_model_hash": model.content_hash,
        "input": input if stage != "decoder" else cfg.net.decoder_target,
    }
    distance = None if stage == "decoder" else vertex_distance(model)
    if stage == "encoder":
        return train_encoder(train_ds, val_ds, cfg, out_dir, resume, distance, info)
    if stage == "decoder":
        return train_decoder(train_ds, val_ds, cfg, out_dir, resume, info)
    return train_autoencoder(
        train_ds, val_ds, cfg, out_dir, encoder_run, decoder_run, resume, distance, info
    )


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


def _run_config(run_dir: Path) -> dict[str, Any]:
    """The config.json of a training run directory."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"not a training run (no config.json): {run_dir}")
    return json.loads(path.read_text())
