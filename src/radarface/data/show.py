"""Looking at a dataset: a summary, one sample's figure, a grid of samples."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from radarface.data import store
from radarface.data.generate import DatasetConfig, SampleParams, load_checked_model, sample_mesh
from radarface.facemodel import resolve_face_model_path
from radarface.io import atomic_path
from radarface.radar import RadarImage, Reflectance, apply_dynamic_range
from radarface.radar.demo import face_figure
from radarface.radar.render import image_extent_cm


def dataset_info(path: str | os.PathLike) -> dict[str, Any]:
    """Counts, settings, split sizes and disk size of the dataset at `path`."""
    group = store.open_dataset(path)
    attrs = group.attrs.asdict()
    config = DatasetConfig.from_json(attrs["config"])
    array, grid = config.array, config.grid
    z = grid.z_m
    info: dict[str, Any] = {
        "path": str(path),
        "kind": config.kind,
        "done": f"{int(store.done_flags(group).sum())} of {config.n}",
        "seed": config.seed,
    }
    if config.kind == "mesh-dir":
        info["meshes"] = f"{config.mesh_dir} ({config.mesh_units})"
    else:
        info["face_model"] = f"{config.face_model['name']} ({config.face_model['hash'][:12]})"
        info["coefficients"] = f"{config.n_shape} shape, {config.n_expr} expression"
        info["pose"] = config.pose
    info["array"] = (
        f"{array.n_tx} TX x {array.n_rx} RX x {array.n_freq} frequencies, "
        f"{array.freq_hz[0] / 1e9:g}-{array.freq_hz[-1] / 1e9:g} GHz"
    )
    info["grid"] = (
        f"{grid.n_y} x {grid.n_x} pixels at {grid.pitch_m * 1e3:g} mm, "
        f"z {z[0] * 100:g}-{z[-1] * 100:g} cm in {len(z)} slices"
    )
    info["sampling"] = f"{config.sampling.spacing_m * 1e3:g} mm point spacing"
    info["splits"] = (
        f"{group['splits/train'].shape[0]} train, {group['splits/val'].shape[0]} val "
        f"(split seed {config.split_seed})"
    )
    info["disk"] = f"{store.disk_bytes(path) / 1e6:.1f} MB"
    info["created_with"] = f"radarface {attrs['created'].get('radarface_version')}"
    return info


def stored_params(group: Any, index: int) -> SampleParams:
    """The stored parameters of sample `index`."""
    p = {name: group[f"params/{name}"][index] for name in store.PARAM_ARRAYS}
    return SampleParams(
        p["shape"],
        p["expr"],
        p["translation_m"],
        p["rotation_rad"],
        Reflectance(float(p["material"]), float(p["antenna_size"])),
    )


def stored_image(group: Any, index: int, config: DatasetConfig, theta: float) -> RadarImage:
    """Sample `index` as a RadarImage clipped at -theta dB."""
    max_db, depth_m = group["images/max_db"][index], group["images/depth_m"][index]
    amplitude, depth, mask = apply_dynamic_range(max_db, depth_m, theta)
    return RadarImage(amplitude, depth, mask, max_db, config.grid.x_m, config.grid.y_m, theta)


def _describe(config: DatasetConfig, index: int, p: SampleParams) -> str:
    """Parameters of a sample as two lines of text."""
    r = p.reflectance
    lines = [f"sample {index} ({config.kind}, seed {config.seed})"]
    if config.kind == "mesh-dir":
        lines[0] += f": {config.mesh_files[index]}"
    else:
        yaw, pitch, roll = np.degrees(p.rotation_rad)
        tx, ty, _ = p.translation_m * 100
        lines[0] += (
            f": shape[:3] {np.round(p.shape[:3], 2).tolist()}, "
            f"expression[:3] {np.round(p.expr[:3], 2).tolist()}"
        )
        lines.append(
            f"translation ({tx:+.1f}, {ty:+.1f}) cm, yaw {yaw:+.1f}, pitch {pitch:+.1f}, "
            f"roll {roll:+.1f} deg; "
        )
    lines[-1] += f"material {r.material:.2f}, antenna size {r.antenna_size:.3f}"
    return "\n".join(lines)


def show_sample(
    path: str | os.PathLike,
    index: int,
    out: str | os.PathLike,
    face_model_path: str | os.PathLike | None = None,
    dynamic_range_db: float = 20.0,
) -> Path:
    """Figure of sample `index`: mesh, amplitude at `dynamic_range_db`, depth, parameters."""
    group = store.open_dataset(path)
    config = DatasetConfig.from_json(group.attrs["config"])
    if not 0 <= index < config.n:
        raise ValueError(f"index {index} is outside [0, {config.n})")
    if not group["done"][index]:
        raise ValueError(f"sample {index} of {path} is not rendered yet")
    params = stored_params(group, index)
    model = None
    if config.kind != "mesh-dir":
        model = load_checked_model(resolve_face_model_path(face_model_path), config)
    vertices, triangles = sample_mesh(config, index, params, model)
    image = stored_image(group, index, config, dynamic_range_db)
    face_figure(Path(out), vertices, triangles, image, _describe(config, index, params))
    return Path(out)


def grid_figure(
    path: str | os.PathLike,
    out: str | os.PathLike,
    indices: list[int],
    columns: int = 8,
    dynamic_range_db: float = 20.0,
) -> Path:
    """Amplitude (at `dynamic_range_db`) above depth for each of `indices`, `columns` a row."""
    group = store.open_dataset(path)
    config = DatasetConfig.from_json(group.attrs["config"])
    rows = math.ceil(len(indices) / columns)
    fig, axes = plt.subplots(2 * rows, columns, figsize=(1.6 * columns, 3.3 * rows), squeeze=False)
    z = config.grid.z_m
    for ax in axes.flat:
        ax.axis("off")
    for k, index in enumerate(indices):
        image = stored_image(group, index, config, dynamic_range_db)
        extent = image_extent_cm(image)
        top, bottom = (
            axes[2 * (k // columns), k % columns],
            axes[2 * (k // columns) + 1, k % columns],
        )
        top.imshow(image.amplitude, cmap="gray", vmin=0, vmax=1, extent=extent)
        bottom.imshow(
            image.depth_m * 100, cmap="viridis_r", vmin=z[0] * 100, vmax=z[-1] * 100, extent=extent
        )
        material = float(group["params/material"][index])
        top.set_title(f"#{index}, m {material:.2f}", fontsize=8)
    fig.suptitle(
        f"{Path(path).name}: amplitude at {dynamic_range_db:g} dB (top), depth "
        f"{z[0] * 100:g}-{z[-1] * 100:g} cm (bottom)",
        fontsize=9,
    )
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return Path(out)
