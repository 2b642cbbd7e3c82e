"""Helpers shared by the tests of several stages (importable as `common`: tests/ is on sys.path)."""

from __future__ import annotations

import numpy as np


def rel_rms(a: np.ndarray, ref: np.ndarray) -> float:
    """Relative RMS error ||a - ref|| / ||ref||."""
    return float(np.linalg.norm(a - ref) / np.linalg.norm(ref))
