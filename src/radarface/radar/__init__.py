"""radarface.radar: MIMO arrays, coherent simulation, back-projection imaging, measured data."""

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
from radarface.radar.measured import read_maroon, read_measurement, write_measurement
from radarface.radar.reflectance import ANTENNA_SIZE_UNIT_M, Reflectance
from radarface.radar.scene import (
    MeshScatterers,
    SamplingConfig,
    mesh_scatterers,
    scatterers_from_vertices,
)
from radarface.radar.simulate import (
    add_noise,
    coherent_sum,
    simulate,
    simulate_mesh,
    simulate_points,
    simulate_scatterers_reference,
    simulate_scatterers_torch,
)

__all__ = [
    "ANTENNA_SIZE_UNIT_M",
    "SPEED_OF_LIGHT_M_S",
    "ImagingGrid",
    "MeshScatterers",
    "RadarArray",
    "RadarImage",
    "Reflectance",
    "SamplingConfig",
    "add_noise",
    "apply_dynamic_range",
    "array_from_files",
    "backproject",
    "backproject_reference",
    "backproject_torch",
    "coherent_sum",
    "form_image",
    "image_volume",
    "linear_sweep",
    "mesh_scatterers",
    "project_volume",
    "qar50_array",
    "read_maroon",
    "read_measurement",
    "read_positions_csv",
    "scatterers_from_vertices",
    "simulate",
    "simulate_mesh",
    "simulate_points",
    "simulate_scatterers_reference",
    "simulate_scatterers_torch",
    "write_measurement",
]
