"""Dataset generation: create or resume a dataset and render its missing samples, in this
process, on a local process pool or on a dask.distributed cluster."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from radarface.radar.imaging import check_backprojection_memory
from radarface.render import RENDERER_REVISION, check_device, check_scene_extent, load_mesh


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


def check_meshes(config: DatasetConfig) -> None:
    """Read every mesh of a mesh-dir set and check it lies in the imaging grid (its units), so
    that a bad mesh is a one-line error before the dataset is made."""
    for name in config.mesh_files or ():
        path = Path(config.mesh_dir) / name
        mesh = load_mesh(path, config.mesh_units)
        check_scene_extent(mesh.vertices_m, config.grid, source=str(path), units=mesh.units)


def cpu_count() -> int:
    """Cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_worker_job: RenderJob | None = None  # a pool worker's job, set once by its initializer


_PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal this process gets when its parent dies


def _end_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Make this worker end when the process that started it dies (even by SIGKILL, which
    runs no clean-up): the kernel's parent-death signal on Linux, and a thread that polls the
    parent's pid (where the signal is unavailable, and for a parent that died before it was set).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)  # orphaned: the parent no longer waits for our results

    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_worker(threads: int, job: RenderJob, parent_pid: int) -> None:
    """Pool worker start: end with the parent, share the cores, keep the job, load the face
    model once."""
    global _worker_job
    _end_with_parent(parent_pid)
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
        initargs=(threads, job, os.getpid()),
    ) as pool:
        futures = [pool.submit(_worker_task, i) for i in todo]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


#: Seconds to reach a dask scheduler before giving up with a one-line error.
SCHEDULER_TIMEOUT_S = 5.0


def connect_scheduler(scheduler: str, timeout_s: float = SCHEDULER_TIMEOUT_S) -> Any:
    """A dask.distributed Client of the scheduler at `scheduler`; a one-line ValueError when it
    cannot be reached within `timeout_s`."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(
            f"--scheduler {scheduler}: no dask scheduler answered within {timeout_s:g} s "
            f"({reason}); check the address, or drop --scheduler to use local workers"
        ) from None


def _run_dask(todo: list[int], job: RenderJob, client: Any) -> Iterator[int]:
    """Render `todo` on a dask.distributed cluster (its `client`); yield completed indices."""
    from distributed import as_completed as dask_as_completed

    shared = client.scatter(job, broadcast=True)
    futures = client.map(render_and_store, list(todo), job=shared, pure=False)
    try:
        for future in dask_as_completed(futures):
            yield future.result()
    finally:
        client.cancel(futures)


def _run(todo: list[int], job: RenderJob, workers: int, client: Any | None) -> Iterator[int]:
    """Render `todo` on a dask cluster, a local pool, or in this process (workers == 1)."""
    if client is not None:
        yield from _run_dask(todo, job, client)
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
    else:
        check_meshes(config)
    workers = workers or cpu_count()
    check_backprojection_memory(config.array, config.grid, 1 if scheduler else workers)
    client = connect_scheduler(scheduler) if scheduler is not None else None
    try:
        group, created = _open_or_create(out, config, model)
        done = store.done_flags(group)
        todo = [int(i) for i in np.flatnonzero(~done)]
        start = time.perf_counter()
        completed_s = []
        if todo:
            job = RenderJob(str(out), config, model_path, device)
            completed = _run(todo, job, workers, client)
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
    finally:
        if client is not None:
            client.close()
    seconds = time.perf_counter() - start
    return GenerateReport(
        out, config.n, int(done.sum()), len(todo), seconds, created, tuple(completed_s)
    )
