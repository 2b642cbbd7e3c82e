"""The paper's three training stages on top of the generic loop (Sec. 3.3-3.5)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from radarface.eval.metrics import VertexDistanceMm
from radarface.nn.models import Autoencoder, Decoder, Encoder
from radarface.train.config import TrainConfig
from radarface.train.loop import CHECKPOINT, Batch, LossFn, LossOutput, fit, load_checkpoint


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


def train_encoder(
    train_ds: Dataset,
    val_ds: Dataset,
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    resume: bool = False,
    vertex_distance_mm: VertexDistanceMm | None = None,
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the encoder (image -> 26 params, MSE); run_info (e.g. data hashes) -> config.json."""
    return fit(
        lambda: Encoder(cfg.net),
        _encoder_loss,
        train_ds,
        val_ds,
        cfg,
        out_dir,
        stage="encoder",
        resume=resume,
        vertex_distance_mm=vertex_distance_mm,
        run_info=run_info,
    )


def train_decoder(
    train_ds: Dataset,
    val_ds: Dataset,
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    resume: bool = False,
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the learned renderer (26 params -> 1-channel image, MSE)."""
    return fit(
        lambda: Decoder(cfg.net),
        _decoder_loss,
        train_ds,
        val_ds,
        cfg,
        out_dir,
        stage="decoder",
        resume=resume,
        run_info=run_info,
    )


def train_autoencoder(
    train_ds: Dataset,
    val_ds: Dataset,
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    encoder_run: str | os.PathLike,
    decoder_run: str | os.PathLike,
    resume: bool = False,
    vertex_distance_mm: VertexDistanceMm | None = None,
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fine-tune a trained encoder through the frozen trained decoder (both built from cfg.net)."""

    def build() -> Autoencoder:
        """The trained encoder and decoder of the two runs."""
        encoder, decoder = Encoder(cfg.net), Decoder(cfg.net)
        encoder.load_state_dict(load_checkpoint(Path(encoder_run) / CHECKPOINT)["model"])
        decoder.load_state_dict(load_checkpoint(Path(decoder_run) / CHECKPOINT)["model"])
        return Autoencoder(encoder, decoder)

    info = {"encoder_run": str(encoder_run), "decoder_run": str(decoder_run), **(run_info or {})}
    return fit(
        build,
        _autoencoder_loss(cfg),
        train_ds,
        val_ds,
        cfg,
        out_dir,
        stage="autoencoder",
        resume=resume,
        vertex_distance_mm=vertex_distance_mm,
        run_info=info,
    )
