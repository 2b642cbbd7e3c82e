"""The demo: random faces rendered end to end, a figure per face and a summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from radarface.facemodel import MorphableModel, sample_face_params
from radarface.io import atomic_path, provenance, write_json
from radarface.plot import face_figure
from radarface.radar import RadarArray
from radarface.render import RenderSettings, face_mesh, render, scene_metadata


def run_demo(
    model: MorphableModel,
    out_dir: str | Path,
    n: int,
    seed: int,
    array: RadarArray,
    settings: RenderSettings,
    on_face: Callable[[int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Render faces 0..n-1 of `seed`; write face_NNN.png figures, face_NNN.npz images and
    summary.json; `on_face(i, row)` reports each face as it is written."""
    out_dir = Path(out_dir)
    rows = []
    for i in range(n):
        params = sample_face_params(model, seed, i)
        start = time.perf_counter()
        image = render(params, array, settings, seed=seed, index=i, model=model)
        seconds = time.perf_counter() - start
        yaw, pitch, roll = np.degrees(params.rotation_rad)
        title = (
            f"face {i} (seed {seed}): yaw {yaw:+.1f}, pitch {pitch:+.1f}, roll {roll:+.1f} deg;"
            f" material {params.material:.2f}, antenna size {params.antenna_size:.3f};"
            f" {seconds:.2f} s"
        )
        mesh = face_mesh(model, params)
        face_figure(out_dir / f"face_{i:03d}.png", mesh.vertices_m, mesh.triangles, image, title)
        with atomic_path(out_dir / f"face_{i:03d}.npz") as tmp, tmp.open("wb") as f:
            np.savez_compressed(f, max_db=image.max_db, depth_m=image.depth_m, mask=image.mask)
        rows.append({**scene_metadata(params, seed=seed, index=i, model=model), "seconds": seconds})
        if on_face is not None:
            on_face(i, rows[-1])
    write_json(out_dir / "summary.json", provenance(settings=settings, faces=rows))
    return rows
