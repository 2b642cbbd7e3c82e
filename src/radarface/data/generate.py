"""Dataset generation: create or resume a dataset and render its missing samples, in this
process, on a local process pool or on a dask.distributed cluster."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import torch
import zarr
from tqdm import tqdm

from radarface.data import store
from radarface.data.config import DatasetConfig, load_checked_model
from radarface.data.sample import render_sample, sample_parameters
from radarface.facemodel import MorphableModel, resolve_face_model_path
from radarface.params import SceneParams
from radarface.render import RENDERER_REVISION, check_device


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


def all_parameters(config: DatasetConfig, model: MorphableModel | None) -> dict[str, np.ndarray]:
    """The parameter arrays of every sample, as stored (see radarface.data.store)."""
    params = SceneParams.stack([sample_parameters(config, i, model) for i in range(config.n)])
    return {name: getattr(params, name) for name in store.PARAM_ARRAYS}


@dataclass(frozen=True)
class RenderJob:
    """What every sample task of one run shares."""

    out: str  # the dataset directory
    config: DatasetConfig
    face_model_path: str | None  # None for mesh-dir sets
    device: str | None = None  # see radarface.render.RenderSettings


def render_and_store(index: int, job: RenderJob) -> int:
    """The per-sample task: render sample `index`, write its images, then its done flag."""
    model = None
    if job.face_model_path is not None:
        model = load_checked_model(job.face_model_path, job.config)
    _, image = render_sample(job.config, index, model, job.device)
    group = zarr.open_group(job.out, mode="r+", zarr_format=3)
    store.write_sample(group, index, image.max_db, image.peak_depth_m, image.mask)
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


_worker_job: RenderJob | None = None  # a pool worker's job, set once by its initializer


def _init_worker(threads: int, job: RenderJob) -> None:
    """Pool worker start: share the cores, keep the job, load the face model once."""
    global _worker_job
    numba.set_num_threads(threads)
    torch.set_num_threads(threads)
    _worker_job = job
    if job.face_model_path is not None:
        load_checked_model(job.face_model_path, job.config)


def _worker_task(index: int) -> int:
    """render_and_store of sample `index` in a pool worker's job."""
    return render_and_store(index, _worker_job)


def _run_pool(todo: list[int], job: RenderJob, workers: int) -> Iterator[int]:
    """Render `todo` on `workers` local processes; yield indices as they complete."""
    threads = max(1, cpu_count() // workers)
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),  # numba's OpenMP layer is not fork-safe
        initializer=_init_worker,
        initargs=(threads, job),
    ) as pool:
        futures = [pool.submit(_worker_task, i) for i in todo]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _run_dask(todo: list[int], job: RenderJob, scheduler: str) -> Iterator[int]:
    """Render `todo` on the dask.distributed cluster at `scheduler`; yield completed indices."""
    from distributed import Client
    from distributed import as_completed as dask_as_completed

    with Client(scheduler) as client:
        shared = client.scatter(job, broadcast=True)
        futures = client.map(render_and_store, list(todo), job=shared, pure=False)
        try:
            for future in dask_as_completed(futures):
                yield future.result()
        finally:
            client.cancel(futures)


def _run(todo: list[int], job: RenderJob, workers: int, scheduler: str | None) -> Iterator[int]:
    """Render `todo` on a dask cluster, a local pool, or in this process (workers == 1)."""
    if scheduler is not None:
        yield from _run_dask(todo, job, scheduler)
    elif workers > 1:
        yield from _run_pool(todo, job, workers)
    else:
        for index in todo:
            yield render_and_store(index, job)


def generate_dataset(
    out: str | os.PathLike,
    config: DatasetConfig,
    face_model_path: str | os.PathLike | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    device: str | None = None,
) -> GenerateReport:
    """Create or resume the dataset at `out` and render every sample that is not done.

    workers: local processes (default: all cores; 1 renders in this process); scheduler: a
    dask.distributed scheduler address instead (its workers must see `out` and the face model);
    device: where each sample is simulated and imaged (see radarface.render.RenderSettings).
    """
    check_device(device)
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
        job = RenderJob(str(out), config, model_path, device)
        completed = _run(todo, job, workers or cpu_count(), scheduler)
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
