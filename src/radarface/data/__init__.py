"""Synthetic radar-face datasets: configuration, per-sample rendering, generation (local or
dask), the zarr store and PyTorch loading.
"""

from radarface.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "config": ["DatasetConfig", "build_config", "load_checked_model"],
        "dataset": ["INPUTS", "RadarFaceDataset", "decoder_image", "network_input"],
        "generate": ["GenerateReport", "generate_dataset"],
        "sample": ["render_sample", "sample_mesh", "sample_parameters"],
        "show": ["dataset_info", "grid_figure", "show_sample", "stored_params"],
        "store": ["DatasetError", "open_dataset"],
    },
)
