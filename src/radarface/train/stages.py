"""The paper's three training stages as data (Sec. 3.3-3.5), and one function that trains each."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from radarface import params as P
from radarface.data import RadarFaceDataset
from radarface.eval.metrics import ParamMetric
from radarface.nn.models import Autoencoder, Decoder, Encoder
from radarface.train.config import STAGE_NAMES, TrainConfig
from radarface.train.loop import (
    CHECKPOINT,
    Batch,
    LossFn,
    LossOutput,
    load_checkpoint,
    train_loop,
)

RunPath = str | os.PathLike
Runs = Mapping[str, RunPath]
"""Earlier training runs a stage builds on, by their stage: {"encoder": RUN, "decoder": RUN}."""
DynamicRange = float | tuple[float, float]
"""A dynamic range in dB, or (lo, hi) for one drawn per item and epoch."""


def _encoder_loss(model: nn.Module, batch: Batch) -> LossOutput:
    """Items (image (C,H,W), params (26,)): L2 on the parameter vector."""
    image, target = batch[0], batch[1]
    pred = model(image).float()
    loss = F.mse_loss(pred, target)
    return loss, {"params": loss}, (pred, target)


def _decoder_loss(model: nn.Module, batch: Batch) -> LossOutput:
    """Items (params (26,), image (1,H,W)): L2 on the rendered image."""
    params, image = batch[0], batch[1]
    loss = F.mse_loss(model(params).float(), image)
    return loss, {"image": loss}, None


def _autoencoder_loss(cfg: TrainConfig) -> LossFn:
    """Items (image (C,H,W), params (26,)[, recon target (1,H,W)]): L_image + lambda * L_params.

    Without a third element the target image is input channel `cfg.recon_channel`; since the
    decoder renders at 15 dB, amplitude datasets with other dynamic ranges should supply the
    15 dB image as the third element.
    """

    def loss_fn(model: nn.Module, batch: Batch) -> LossOutput:
        image, target = batch[0], batch[1]
        c = cfg.recon_channel
        recon_target = batch[2] if len(batch) > 2 else image[:, c : c + 1]
        pred, recon = model(image)
        pred = pred.float()
        l_image = F.mse_loss(recon.float(), recon_target)
        l_params = F.mse_loss(pred, target)
        parts = {"image": l_image, "params": l_params}
        return l_image + cfg.lambda_params * l_params, parts, (pred, target)

    return loss_fn


def _autoencoder(cfg: TrainConfig, runs: Runs) -> Autoencoder:
    """The trained encoder and decoder of the two runs (both built from cfg.net)."""
    encoder, decoder = Encoder(cfg.net), Decoder(cfg.net)
    encoder.load_state_dict(load_checkpoint(Path(runs["encoder"]) / CHECKPOINT)["model"])
    decoder.load_state_dict(load_checkpoint(Path(runs["decoder"]) / CHECKPOINT)["model"])
    return Autoencoder(encoder, decoder)


def _run_config(run_dir: Path) -> dict[str, Any]:
    """The config.json of a training run directory."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"not a training run (no config.json): {run_dir}")
    return json.loads(path.read_text())


def _decoder_run_target(runs: Runs) -> dict[str, Any]:
    """The autoencoder reconstructs what its decoder run renders: that run's decoder_target."""
    decoder = TrainConfig.from_dict(_run_config(Path(runs["decoder"]))["config"])
    return {"decoder_target": decoder.net.decoder_target}


def _no_net_overrides(runs: Runs) -> dict[str, Any]:
    """No network settings taken from earlier runs."""
    return {}


