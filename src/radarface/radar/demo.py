"""Random radar faces end to end, and the demo: a figure per face and a summary."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import trimesh

from radarface.facemodel import MorphableModel, sample_face_params
from radarface.facemodel.plot import draw_mesh
from radarface.io import atomic_path, provenance, write_json
from radarface.radar.array import RadarArray
from radarface.radar.images import RadarImage
from radarface.radar.render import (
    RenderSettings,
    face_vertices,
    image_extent_cm,
    render_mesh,
    sample_reflectance,
    show_image,
)
from radarface.radar.scene import Reflectance

MESH_UNITS_M = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}


def load_mesh(path: str | Path, units: str = "m") -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) in metres and triangles (T, 3) of a mesh file (PLY, OBJ, STL, ...)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    if units not in MESH_UNITS_M:
        raise ValueError(f"unknown mesh units {units!r}; use one of {', '.join(MESH_UNITS_M)}")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as err:  # trimesh raises many types for unreadable files
        raise ValueError(f"{path}: cannot read mesh ({err})") from None
    if len(mesh.faces) == 0:
        raise ValueError(f"{path}: the mesh has no triangles")
    return np.asarray(mesh.vertices) * MESH_UNITS_M[units], np.asarray(mesh.faces)


def simulate_face(
    model: MorphableModel,
    seed: int,
    array: RadarArray,
    settings: RenderSettings,
    reflectance: Reflectance | None = None,
    index: int = 0,
) -> tuple[RadarImage, np.ndarray, dict[str, Any]]:
    """Sample face `index` of `seed`, render it: (image, vertices (N, 3), metadata)."""
    params = sample_face_params(model, seed, index)
    reflectance = reflectance or sample_reflectance(seed, index)
    vertices = face_vertices(model, params)
    image = render_mesh(array, vertices, model.triangles, reflectance, settings, seed)
    meta = {
        "seed": seed,
        "index": index,
        "face_model": {"name": model.name, "hash": model.content_hash},
        "shape": params.shape,
        "expression": params.expr,
        "translation_m": params.translation_m,
        "rotation_rad": params.rotation_rad,
        "reflectance": asdict(reflectance),
    }
    return image, vertices, meta


def face_figure(
    path: Path, vertices: np.ndarray, triangles: np.ndarray, image: RadarImage, title: str
) -> None:
    """Mesh, amplitude image and depth image side by side, all as seen from behind the array."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    draw_mesh(axes[0], vertices, triangles)
    extent = image_extent_cm(image)
    axes[0].set_xlim(extent[0], extent[1])
    axes[0].set_ylim(extent[2], extent[3])
    axes[0].set_title("mesh")
    show_image(axes[1], image, "amplitude")
    axes[1].set_title("amplitude")
    show_image(axes[2], image, "depth")
    axes[2].set_title("depth")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def run_demo(
    model: MorphableModel,
    out_dir: str | Path,
    n: int,
    seed: int,
    array: RadarArray,
    settings: RenderSettings,
) -> list[dict[str, Any]]:
    """Simulate n random faces; write face_NNN.png figures, face_NNN.npz images, summary.json."""
    out_dir = Path(out_dir)
    rows = []
    for i in range(n):
        start = time.perf_counter()
        image, vertices, meta = simulate_face(model, seed, array, settings, index=i)
        seconds = time.perf_counter() - start
        refl, rot = meta["reflectance"], np.degrees(meta["rotation_rad"])
        title = (
            f"face {i} (seed {seed}): yaw {rot[0]:+.1f}, pitch {rot[1]:+.1f}, roll {rot[2]:+.1f}"
            f" deg; material {refl['material']:.2f}, antenna size {refl['antenna_size']:.3f};"
            f" {seconds:.2f} s"
        )
        face_figure(out_dir / f"face_{i:03d}.png", vertices, model.triangles, image, title)
        with atomic_path(out_dir / f"face_{i:03d}.npz") as tmp, tmp.open("wb") as f:
            np.savez_compressed(f, max_db=image.max_db, depth_m=image.depth_m, mask=image.mask)
        rows.append({**meta, "seconds": seconds})
    write_json(out_dir / "summary.json", provenance(settings=settings, faces=rows))
    return rows
