"""Reconstruction: radar images -> faces by the encoder and test-time optimisation."""

from radarface.lazy import lazy_exports

# After the encoder: nothing, or test-time optimisation through the learned renderer, the depth
# image's geometry or the physics.
REFINEMENTS = ("none", "learned", "geometry", "physics")

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "geometry": ["GeometryConfig", "refine_geometry"],
        "inputs": ["RadarInput", "read_inputs"],
        "learned": ["RefineConfig", "refine_learned"],
        "outputs": ["reconstruct_to_dir", "write_reconstruction"],
        "reconstruct": ["Reconstruction", "RefineSettings", "reconstruct"],
        "runs": ["TrainedRun", "load_run"],
    },
)