@dataclass(frozen=True)
class StageData:
    """The items a stage reads from a radarface dataset, and their dynamic ranges (paper 3.5)."""

    train_db: DynamicRange
    val_db: DynamicRange
    decoder_target: bool = False  # items carry the decoder's target image (cfg.net.decoder_target)
    items: str = "input"  # RadarFaceDataset items; "renderer": (params, decoder target) only

    def datasets(self, data_dir: Path, input: str, cfg: TrainConfig) -> tuple[Dataset, Dataset]:
        """Training and validation datasets of the split's `input` images, seeded by cfg.seed."""
        target = cfg.net.decoder_target if self.decoder_target else None

        def split(name: str, dynamic_range_db: DynamicRange) -> Dataset:
            return RadarFaceDataset(
                data_dir, name, input, dynamic_range_db,
                seed=cfg.seed, decoder_target=target, items=self.items,
            )  # fmt: skip

        return split("train", self.train_db), split("val", self.val_db)

    def image(self, input: str, cfg: TrainConfig) -> str:
        """The image the stage reads: the network `input`, or the renderer's target image."""
        return cfg.net.decoder_target if self.items == "renderer" else input


@dataclass(frozen=True)
class StageSpec:
    """One training stage: its model, loss, data, metrics and the earlier runs it builds on."""

    build: Callable[[TrainConfig, Runs], nn.Module]
    loss: Callable[[TrainConfig], LossFn]
    data: StageData
    param_metrics: bool  # predicts parameters: validated with the face-model metrics too
    runs: tuple[str, ...] = ()  # the earlier runs it needs, by their stage
    net_overrides: Callable[[Runs], dict[str, Any]] = _no_net_overrides


STAGES: dict[str, StageSpec] = {
    "encoder": StageSpec(
        build=lambda cfg, runs: Encoder(cfg.net),
        loss=lambda cfg: _encoder_loss,
        data=StageData(P.DYNAMIC_RANGE_DB, P.VALIDATION_DYNAMIC_RANGE_DB),
        param_metrics=True,
    ),
    # The renderer draws at the fixed 15 dB; its inputs are the parameters, whose dynamic range
    # entry is then 15 dB too.
    "decoder": StageSpec(
        build=lambda cfg, runs: Decoder(cfg.net),
        loss=lambda cfg: _decoder_loss,
        data=StageData(
            P.DECODER_DYNAMIC_RANGE_DB,
            P.DECODER_DYNAMIC_RANGE_DB,
            decoder_target=True,
            items="renderer",
        ),  # fmt: skip
        param_metrics=False,
    ),
    # The trained encoder fine-tuned through the frozen trained decoder.
    "autoencoder": StageSpec(
        build=_autoencoder,
        loss=_autoencoder_loss,
        data=StageData(P.DYNAMIC_RANGE_DB, P.VALIDATION_DYNAMIC_RANGE_DB, decoder_target=True),
        param_metrics=True,
        runs=("encoder", "decoder"),
        net_overrides=_decoder_run_target,
    ),
}


def stage_spec(stage: str) -> StageSpec:
    """The registered stage `stage`; an unknown name is a one-line ValueError."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; use one of {', '.join(STAGE_NAMES)}")
    return STAGES[stage]


def stage_runs(stage: str, runs: Mapping[str, RunPath | None]) -> dict[str, RunPath]:
    """The earlier runs `stage` needs, picked from `runs`; a missing one is a ValueError."""
    needed = stage_spec(stage).runs
    if any(runs.get(name) is None for name in needed):
        raise ValueError(f"the {stage} needs " + " and ".join(f"--{name} RUN" for name in needed))
    return {name: runs[name] for name in needed}


def train_stage(
    stage: str,
    train_ds: Dataset,
    val_ds: Dataset,
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    runs: Mapping[str, RunPath | None] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    metrics: Mapping[str, ParamMetric] | None = None,
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train `stage` (a STAGES name) on datasets of its items; the earlier runs it builds on and
    run_info (e.g. data hashes) go to config.json, `metrics` to validation."""
    spec = stage_spec(stage)
    needed = stage_runs(stage, runs or {})
    info = {**{f"{name}_run": str(path) for name, path in needed.items()}, **(run_info or {})}
    return train_loop(
        lambda: spec.build(cfg, needed),
        spec.loss(cfg),
        train_ds,
        val_ds,
        cfg,
        out_dir,
        stage=stage,
        resume=resume,
        overwrite=overwrite,
        metrics=metrics,
        run_info=info,
    )
