"""Trained runs for reconstruction: an encoder (or autoencoder) and a learned renderer, checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from radarface.data import DatasetConfig
from radarface.nn import Autoencoder, Decoder, Encoder
from radarface.train import TrainConfig, load_checkpoint
from radarface.train.loop import CHECKPOINT


@dataclass(frozen=True)
class TrainedRun:
    """A finished training run: its stage, settings, what it reads and its network (eval mode)."""

    path: Path
    stage: str  # encoder, decoder or autoencoder
    config: TrainConfig
    image: str  # the images it reads (encoder: its input) or renders (decoder: its target)
    dataset: DatasetConfig  # the dataset it was trained on (grid, array, face model)
    face_model_hash: str
    network: nn.Module


def _read_config(path: Path) -> dict[str, Any]:
    config = path / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"not a training run (no config.json): {path}")
    if not (path / CHECKPOINT).is_file():
        raise FileNotFoundError(f"training run {path} has no {CHECKPOINT} (not trained yet?)")
    try:
        return json.loads(config.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{config}: not valid JSON ({err.msg})") from None


def load_run(path: str | Path, stages: tuple[str, ...]) -> TrainedRun:
    """The run at `path`, whose stage must be one of `stages`; its weights load with
    weights_only=True. An autoencoder run yields its whole Autoencoder."""
    path = Path(path)
    info = _read_config(path)
    stage = info.get("stage")
    if stage not in stages:
        raise ValueError(f"{path} is a {stage} run; expected a {' or '.join(stages)} run")
    config = TrainConfig.from_dict(info["config"])
    network: nn.Module = {
        "encoder": lambda: Encoder(config.net),
        "decoder": lambda: Decoder(config.net),
        "autoencoder": lambda: Autoencoder(Encoder(config.net), Decoder(config.net)),
    }[stage]()
    network.load_state_dict(load_checkpoint(path / CHECKPOINT)["model"])
    network.eval().requires_grad_(False)
    return TrainedRun(
        path=path,
        stage=stage,
        config=config,
        image=info["input"],
        dataset=DatasetConfig.from_json(info["dataset_config"]),
        face_model_hash=info["face_model_hash"],
        network=network,
    )


def check_compatible(encoder: TrainedRun, decoder: TrainedRun) -> None:
    """An encoder and a learned renderer made for the same images and face model."""
    if encoder.face_model_hash != decoder.face_model_hash:
        raise ValueError(
            f"{encoder.path} and {decoder.path} were trained with different face models"
        )
    if encoder.dataset.image_shape != decoder.dataset.image_shape:
        raise ValueError(
            f"{encoder.path} reads {encoder.dataset.image_shape} images, {decoder.path} renders "
            f"{decoder.dataset.image_shape}"
        )
