"""Morphable face models: loading, sampling faces and poses, placing them in the radar frame."""

from radarface.facemodel.fetch import (
    ICT_ARCHIVE_URL,
    default_model_path,
    fetch_ict,
    import_face_model,
    resolve_face_model_path,
)
from radarface.facemodel.geometry import (
    export_mesh,
    mean_vertex_distance_mm,
    place_in_radar_frame,
    rotation_matrices,
    vertex_normals,
)
from radarface.facemodel.loaders import (
    load_bfm2019,
    load_face_model,
    load_ict_checkout,
    load_ict_npz,
    load_model,
    save_model,
)
from radarface.facemodel.model import MorphableModel
from radarface.facemodel.sampling import (
    component_count,
    posed_vertices,
    sample_face_params,
    sample_params,
    write_samples,
)

__all__ = [
    "ICT_ARCHIVE_URL",
    "MorphableModel",
    "component_count",
    "default_model_path",
    "export_mesh",
    "fetch_ict",
    "import_face_model",
    "load_bfm2019",
    "load_face_model",
    "load_ict_checkout",
    "load_ict_npz",
    "load_model",
    "mean_vertex_distance_mm",
    "place_in_radar_frame",
    "posed_vertices",
    "resolve_face_model_path",
    "rotation_matrices",
    "sample_face_params",
    "sample_params",
    "save_model",
    "vertex_normals",
    "write_samples",
]
