"""Synthetic radar-face datasets: configuration, per-sample rendering, generation (local or
dask), the zarr store and PyTorch loading."""

from radarface.data.config import DatasetConfig, build_config, load_checked_model
from radarface.data.dataset import INPUTS, RadarFaceDataset, decoder_image, network_input
from radarface.data.generate import GenerateReport, generate_dataset
from radarface.data.sample import render_sample, sample_mesh, sample_parameters
from radarface.data.show import dataset_info, grid_figure, show_sample, stored_params
from radarface.data.store import DatasetError, open_dataset

__all__ = [
    "INPUTS",
    "DatasetConfig",
    "DatasetError",
    "GenerateReport",
    "RadarFaceDataset",
    "build_config",
    "dataset_info",
    "decoder_image",
    "generate_dataset",
    "grid_figure",
    "load_checked_model",
    "network_input",
    "open_dataset",
    "render_sample",
    "sample_mesh",
    "sample_parameters",
    "show_sample",
    "stored_params",
]
