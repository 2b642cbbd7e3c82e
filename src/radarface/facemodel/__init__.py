"""Morphable face models: loading, sampling faces and poses, placing them in the radar frame."""

from radarface.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "fetch": [
            "ICT_ARCHIVE_URL",
            "default_model_path",
            "fetch_ict",
            "import_face_model",
            "resolve_face_model_path",
        ],
        "geometry": [
            "export_mesh",
            "mean_vertex_distance_mm",
            "place_in_radar_frame",
            "pose_points",
            "rotation_matrices",
            "vertex_normals",
        ],
        "loaders": [
            "load_bfm2019",
            "load_face_model",
            "load_ict_checkout",
            "load_ict_npz",
            "load_model",
            "save_model",
        ],
        "model": ["MorphableModel"],
        "sampling": [
            "component_count",
            "posed_vertices",
            "sample_face_params",
            "sample_params",
            "write_samples",
        ],
    },
)
