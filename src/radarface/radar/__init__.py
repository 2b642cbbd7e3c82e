"""radarface.radar: MIMO arrays, coherent simulation and back-projection imaging."""

from radarface.radar.array import (
    SPEED_OF_LIGHT_M_S,
    ImagingGrid,
    RadarArray,
    array_from_files,
    linear_sweep,
    qar50_array,
    read_positions_csv,
)
from radarface.radar.images import (
    RadarImage,
    apply_dynamic_range,
    form_image,
    image_volume,
    project_volume,
)
from radarface.radar.imaging import backproject, backproject_reference, backproject_torch
from radarface.radar.simulate import coherent_sum, simulate_points

__all__ = [
    "SPEED_OF_LIGHT_M_S",
    "ImagingGrid",
    "RadarArray",
    "RadarImage",
    "apply_dynamic_range",
    "array_from_files",
    "backproject",
    "backproject_reference",
    "backproject_torch",
    "coherent_sum",
    "form_image",
    "image_volume",
    "linear_sweep",
    "project_volume",
    "qar50_array",
    "read_positions_csv",
    "simulate_points",
]
