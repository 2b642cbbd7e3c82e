"""Render sampled ICT-FaceKit faces as a viewer behind the radar array sees them."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from radarface.facemodel import (  # noqa: E402
    load_face_model,
    place_in_radar_frame,
    resolve_face_model_path,
    sample_params,
    vertex_normals,
)

N_FACES = 6
SEED = 0


def draw(ax: plt.Axes, vertices: np.ndarray, triangles: np.ndarray) -> None:
    """Orthographic view from behind the array (looking along +z): image right is radar -x."""
    normals = vertex_normals(vertices, triangles)
    shade = np.clip(-normals[triangles].mean(1)[:, 2], 0.0, 1.0)  # light from the array
    order = np.argsort(-vertices[triangles][:, :, 2].mean(1))  # far triangles first
    xy = np.stack([-vertices[:, 0], vertices[:, 1]], -1) * 100  # cm
    ax.add_collection(PolyCollection(xy[triangles[order]], facecolors=plt.cm.bone(
        0.15 + 0.8 * shade[order]), edgecolors="none"))
    ax.set_xlim(-17, 17)
    ax.set_ylim(-22, 17)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def main(out: Path) -> None:
    """Sample N_FACES posed faces and save the figure."""
    model = load_face_model(resolve_face_model_path(sys.argv[2] if len(sys.argv) > 2 else None))
    params = sample_params(model, N_FACES, SEED)
    vertices = place_in_radar_frame(model, model.vertices(params.shape, params.expr),
                                    params.translation_m, params.rotation_rad)
    fig, axes = plt.subplots(1, N_FACES, figsize=(2.2 * N_FACES, 3.0))
    for i, ax in enumerate(axes):
        draw(ax, vertices[i], model.triangles)
        yaw, pitch, roll = np.degrees(params.rotation_rad[i])
        ax.set_title(f"face {i}: yaw {yaw:+.0f}, pitch {pitch:+.0f}, roll {roll:+.0f} deg",
                     fontsize=6)
    fig.suptitle(f"{model.name}: seed {SEED}, radar frame seen from behind the array (cm)",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "figures"
         / "facemodel_samples.png")
