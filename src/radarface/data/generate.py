"""Dataset generation: configuration, per-sample parameters and images, local and dask runs.

Every sample is a pure function of the configuration and its index: its parameters come from
random streams seeded by (seed, index) only (see `sample_parameters`), so any sample can be
regenerated alone, by any worker, in any order.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
import torch
import zarr
from tqdm import tqdm

from radarface.data import store
from radarface.facemodel import (
    MorphableModel,
    component_count,
    load_face_model,
    resolve_face_model_path,
    sample_face_params,
)
from radarface.io import jsonable
from radarface.params import SceneParams
from radarface.radar import (
    ImagingGrid,
    RadarArray,
    Reflectance,
    SamplingConfig,
    backproject,
    project_volume,
    simulate_mesh,
)
from radarface.radar.demo import MESH_UNITS_M, load_mesh
from radarface.radar.render import RENDERER_REVISION, face_vertices, sample_reflectance

KINDS = ("random", "eval", "mesh-dir")
POSES = ("sampled", "neutral")
MESH_SUFFIXES = (".ply", ".obj", ".stl")
DEFAULT_N = 10_000
VAL_FRACTION = 0.15  # 1,500 of the paper's 10,000
EVAL_IDENTITIES = 10
EVAL_EXPRESSIONS = 5
# Random stream tags: (seed, index) face and pose, (seed, index, 1) reflectance (both from
# radarface.facemodel / radarface.radar.render), (seed, index, 2) speckle.
_SPECKLE_TAG = 2


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
    mesh_files: tuple[str, ...] = ()
    n_val: int = 0
    split_seed: int = 0

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
                "sampling": SamplingConfig(**data["sampling"]),
                "mesh_files": tuple(data["mesh_files"]),
            }
        )


@dataclass(frozen=True)
class SampleParams:
    """The parameters of one sample (face coefficients and pose are empty/zero for mesh-dir)."""

    shape: np.ndarray  # (n_shape,)
    expr: np.ndarray  # (n_expr,)
    translation_m: np.ndarray  # (3,) radar frame
    rotation_rad: np.ndarray  # (3,) yaw, pitch, roll
    reflectance: Reflectance


@dataclass(frozen=True)
class Sample:
    """One rendered sample: parameters and images (H, W)."""

    params: SampleParams
    max_db: np.ndarray  # float32 <= 0, unclipped max projection
    depth_m: np.ndarray  # float32, z of the brightest voxel of every pixel (not masked)
    mask: np.ndarray  # bool, max_db >= -mask_dynamic_range_db


@dataclass(frozen=True)
class GenerateReport:
    """What a generate run found and did."""

    path: Path
    n: int
    done_before: int
    rendered: int
    seconds: float
    created: bool
    completed_s: tuple[float, ...] = ()  # when each rendered sample completed, from the start

    def summary(self) -> str:
        """One line for the user."""
        if self.rendered == 0:
            return f"{self.path}: complete ({self.n} samples); nothing to do"
        verb = "created" if self.created else "resumed"
        rate = self.rendered / max(self.seconds, 1e-9)
        return (
            f"{self.path}: {verb}; rendered {self.rendered} samples in {self.seconds:.1f} s "
            f"({rate:.2f} samples/s); {self.done_before + self.rendered} of {self.n} done"
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
    sampling: SamplingConfig | None = None,
) -> DatasetConfig:
    """The configuration of a random, eval (10 identities x 5 expressions) or mesh-dir dataset.

    n defaults to 10,000 (random); eval and mesh-dir sets have a fixed size. The validation split
    defaults to 15% of a random set and 0 otherwise; split_seed defaults to seed. A mesh_dir
    makes a mesh-dir set (kind "random" or "mesh-dir").
    """
    common: dict[str, Any] = {
        "seed": seed,
        "array": array,
        "grid": grid,
        "sampling": sampling or SamplingConfig(),
        "split_seed": seed if split_seed is None else split_seed,
    }
    if mesh_dir is not None or kind == "mesh-dir":
        if kind == "eval" or mesh_dir is None:
            raise ValueError("a mesh-dir dataset needs --mesh-dir and no --kind eval")
        if mesh_units not in MESH_UNITS_M:
            raise ValueError(f"unknown mesh units {mesh_units!r}; use {', '.join(MESH_UNITS_M)}")
        files = mesh_files(mesh_dir)
        if n is not None and n != len(files):
            raise ValueError(f"--n {n} given, but {mesh_dir} holds {len(files)} mesh files")
        return DatasetConfig(
            kind="mesh-dir",
            n=len(files),
            pose=None,
            mesh_dir=str(Path(mesh_dir).resolve()),
            mesh_units=mesh_units,
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


def sample_parameters(
    config: DatasetConfig, index: int, model: MorphableModel | None = None
) -> SampleParams:
    """The parameters of sample `index`, from the streams of (seed, index) (see docs/dataset.md).

    random: face, pose and reflectance of sample `index`. eval: sample k = identity i x
    expressions + expression j has the shape of sample i x expressions (shared by the identity),
    zero expression for j = 0 (neutral) and the expression of sample j otherwise (shared by all
    identities), and its own pose and reflectance. neutral pose: zero translation and rotation.
    """
    reflectance = sample_reflectance(config.seed, index)
    if config.kind == "mesh-dir":
        return SampleParams(np.zeros(0), np.zeros(0), np.zeros(3), np.zeros(3), reflectance)
    if model is None:
        raise ValueError(f"a {config.kind} dataset needs its face model")

    def draw(i: int) -> SceneParams:
        return sample_face_params(model, config.seed, i, config.n_shape, config.n_expr)

    face = draw(index)
    shape, expr = face.shape, face.expr
    if config.kind == "eval":
        identity, expression = divmod(index, config.eval_expressions)
        shape = draw(identity * config.eval_expressions).shape
        expr = np.zeros(config.n_expr) if expression == 0 else draw(expression).expr
    translation, rotation = face.translation_m, face.rotation_rad
    if config.pose == "neutral":
        translation, rotation = np.zeros(3), np.zeros(3)
    return SampleParams(shape, expr, translation, rotation, reflectance)


def all_parameters(config: DatasetConfig, model: MorphableModel | None) -> dict[str, np.ndarray]:
    """The parameter arrays of every sample, as stored (see radarface.data.store)."""
    rows = [sample_parameters(config, i, model) for i in range(config.n)]
    n = config.n
    return {
        "shape": np.array([r.shape for r in rows]).reshape(n, config.n_shape),
        "expr": np.array([r.expr for r in rows]).reshape(n, config.n_expr),
        "translation_m": np.array([r.translation_m for r in rows]),
        "rotation_rad": np.array([r.rotation_rad for r in rows]),
        "material": np.array([r.reflectance.material for r in rows]),
        "antenna_size": np.array([r.reflectance.antenna_size for r in rows]),
    }


def speckle_seed(seed: int, index: int) -> int:
    """The simulator seed (surface sampling, diffuse phases) of sample `index`."""
    return int(np.random.SeedSequence([seed, index, _SPECKLE_TAG]).generate_state(1)[0])


def sample_mesh(
    config: DatasetConfig, index: int, params: SampleParams, model: MorphableModel | None
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) in the radar frame (metres) and triangles (T, 3) of sample `index`."""
    if config.kind == "mesh-dir":
        return load_mesh(Path(config.mesh_dir) / config.mesh_files[index], config.mesh_units)
    face = SceneParams(params.shape, params.expr, params.translation_m, params.rotation_rad)
    return face_vertices(model, face), model.triangles


