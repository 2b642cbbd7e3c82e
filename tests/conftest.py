"""Fixtures shared by every stage's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radarface.facemodel import MorphableModel, save_model
from radarface.facemodel.loaders import _quads_to_triangles

SHARED_ICT_NPZ = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "facemodels" / "ict_facekit_face.npz"
)


@pytest.fixture(scope="session")
def ict_npz() -> Path:
    """The shared ICT-FaceKit compact npz beside the repository; skip when absent."""
    if not SHARED_ICT_NPZ.is_file():
        pytest.skip(f"{SHARED_ICT_NPZ} not available")
    return SHARED_ICT_NPZ


def bump_model() -> MorphableModel:
    """A 8 x 6 cm bumped grid facing +z with 12 shape and 8 expression components."""
    rows, cols, spacing = 7, 9, 0.01
    y, x = np.mgrid[0:rows, 0:cols].astype(float)
    x, y = (x - (cols - 1) / 2) * spacing, ((rows - 1) / 2 - y) * spacing
    z = 0.03 * np.exp(-(x**2 + y**2) / (2 * 0.03**2))
    vertices = np.stack([x, y, z], -1).reshape(-1, 3)
    quads = np.array(
        [
            [r * cols + c, (r + 1) * cols + c, (r + 1) * cols + c + 1, r * cols + c + 1]
            for r in range(rows - 1)
            for c in range(cols - 1)
        ]
    )
    rng = np.random.default_rng(0)
    return MorphableModel.build(
        name="bump",
        mean_m=vertices,
        shape_basis_m=rng.normal(0, 0.002, (12, len(vertices), 3)),
        expr_basis_m=rng.normal(0, 0.001, (8, len(vertices), 3)),
        triangles=_quads_to_triangles(quads),
        landmarks=np.array([0]),
    )


@pytest.fixture(scope="session")
def bump_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bump_model()` saved as a radarface model file."""
    return save_model(bump_model(), tmp_path_factory.mktemp("bump") / "bump.npz")
