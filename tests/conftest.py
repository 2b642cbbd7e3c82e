"""Fixtures shared by every stage's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_ICT_NPZ = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "facemodels" / "ict_facekit_face.npz"
)


@pytest.fixture(scope="session")
def ict_npz() -> Path:
    """The shared ICT-FaceKit compact npz beside the repository; skip when absent."""
    if not SHARED_ICT_NPZ.is_file():
        pytest.skip(f"{SHARED_ICT_NPZ} not available")
    return SHARED_ICT_NPZ
