"""Helpers shared by the tests of several stages (importable as `common`: tests/ is on sys.path)."""

from __future__ import annotations

import numpy as np


def rel_rms(a: np.ndarray, ref: np.ndarray) -> float:
    """Relative RMS error ||a - ref|| / ||ref||."""
    return float(np.linalg.norm(a - ref) / np.linalg.norm(ref))


def sphere_cap(n: int, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A 6 x 6 cm piece of an 8 cm sphere facing the array, n x n vertices, its triangles wound
    towards the array (away if `flip`)."""
    x, y = np.meshgrid(np.linspace(-0.03, 0.03, n), np.linspace(-0.03, 0.03, n))
    z = 0.33 - np.sqrt(0.08**2 - x**2 - y**2)
    vertices = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    cells = [
        (r * n + c, r * n + c + 1, (r + 1) * n + c) for r in range(n - 1) for c in range(n - 1)
    ]
    faces = np.array([t for a, b, c in cells for t in ((a, c, b), (b, c, c + 1))])
    return vertices, faces[:, ::-1] if flip else faces