def render_sample(config: DatasetConfig, index: int, model: MorphableModel | None = None) -> Sample:
    """Parameters and images of sample `index` (deterministic)."""
    params = sample_parameters(config, index, model)
    vertices, triangles = sample_mesh(config, index, params, model)
    seed = speckle_seed(config.seed, index)
    s = simulate_mesh(config.array, vertices, triangles, params.reflectance, config.sampling, seed)
    volume = backproject(s, config.array, config.grid, method=config.imaging_method)
    max_db, depth_m = project_volume(volume, config.grid)
    return Sample(params, max_db, depth_m, max_db >= -config.mask_dynamic_range_db)


def render_and_store(
    index: int, out: str, config: DatasetConfig, face_model_path: str | None
) -> int:
    """The per-sample task: render sample `index`, write its images, then its done flag."""
    model = None if face_model_path is None else load_checked_model(face_model_path, config)
    sample = render_sample(config, index, model)
    group = zarr.open_group(out, mode="r+", zarr_format=3)
    store.write_sample(group, index, sample.max_db, sample.depth_m, sample.mask)
    return index


def _open_or_create(
    out: Path, config: DatasetConfig, model: MorphableModel | None
) -> tuple[zarr.Group, bool]:
    """Resume the dataset at `out` if its configuration matches, or create it if `out` is free."""
    requested = config.to_json()
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        group = store.open_dataset(out, mode="r+")
        created = group.attrs.get("created")
        revision = created.get("renderer_revision", 0) if isinstance(created, dict) else 0
        if revision != RENDERER_REVISION:
            raise store.DatasetError(
                f"{out} was rendered by renderer revision {revision} and this radarface renders "
                f"revision {RENDERER_REVISION} (other images); finish it with the radarface that "
                "began it or give a new --out"
            )
        differs = store.config_mismatch(group.attrs["config"], requested)
        if differs:
            raise store.DatasetError(
                f"{out} holds a dataset with another configuration (differs in: "
                f"{', '.join(differs)}); give a new --out or the original options"
            )
        return group, False
    splits = store.split_indices(config.n, config.n_val, config.split_seed)
    params = all_parameters(config, model)
    group = store.create_dataset(
        out, requested, params, splits, config.image_shape, RENDERER_REVISION
    )
    return group, True


