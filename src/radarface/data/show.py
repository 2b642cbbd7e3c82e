"""Looking at a dataset: a summary, one sample's figure, a grid of samples."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from radarface.data import store
from radarface.data.config import DatasetConfig, load_checked_model
from radarface.params import SceneParams
from radarface.radar import RadarImage, clip_image


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
        frame = f", {config.mesh_frame} frame" if config.mesh_frame else ""
        info["meshes"] = f"{config.mesh_dir} ({config.mesh_units}{frame})"
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
    sampling = config.sampling
    if sampling.scattering == "coherent":
        info["scattering"] = (
            f"coherent, sub-facets <= {sampling.facet_edge_used_m * 1e3:g} mm, "
            f"{sampling.facet_integral} facet integral"
        )
    else:
        info["scattering"] = f"speckle, {sampling.spacing_m * 1e3:g} mm point spacing"
    if config.snr_db is not None:
        info["noise"] = f"{config.snr_db:g} dB SNR"
    info["splits"] = (
        f"{group['splits/train'].shape[0]} train, {group['splits/val'].shape[0]} val "
        f"(split seed {config.split_seed})"
    )
    info["disk"] = f"{store.disk_bytes(path) / 1e6:.1f} MB"
    info["created_with"] = f"radarface {attrs['created'].get('radarface_version')}"
    return info


def stored_params(group: Any, index: int) -> SceneParams:
    """The stored parameters of sample `index` (one scene)."""
    return SceneParams(**{name: group[f"params/{name}"][index] for name in store.PARAM_ARRAYS})


def stored_image(group: Any, index: int, config: DatasetConfig, theta: float) -> RadarImage:
    """Sample `index` as a RadarImage clipped at -theta dB."""
    with store.readable_samples(group, [index]):
        max_db, depth_m = group["images/max_db"][index], group["images/depth_m"][index]
    return clip_image(max_db, depth_m, config.grid, theta)


def _describe(config: DatasetConfig, index: int, p: SceneParams) -> str:
    """Parameters of a sample as two lines of text."""
    lines = [f"sample {index} ({config.kind}, seed {config.seed})"]
    if config.kind == "mesh-dir":
        lines[0] += f": {config.mesh_files[index]}; "
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
    lines[-1] += f"material {p.material:.2f}, antenna size {p.antenna_size:.3f}"
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
    from radarface.data.sample import sample_mesh
    from radarface.facemodel import resolve_face_model_path
    from radarface.plot import face_figure

    params = stored_params(group, index)
    model = None
    if config.kind != "mesh-dir":
        model = load_checked_model(resolve_face_model_path(face_model_path), config)
    mesh = sample_mesh(config, index, params, model)
    image = stored_image(group, index, config, dynamic_range_db)
    return face_figure(
        out, mesh.vertices_m, mesh.triangles, image, _describe(config, index, params)
    )


def grid_figure(
    path: str | os.PathLike,
    out: str | os.PathLike,
    indices: list[int],
    columns: int = 8,
    dynamic_range_db: float = 20.0,
) -> Path:
    """Amplitude (at `dynamic_range_db`) above depth for each of `indices`, `columns` a row."""
    from radarface.plot import image_grid_figure

    group = store.open_dataset(path)
    config = DatasetConfig.from_json(group.attrs["config"])
    images = [stored_image(group, i, config, dynamic_range_db) for i in indices]
    titles = [f"#{i}, m {float(group['params/material'][i]):.2f}" for i in indices]
    z = config.grid.z_m
    suptitle = (
        f"{Path(path).name}: amplitude at {dynamic_range_db:g} dB (top), depth "
        f"{z[0] * 100:g}-{z[-1] * 100:g} cm (bottom)"
    )
    return image_grid_figure(out, images, titles, (z[0], z[-1]), suptitle, columns)
