"""Training: encoder, learned renderer and autoencoder (paper Sec. 3.3-3.5)."""

from radarface.train.config import TrainConfig
from radarface.train.loop import fit, load_checkpoint, validate
from radarface.train.run import parse_overrides, run_stage
from radarface.train.stages import train_autoencoder, train_decoder, train_encoder

__all__ = [
    "TrainConfig",
    "fit",
    "load_checkpoint",
    "parse_overrides",
    "run_stage",
    "train_autoencoder",
    "train_decoder",
    "train_encoder",
    "validate",
]