def cpu_count() -> int:
    """Cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# A pool worker's job, set once by its initializer: (out, config, face model path).
_worker_job: tuple[str, DatasetConfig, str | None] | None = None


def _init_worker(
    threads: int, out: str, config: DatasetConfig, face_model_path: str | None
) -> None:
    """Pool worker start: share the cores, keep the job, load the face model once."""
    global _worker_job
    numba.set_num_threads(threads)
    torch.set_num_threads(threads)
    _worker_job = (out, config, face_model_path)
    if face_model_path is not None:
        load_checked_model(face_model_path, config)


def _worker_task(index: int) -> int:
    """render_and_store of sample `index` in a pool worker's job."""
    return render_and_store(index, *_worker_job)


def _run_pool(
    todo: list[int], out: str, config: DatasetConfig, model_path: str | None, workers: int
) -> Iterator[int]:
    """Render `todo` on `workers` local processes; yield indices as they complete."""
    threads = max(1, cpu_count() // workers)
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),  # numba's OpenMP layer is not fork-safe
        initializer=_init_worker,
        initargs=(threads, out, config, model_path),
    ) as pool:
        futures = [pool.submit(_worker_task, i) for i in todo]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _run_dask(
    todo: list[int], out: str, config: DatasetConfig, model_path: str | None, scheduler: str
) -> Iterator[int]:
    """Render `todo` on the dask.distributed cluster at `scheduler`; yield completed indices."""
    from distributed import Client
    from distributed import as_completed as dask_as_completed

    with Client(scheduler) as client:
        shared = client.scatter(config, broadcast=True)
        futures = client.map(
            render_and_store,
            list(todo),
            out=out,
            config=shared,
            face_model_path=model_path,
            pure=False,
        )
        try:
            for future in dask_as_completed(futures):
                yield future.result()
        finally:
            client.cancel(futures)


def _run(
    todo: list[int],
    out: str,
    config: DatasetConfig,
    model_path: str | None,
    workers: int,
    scheduler: str | None,
) -> Iterator[int]:
    """Render `todo` on a dask cluster, a local pool, or in this process (workers == 1)."""
    if scheduler is not None:
        yield from _run_dask(todo, out, config, model_path, scheduler)
    elif workers > 1:
        yield from _run_pool(todo, out, config, model_path, workers)
    else:
        for index in todo:
            yield render_and_store(index, out, config, model_path)


def generate_dataset(
    out: str | os.PathLike,
    config: DatasetConfig,
    face_model_path: str | os.PathLike | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> GenerateReport:
    """Create or resume the dataset at `out` and render every sample that is not done.

    workers: local processes (default: all cores; 1 renders in this process); scheduler: a
    dask.distributed scheduler address instead (its workers must see `out` and the face model).
    """
    out = Path(out)
    model_path = None
    model = None
    if config.kind != "mesh-dir":
        model_path = str(Path(resolve_face_model_path(face_model_path)).resolve())
        model = load_checked_model(model_path, config)
    group, created = _open_or_create(out, config, model)
    done = store.done_flags(group)
    todo = [int(i) for i in np.flatnonzero(~done)]
    start = time.perf_counter()
    completed_s = []
    if todo:
        completed = _run(todo, str(out), config, model_path, workers or cpu_count(), scheduler)
        with tqdm(
            total=config.n,
            initial=int(done.sum()),
            unit="sample",
            disable=not progress,
            desc=out.name,
            smoothing=0.05,
        ) as bar:
            for _ in completed:
                completed_s.append(time.perf_counter() - start)
                bar.update()
    seconds = time.perf_counter() - start
    return GenerateReport(
        out, config.n, int(done.sum()), len(todo), seconds, created, tuple(completed_s)
    )
