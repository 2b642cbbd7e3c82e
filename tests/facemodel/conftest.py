"""Fixtures: small synthetic face models, a BFM 2019 h5 writer, a tiny ICT-FaceKit checkout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from radarface.facemodel import MorphableModel, loaders


def _grid(rows: int, cols: int, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """A bumped grid surface facing +z: vertices (rows*cols, 3), quads counter-clockwise."""
    y, x = np.mgrid[0:rows, 0:cols].astype(float)
    x, y = (x - (cols - 1) / 2) * spacing, ((rows - 1) / 2 - y) * spacing
    z = spacing * 2.0 * np.exp(-(x**2 + y**2) / (2 * spacing**2))
    vertices = np.stack([x, y, z], -1).reshape(-1, 3)
    quads = [
        [r * cols + c, (r + 1) * cols + c, (r + 1) * cols + c + 1, r * cols + c + 1]
        for r in range(rows - 1)
        for c in range(cols - 1)
    ]
    return vertices, np.array(quads)


@pytest.fixture
def make_model() -> Callable[..., MorphableModel]:
    """Factory of small random models on a grid (metres)."""

    def make(n_shape: int = 5, n_expr: int = 4, seed: int = 0) -> MorphableModel:
        rng = np.random.default_rng(seed)
        vertices, quads = _grid(4, 5, 0.02)
        n = len(vertices)
        return MorphableModel.build(
            name="tiny",
            mean_m=vertices,
            shape_basis_m=rng.normal(0, 0.002, (n_shape, n, 3)),
            expr_basis_m=rng.normal(0, 0.001, (n_expr, n, 3)),
            triangles=loaders._quads_to_triangles(quads),
            landmarks=np.array([0, 7]),
        )

    return make


@pytest.fixture
def write_bfm() -> Callable[..., Path]:
    """Writer of a small BFM 2019 h5 in statismo format 0.9 (orthonormal) or 0.8 (scaled)."""
    import h5py

    def write(path: Path, minor_version: int = 9, skip: str | None = None) -> Path:
        rng = np.random.default_rng(1)
        vertices, quads = _grid(4, 5, 20.0)  # mm
        n = len(vertices)
        datasets: dict[str, object] = {
            "version/majorVersion": 0,
            "version/minorVersion": minor_version,
            "shape/representer/points": vertices.T,
            "shape/representer/cells": loaders._quads_to_triangles(quads).T,
            "metadata/landmarks/json": json.dumps(
                [
                    {"id": "center.nose.tip", "coordinates": (vertices[7] + 0.3).tolist()},
                    {"id": "left.eye.corner_outer", "coordinates": vertices[3].tolist()},
                ]
            ),
        }
        for part, k, std in (("shape", 4, 5.0), ("expression", 3, 2.0)):
            u, _ = np.linalg.qr(rng.normal(size=(3 * n, k)))
            variance = (std * np.arange(k, 0, -1)) ** 2
            mean = vertices.reshape(-1) if part == "shape" else rng.normal(0, 0.5, 3 * n)
            datasets[f"{part}/model/mean"] = mean
            datasets[f"{part}/model/pcaBasis"] = u if minor_version == 9 else u * np.sqrt(variance)
            datasets[f"{part}/model/pcaVariance"] = variance
        with h5py.File(path, "w") as f:
            for key, value in datasets.items():
                if key != skip:
                    f.create_dataset(key, data=value)
        return path

    return write


@pytest.fixture
def tiny_ict_layout(monkeypatch: pytest.MonkeyPatch) -> loaders.IctLayout:
    """Region sizes of the tiny checkout (4 x 5 grid, 12 quads) in place of the real ones."""
    layout = loaders.IctLayout(
        regions={"face": (15, 8), "narrow face": (10, 4), "face and neck": (20, 12)},
        landmarks68=(7, 2),
    )
    monkeypatch.setattr(loaders, "ICT_LAYOUT", layout)
    return layout


@pytest.fixture
def write_ict_checkout(tiny_ict_layout: loaders.IctLayout) -> Callable[[Path], Path]:
    """Writer of a tiny ICT-FaceKit checkout (cm) with 3 identities and the 53 expressions."""

    def write(root: Path) -> Path:
        rng = np.random.default_rng(2)
        vertices, quads = _grid(4, 5, 2.0)
        model_dir = root / "FaceXModel"
        model_dir.mkdir(parents=True)

        def obj(name: str, v: np.ndarray, faces: bool = False) -> None:
            lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v]
            lines += (
                [f"vt 0 0\nvn 0 0 1\nf {' '.join(f'{i + 1}/1/1' for i in q)}" for q in quads]
                if faces
                else []
            )
            (model_dir / f"{name}.obj").write_text("\n".join(lines) + "\n")

        obj("generic_neutral_mesh", vertices, faces=True)
        for k in range(3):
            obj(f"identity{k:03d}", vertices + rng.normal(0, 0.3, vertices.shape))
        for name in loaders.ICT_EXPRESSION_NAMES:
            obj(name, vertices + rng.normal(0, 0.1, vertices.shape))
        return root

    return write
