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
from radarface.radar.simulate import coherent_sum, simulate_points

__all__ = [
    "SPEED_OF_LIGHT_M_S",
    "ImagingGrid",
    "RadarArray",
    "array_from_files",
    "coherent_sum",
    "linear_sweep",
    "qar50_array",
    "read_positions_csv",
    "simulate_points",
]
