"""Training: encoder, learned renderer and autoencoder (paper Sec. 3.3-3.5)."""

from radarface.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "config": ["PRESETS", "STAGE_NAMES", "TrainConfig"],
        "loop": ["load_checkpoint", "train_loop", "validate"],
        "run": ["parse_overrides", "run_stage"],
        "stages": ["STAGES", "StageData", "StageSpec", "stage_spec", "train_stage"],
    },
)
