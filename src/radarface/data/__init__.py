"""Synthetic radar-face datasets: generation (local or dask), the zarr store, PyTorch loading.

Data flows facemodel -> radar -> data; the parameter layout of the networks is `data.params`.
"""

from radarface.data.dataset import (
    INPUTS,
    RadarFaceDataset,
    decoder_image,
    network_input,
)
from radarface.data.generate import (
    DatasetConfig,
    GenerateReport,
    Sample,
    SampleParams,
    build_config,
    generate_dataset,
    render_sample,
    sample_parameters,
)
from radarface.data.show import dataset_info, grid_figure, show_sample
from radarface.data.store import DatasetError, open_dataset

__all__ = [
    "INPUTS",
    "DatasetConfig",
    "DatasetError",
    "GenerateReport",
    "RadarFaceDataset",
    "Sample",
    "SampleParams",
    "build_config",
    "dataset_info",
    "decoder_image",
    "generate_dataset",
    "grid_figure",
    "network_input",
    "open_dataset",
    "render_sample",
    "sample_parameters",
    "show_sample",
]
