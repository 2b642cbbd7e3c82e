"""Tiny datasets with made-up images (no rendering) and runs trained one epoch on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radarface.data import DatasetConfig, build_config, store
from radarface.data.generate import all_parameters
from radarface.facemodel import load_face_model
from radarface.radar import ImagingGrid, RadarArray, linear_sweep, qar50_array
from radarface.render import RENDERER_REVISION
from radarface.train import run_stage

TINY_NET = {"epochs": 1, "batch_size": 4, "progress": False, "net_overrides": {"width": 0.0625}}


def tiny_array() -> RadarArray:
    qar50 = qar50_array(linear_sweep(72e9, 82e9, 8))
    return RadarArray(qar50.tx_m[::12], qar50.rx_m[::12], qar50.freq_hz)


def fake_dataset(path: Path, config: DatasetConfig, model_path: Path) -> Path:
    """A dataset of `config` whose images are a blob placed by each sample's translation and
    lifted by its first shape coefficient (quick to make; no radar physics)."""
    params = all_parameters(config, load_face_model(model_path))
    group = store.create_dataset(
        path, config.to_json(), params,
        store.split_indices(config.n, config.n_val, config.split_seed),
        config.image_shape, RENDERER_REVISION,
    )  # fmt: skip
    grid = config.grid
    y, x = np.meshgrid(grid.y_m, grid.x_m, indexing="ij")
    for i in range(config.n):
        tx, ty, _ = params["translation_m"][i]
        r2 = (x + tx) ** 2 + (y - ty) ** 2
        max_db = (-40.0 * (1 - np.exp(-r2 / (2 * 0.03**2)))).astype(np.float32)
        shape0 = params["shape"][i][0] if params["shape"].shape[1] else 0.0
        depth = (0.25 + 0.002 * shape0 + 0.5 * r2).astype(np.float32)
        store.write_sample(group, i, max_db, depth, max_db >= -20.0)
    return path


@pytest.fixture(scope="session")
def eval_setup(bump_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A random set (8 samples, 4 validation), an eval set (10 x 5), and an encoder and a
    learned renderer trained one epoch on the random set; 64 x 64 images."""
    root = tmp_path_factory.mktemp("evaluate")
    common = {
        "array": tiny_array(),
        "grid": ImagingGrid(n_x=64, n_y=64, pitch_m=4e-3),
        "face_model_path": bump_model_path,
    }
    fake_dataset(root / "val", build_config(n=8, n_val=4, **common), bump_model_path)
    fake_dataset(root / "eval", build_config(kind="eval", seed=3, **common), bump_model_path)
    nets = {"face_model": bump_model_path, **TINY_NET}
    run_stage("encoder", root / "val", root / "enc", input="amplitude-depth", **nets)
    run_stage("decoder", root / "val", root / "dec", **nets)
    return {"val": root / "val", "eval": root / "eval", "enc": root / "enc", "dec": root / "dec"}
