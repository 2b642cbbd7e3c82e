"""Training: encoder, learned renderer and autoencoder (paper Sec. 3.3-3.5)."""

from radarface.train.config import PRESETS, TrainConfig
from radarface.train.loop import load_checkpoint, train_loop, validate
from radarface.train.run import parse_overrides, run_stage
from radarface.train.stages import (
    STAGE_NAMES,
    STAGES,
    StageData,
    StageSpec,
    stage_spec,
    train_stage,
)

__all__ = [
    "PRESETS",
    "STAGES",
    "STAGE_NAMES",
    "StageData",
    "StageSpec",
    "TrainConfig",
    "load_checkpoint",
    "parse_overrides",
    "run_stage",
    "stage_spec",
    "train_loop",
    "train_stage",
    "validate",
]
