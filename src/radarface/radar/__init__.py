"""radarface.radar: MIMO arrays, coherent simulation, back-projection imaging, measured data."""

from radarface.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "adjoint": ["simulate_scatterers_adjoint"],
        "array": [
            "SamplingConfig",
            "SPEED_OF_LIGHT_M_S",
            "ImagingGrid",
            "RadarArray",
            "array_from_files",
            "linear_sweep",
            "qar50_array",
            "read_positions_csv",
        ],
        "images": [
            "DEPTH_ESTIMATORS",
            "RadarImage",
            "apply_dynamic_range",
            "clip_image",
            "form_image",
            "image_volume",
            "maroon_depth",
            "phase_refined_depth",
            "project_brightest",
            "project_slices",
            "project_volume",
        ],
        "imaging": ["backproject", "backproject_reference", "backproject_torch"],
        "kernels": ["render_kernels_cached"],
        "measured": [
            "Measurement",
            "empty_filtered_path",
            "maroon_to_radar",
            "read_maroon",
            "read_measurement",
            "write_measurement",
        ],
        "reflectance": ["ANTENNA_SIZE_UNIT_M", "Reflectance"],
        "scene": [
            "MeshScatterers",
            "mesh_scatterers",
            "scatterers_from_vertices",
        ],
        "simulation": [
            "add_noise",
            "coherent_sum",
            "simulate",
            "simulate_mesh",
            "simulate_points",
            "simulate_scatterers_reference",
        ],
        "simulate_torch": ["simulate_scatterers_torch"],
        "zrange": ["Echoes", "choose_z_range", "echoes_warning", "edge_warning", "find_echoes"],
    },
)
