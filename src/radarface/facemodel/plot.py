"""Drawing face meshes as a viewer behind the radar array sees them (matplotlib)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection

from radarface.facemodel.geometry import vertex_normals


def draw_mesh(ax: plt.Axes, vertices_m: np.ndarray, triangles: np.ndarray) -> None:
    """Shaded orthographic view along +z (from behind the array): image right is radar -x."""
    normals = vertex_normals(vertices_m, triangles)
    shade = np.clip(np.abs(normals[triangles].mean(1)[:, 2]), 0.0, 1.0)  # light from the array
    order = np.argsort(-vertices_m[triangles][:, :, 2].mean(1))  # far triangles first
    xy = np.stack([-vertices_m[:, 0], vertices_m[:, 1]], -1) * 100  # cm
    colours = plt.cm.bone(0.15 + 0.8 * shade[order])
    ax.add_collection(PolyCollection(xy[triangles[order]], facecolors=colours, edgecolors="none"))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
