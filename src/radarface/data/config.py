"""A dataset's configuration: everything that decides its contents, stored with it.

Also the face model check (the model a dataset was made with, by content hash) and the
configuration builder behind `radarface dataset generate`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radarface.facemodel import MorphableModel, load_face_model, resolve_face_model_path
from radarface.io import jsonable
from radarface.radar import DEPTH_ESTIMATORS, ImagingGrid, RadarArray, SamplingConfig

KINDS = ("random", "eval", "mesh-dir")
POSES = ("sampled", "neutral")
MESH_SUFFIXES = (".ply", ".obj", ".stl")
DEFAULT_N = 10_000
VAL_FRACTION = 0.15  # 1,500 of the paper's 10,000
EVAL_IDENTITIES = 10
EVAL_EXPRESSIONS = 5


@dataclass(frozen=True)
class DatasetConfig:
    """Everything that decides a dataset's contents; stored with it and compared on resume."""

    kind: str  # "random", "eval" or "mesh-dir"
    n: int
    seed: int
    array: RadarArray
    grid: ImagingGrid
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    imaging_method: str = "auto"  # see radarface.radar.backproject
    mask_dynamic_range_db: float = 20.0  # level of the stored mask
    face_model: dict[str, str] | None = None  # name and content hash
    n_shape: int = 0  # shape coefficients drawn per face
    n_expr: int = 0  # expression coefficients drawn per face
    pose: str | None = "sampled"  # "sampled" or "neutral" (None for mesh-dir)
    eval_expressions: int = 0  # eval: expressions per identity
    mesh_dir: str | None = None
    mesh_units: str | None = None
    mesh_frame: str | None = None  # "maroon": MAROON's x-mirrored frame; None: the radar frame
    mesh_files: tuple[str, ...] = ()
    n_val: int = 0
    split_seed: int = 0
    # how the depth images were read from the volume (radarface.radar.DEPTH_ESTIMATORS); sets
    # made before the option (renderer revision < 4) used the brightest voxel's parabola
    depth_estimator: str = "parabola"
    # complex Gaussian noise added to S at this SNR (radarface.radar.add_noise); None: none
    snr_db: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown dataset kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.n < 1:
            raise ValueError(f"a dataset needs at least one sample, got n = {self.n}")
        if self.kind != "mesh-dir" and (self.face_model is None or self.pose not in POSES):
            raise ValueError(f"a {self.kind} dataset needs a face model and a pose mode")
        if self.kind == "eval" and (self.eval_expressions < 1 or self.n % self.eval_expressions):
            raise ValueError("an eval dataset needs n = identities x eval_expressions")
        if self.kind == "mesh-dir" and (self.mesh_dir is None or len(self.mesh_files) != self.n):
            raise ValueError("a mesh-dir dataset needs its mesh directory and one file per sample")
        if not 0 <= self.n_val <= self.n:
            raise ValueError(f"the validation split ({self.n_val}) must lie in [0, {self.n}]")
        if self.snr_db is not None and not np.isfinite(self.snr_db):
            raise ValueError(f"--snr-db must be a finite number of dB, got {self.snr_db}")
        if self.depth_estimator not in DEPTH_ESTIMATORS:
            raise ValueError(
                f"unknown depth estimator {self.depth_estimator!r}; use "
                f"{', '.join(DEPTH_ESTIMATORS)}"
            )

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of the images."""
        return self.grid.n_y, self.grid.n_x

    def to_json(self) -> dict[str, Any]:
        """The configuration as JSON types (what the dataset's attributes hold)."""
        return jsonable(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatasetConfig:
        """Inverse of `to_json`."""
        a, g = data["array"], data["grid"]
        return cls(
            **{
                **data,
                "array": RadarArray(
                    np.array(a["tx_m"]), np.array(a["rx_m"]), np.array(a["freq_hz"])
                ),
                "grid": ImagingGrid(**{**g, "center_xy_m": tuple(g["center_xy_m"])}),
                # Datasets from before the scattering setting were made with random phases,
                # those from before the facet integral setting with Gaussian facets.
                "sampling": SamplingConfig(
                    **{"scattering": "speckle", "facet_integral": "gaussian", **data["sampling"]}
                ),
                "mesh_files": tuple(data["mesh_files"]),
            }
        )


@functools.lru_cache(maxsize=2)
def _load_model(path: str, mtime_ns: int) -> MorphableModel:
    """The face model at `path` (cached per process and file version)."""
    return load_face_model(path)


def load_checked_model(path: str | os.PathLike, config: DatasetConfig) -> MorphableModel:
    """Load (cached) the face model at `path` and check that it is the one of `config`."""
    model = _load_model(str(path), os.stat(path).st_mtime_ns)
    expected = config.face_model or {}
    if model.content_hash != expected.get("hash"):
        raise ValueError(
            f"face model {path} ({model.name}, hash {model.content_hash[:12]}) is not the "
            f"dataset's ({expected.get('name')}, hash {str(expected.get('hash'))[:12]})"
        )
    return model


def mesh_files(mesh_dir: str | os.PathLike) -> tuple[str, ...]:
    """Sorted names of the mesh files (PLY, OBJ, STL) directly in `mesh_dir`."""
    mesh_dir = Path(mesh_dir)
    if not mesh_dir.is_dir():
        raise FileNotFoundError(f"mesh directory not found: {mesh_dir}")
    names = sorted(
        f.name for f in mesh_dir.iterdir() if f.is_file() and f.suffix.lower() in MESH_SUFFIXES
    )
    if not names:
        raise ValueError(f"{mesh_dir}: no mesh files ({', '.join(MESH_SUFFIXES)})")
    return tuple(names)


def build_config(
    *,
    array: RadarArray,
    grid: ImagingGrid,
    kind: str = "random",
    n: int | None = None,
    seed: int = 0,
    face_model_path: str | os.PathLike | None = None,
    pose: str = "sampled",
    n_shape: int | None = None,
    n_expr: int | None = None,
    n_val: int | None = None,
    split_seed: int | None = None,
    mesh_dir: str | os.PathLike | None = None,
    mesh_units: str = "m",
    mesh_frame: str = "radar",
    sampling: SamplingConfig | None = None,
    depth_estimator: str = "auto",
    snr_db: float | None = None,
) -> DatasetConfig:
    """The configuration of a random, eval (10 identities x 5 expressions) or mesh-dir dataset.

    n defaults to 10,000 (random); eval and mesh-dir sets have a fixed size. The validation split
    defaults to 15% of a random set and 0 otherwise; split_seed defaults to seed. A mesh_dir
    makes a mesh-dir set (kind "random" or "mesh-dir"), its meshes in mesh_frame (see
    radarface.render.MESH_FRAMES). depth_estimator "auto": "phase" under coherent scattering,
    else "parabola" (see RenderSettings). snr_db adds noise to every sample's signal.
    """
    from radarface.facemodel import component_count
    from radarface.render import MESH_FRAMES, MESH_UNITS_M, RenderSettings

    sampling = sampling or SamplingConfig()
    used = RenderSettings(grid=grid, sampling=sampling, depth_estimator=depth_estimator)
    common: dict[str, Any] = {
        "seed": seed,
        "array": array,
        "grid": grid,
        "sampling": sampling,
        "split_seed": seed if split_seed is None else split_seed,
        "depth_estimator": used.depth_estimator_used,
        "snr_db": snr_db,
    }
    if mesh_dir is not None or kind == "mesh-dir":
        if kind == "eval" or mesh_dir is None:
            raise ValueError("a mesh-dir dataset needs --mesh-dir and no --kind eval")
        if mesh_units not in MESH_UNITS_M:
            raise ValueError(f"unknown mesh units {mesh_units!r}; use {', '.join(MESH_UNITS_M)}")
        if mesh_frame not in MESH_FRAMES:
            raise ValueError(f"unknown mesh frame {mesh_frame!r}; use {', '.join(MESH_FRAMES)}")
        files = mesh_files(mesh_dir)
        if n is not None and n != len(files):
            raise ValueError(f"--n {n} given, but {mesh_dir} holds {len(files)} mesh files")
        return DatasetConfig(
            kind="mesh-dir",
            n=len(files),
            pose=None,
            mesh_dir=str(Path(mesh_dir).resolve()),
            mesh_units=mesh_units,
            # None for the radar frame, so that sets made before the option resume unchanged
            mesh_frame=None if mesh_frame == "radar" else mesh_frame,
            mesh_files=files,
            n_val=n_val or 0,
            **common,
        )
    if kind not in ("random", "eval"):
        raise ValueError(f"unknown dataset kind {kind!r}; use random, eval or mesh-dir")
    if pose not in POSES:
        raise ValueError(f"unknown pose mode {pose!r}; use {' or '.join(POSES)}")
    path = resolve_face_model_path(face_model_path)
    model = _load_model(str(path), os.stat(path).st_mtime_ns)
    size = EVAL_IDENTITIES * EVAL_EXPRESSIONS if kind == "eval" else DEFAULT_N
    if kind == "eval" and n is not None and n != size:
        raise ValueError(f"an eval set has {size} samples (10 identities x 5 expressions)")
    n = size if n is None else n
    default_val = round(VAL_FRACTION * n) if kind == "random" else 0
    return DatasetConfig(
        kind=kind,
        n=n,
        face_model={"name": model.name, "hash": model.content_hash},
        n_shape=component_count(n_shape, model.n_shape, "n_shape"),
        n_expr=component_count(n_expr, model.n_expr, "n_expr"),
        pose=pose,
        eval_expressions=EVAL_EXPRESSIONS if kind == "eval" else 0,
        n_val=default_val if n_val is None else n_val,
        **common,
    )
