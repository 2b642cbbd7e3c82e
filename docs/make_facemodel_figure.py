"""Render sampled ICT-FaceKit faces as a viewer behind the radar array sees them."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from radarface.facemodel import (  # noqa: E402
    load_face_model,
    posed_vertices,
    resolve_face_model_path,
    sample_params,
)
from radarface.plot import draw_mesh  # noqa: E402

N_FACES = 6
SEED = 0


def main(out: Path) -> None:
    """Sample N_FACES posed faces and save the figure."""
    model = load_face_model(resolve_face_model_path(sys.argv[2] if len(sys.argv) > 2 else None))
    params = sample_params(model, N_FACES, SEED)
    vertices = posed_vertices(model, params)
    fig, axes = plt.subplots(1, N_FACES, figsize=(2.2 * N_FACES, 3.0))
    for i, ax in enumerate(axes):
        draw_mesh(ax, vertices[i], model.triangles)
        ax.set_xlim(-17, 17)
        ax.set_ylim(-22, 17)
        yaw, pitch, roll = np.degrees(params.rotation_rad[i])
        ax.set_title(
            f"face {i}: yaw {yaw:+.0f}, pitch {pitch:+.0f}, roll {roll:+.0f} deg", fontsize=6
        )
    fig.suptitle(
        f"{model.name}: seed {SEED}, radar frame seen from behind the array (cm)", fontsize=8
    )
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).parent / "figures" / "facemodel_samples.png"
    )
