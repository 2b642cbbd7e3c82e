"""Reconstruction: radar images -> faces by the encoder and test-time optimisation."""

from radarface.lazy import lazy_exports

# After the encoder: nothing, or test-time optimisation through the learned renderer or physics.
REFINEMENTS = ("none", "learned", "physics")

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "inputs": ["RadarInput", "read_inputs"],
        "learned": ["RefineConfig", "refine_learned"],
        "outputs": ["reconstruct_to_dir", "write_reconstruction"],
        "reconstruct": ["Reconstruction", "reconstruct"],
        "runs": ["TrainedRun", "load_run"],
    },
)
