"""Radar images to reconstruct: `radarface simulate`/`image` outputs, dataset samples, captures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radarface.io import read_npz
from radarface.params import VALIDATION_DYNAMIC_RANGE_DB, SceneParams
from radarface.radar import ImagingGrid


@dataclass(frozen=True)
class RadarInput:
    """One image to reconstruct, as the dataset stores images, and what is known about it."""

    name: str  # output sub-directory and label
    max_db: np.ndarray  # (H, W) float32 <= 0
    depth_m: np.ndarray  # (H, W) float32, z of the brightest voxel (NaN where not recorded)
    truth: SceneParams | None = None  # the parameters that made a synthetic image
    truth_face_model: str | None = None  # content hash of the face model of `truth`
    source: dict[str, Any] = field(default_factory=dict)  # provenance
    pixels_m: tuple[np.ndarray, np.ndarray] | None = None  # (x_m (W,), y_m (H,)) where recorded
    depth_estimator: str = "parabola"  # how depth_m was read (radarface.radar.DEPTH_ESTIMATORS)


def _finite(name: str, array: np.ndarray, path: Path) -> np.ndarray:
    """`array` as float32; a NaN or infinite value in it is a one-line error."""
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{path}: {name} contains NaN or infinite values")
    return np.asarray(array, dtype=np.float32)


def read_image_npz(path: str | Path) -> RadarInput:
    """The image of a `radarface simulate` or `radarface image` output (its directory or its
    image.npz), with the true parameters where its params.json records a face."""
    path = Path(path)
    npz = path / "image.npz" if path.is_dir() else path
    data = read_npz(npz, "radar image")
    try:
        arrays = {k: data[k] for k in ("max_db", "depth_m", "mask", "x_m", "y_m")}
    except KeyError as err:
        raise ValueError(f"{npz}: not a radarface image (no {err.args[0]!r} array)") from None
    max_db = _finite("max_db", arrays["max_db"], npz)
    if np.any((max_db >= -VALIDATION_DYNAMIC_RANGE_DB) & ~arrays["mask"]):
        raise ValueError(
            f"{npz}: the image records depth within less than {VALIDATION_DYNAMIC_RANGE_DB:g} dB "
            "of its peak; the encoder reads 20 dB (form it with --dynamic-range-db 20 or more)"
        )
    depth = np.where(arrays["mask"], arrays["depth_m"], np.nan).astype(np.float32)
    truth, face_model = None, None
    meta_path = npz.parent / "params.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if isinstance(meta.get("params"), dict):
        truth = SceneParams(**{k: np.asarray(v) for k, v in meta["params"].items()})
        face_model = (meta.get("face_model") or {}).get("hash")
    return RadarInput(
        npz.parent.name or "image",
        max_db,
        depth,
        truth,
        face_model,
        {"image": str(npz)},
        (arrays["x_m"], arrays["y_m"]),
        meta.get("depth_estimator", "parabola"),  # outputs from before the option: parabola
    )


def read_dataset_samples(
    path: str | Path, split: str = "val", indices: list[int] | None = None
) -> list[RadarInput]:
    """Samples of a dataset split (all, or `indices` into the split) with their parameters,
    read in bulk (one pass over the image chunks)."""
    from radarface.data import DatasetConfig, open_dataset
    from radarface.data.dataset import read_images
    from radarface.data.store import PARAM_ARRAYS, done_flags, readable_samples

    group = open_dataset(path)
    config = DatasetConfig.from_json(group.attrs["config"])
    if split not in ("train", "val", "all"):
        raise ValueError(f"unknown split {split!r}; use train, val or all")
    members = np.arange(config.n) if split == "all" else group[f"splits/{split}"][:]
    chosen = members if indices is None else members[_checked(indices, len(members), split)]
    missing = chosen[~done_flags(group)[chosen]]
    if len(missing):
        raise ValueError(
            f"{path}: {len(missing)} of the {len(chosen)} samples asked for are not rendered yet "
            f"(first: sample {missing[0]}); finish it with `radarface dataset generate`"
        )
    face_model = (config.face_model or {}).get("hash")
    with readable_samples(group, chosen):
        max_db, depth_m = read_images(group, chosen)
    params = None
    if config.kind != "mesh-dir":
        params = {name: group[f"params/{name}"][:][chosen] for name in PARAM_ARRAYS}
    inputs = []
    for k, index in enumerate(chosen.tolist()):
        truth = None if params is None else SceneParams(**{n: v[k] for n, v in params.items()})
        inputs.append(
            RadarInput(
                name=f"{index:06d}",
                max_db=max_db[k],
                depth_m=depth_m[k],
                truth=truth,
                truth_face_model=face_model,
                source={"dataset": str(path), "index": index, "split": split},
                depth_estimator=config.depth_estimator,
            )
        )
    return inputs


def _checked(indices: list[int], n: int, split: str) -> list[int]:
    bad = [i for i in indices if not 0 <= i < n]
    if bad:
        raise ValueError(f"index {bad[0]} is outside the {split} split's [0, {n})")
    return indices


def check_grid(inputs: list[RadarInput], grid: ImagingGrid, run: str) -> None:
    """Every input lies on `grid` (the pixels a run was trained on); else a one-line error."""
    for item in inputs:
        if item.max_db.shape != (grid.n_y, grid.n_x):
            raise ValueError(
                f"{item.name}: a {item.max_db.shape[0]} x {item.max_db.shape[1]} image, but "
                f"{run} was trained on {grid.n_y} x {grid.n_x} pixels"
            )
        if item.pixels_m is not None and not (
            np.allclose(item.pixels_m[0], grid.x_m) and np.allclose(item.pixels_m[1], grid.y_m)
        ):
            raise ValueError(
                f"{item.name}: pixels differ from the {grid.pitch_m * 1e3:g} mm grid {run} was "
                "trained on (give the same --pixels and --pitch-mm)"
            )


def read_capture(
    path: str | Path, grid: ImagingGrid, device: str | None = None, empty_filtered: bool = False
) -> RadarInput:
    """A measured capture (MAROON .npy or radarface .h5) imaged as `radarface image` does."""
    from radarface.radar import read_measurement
    from radarface.render import RenderSettings, image_signal

    capture = read_measurement(path, empty_filtered=empty_filtered)
    # The brightest voxel's parabola: a measured surface's reflection phase is not known
    settings = RenderSettings(grid=grid, device=device, depth_estimator="parabola")
    image = image_signal(capture.s, capture.array, settings)
    return RadarInput(Path(path).stem, image.max_db, image.peak_depth_m, source={"capture": path})


def read_inputs(
    path: str | Path,
    grid: ImagingGrid,
    split: str = "val",
    indices: list[int] | None = None,
    device: str | None = None,
) -> list[RadarInput]:
    """The images at `path`: a dataset directory (its `split`, or `indices` into it), a
    simulate/image output (directory or image.npz), or a measured capture (.npy, .h5)."""
    path = Path(path)
    if (path / "zarr.json").is_file():
        return read_dataset_samples(path, split, indices)
    if path.suffix.lower() in (".npy", ".h5", ".hdf5"):
        return [read_capture(path, grid, device)]
    if path.is_dir() and not (path / "image.npz").is_file():
        raise ValueError(f"{path}: neither a dataset nor a radarface image directory")
    return [read_image_npz(path)]
