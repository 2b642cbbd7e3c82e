"""`radarface evaluate`: trained runs on datasets, as the paper's Section 4 measures them.

For every dataset and every run x refinement (a *row*), the predicted 26-value vectors come
from `radarface.fit.reconstruct` (cached per run, dataset and method, keyed by their hashes);
from them: Table 1 with both baselines, the cosine matrices of an evaluation set, per-vertex
error maps and error bins, example figures and runtimes. `report.write_report` writes them.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radarface import params as P
from radarface.data import DatasetConfig, open_dataset, store
from radarface.eval.cosine import DEFINITIONS
from radarface.eval.metrics import evaluate_params, face_model_metrics
from radarface.eval.scans import (
    CAPTURE_SET_FILE,
    ScanSurface,
    is_capture_set,
    name_labels,
    read_capture_set,
)
from radarface.facemodel import MorphableModel
from radarface.fit import REFINEMENTS
from radarface.fit.inputs import RadarInput, read_capture, read_dataset_samples
from radarface.fit.reconstruct import RefineSettings, reconstruct
from radarface.fit.runs import TrainedRun, load_run
from radarface.radar import ImagingGrid
from radarface.train.loop import CHECKPOINT

RANDOM_BASELINE_SEED = 0  # torch generator seed of the random baseline's draws
# Error bins (edges; the last bin is closed): the pose's RMS over its five scaled values (U(-1, 1)
# each: mean 0.58, sd 0.13; a neutral pose is 0), the material factor and the antenna size
# (paper Sec. 3.2 ranges, in thirds).
BINS: dict[str, tuple[float, ...]] = {
    "pose": (0.0, 0.45, 0.6, 0.75, 1.0),
    "material": (0.0, 1 / 3, 2 / 3, 1.0),
    "antenna_size": (0.2, 0.2 + 0.1 / 3, 0.2 + 0.2 / 3, 0.3),
}
CACHE_VERSION = 1  # bump when a cached prediction's contents change


@dataclass(frozen=True)
class EvalRun:
    """A trained run to evaluate: the run, its label and the hash of its weights and config."""

    run: TrainedRun
    label: str  # e.g. "Encoder (depth)"
    hash: str


@dataclass(frozen=True)
class EvalData:
    """The samples of a dataset or capture set to evaluate, what is known of them (true
    vectors, rendering parameters, scans) and their group labels."""

    path: Path
    name: str
    kind: str  # a dataset's kind ("random", "eval", "mesh-dir") or "captures"
    grid: ImagingGrid  # the pixels of the images
    face_model: dict | None  # name and hash of the face model that made the set, if one did
    info: dict[str, Any]  # what the report records of the set (pose, seed, settings)
    split: str
    hash: str
    inputs: list[RadarInput]
    truth: np.ndarray | None  # (N, 26), None without face parameters (scans)
    material: np.ndarray  # (N,) NaN where unknown
    antenna_size: np.ndarray  # (N,) NaN where unknown
    identity: np.ndarray | None = None  # (N,) group labels for the cosine matrices
    expression: np.ndarray | None = None  # (N,)
    scans: list[ScanSurface] | None = None  # the scanned surface of each sample (radar frame)


@dataclass
class Prediction:
    """A row's predicted vectors on one dataset, what they cost, and the example renderings."""

    estimate: np.ndarray  # (N, 26) the encoder's
    vector: np.ndarray  # (N, 26) after the refinement
    seconds: dict[str, float]  # per image
    rendered: dict[int, np.ndarray] = field(default_factory=dict)  # example index -> (H, W)
    rendered_image: str | None = None  # "amplitude" or "depth"
    cached: bool = False


@dataclass(frozen=True)
class EvalOptions:
    """What `evaluate` computes: refinements, their settings, examples, device, limits."""

    refine: tuple[str, ...] = ("none",)
    settings: RefineSettings = RefineSettings()
    cosine: str = "face"
    examples: int = 3
    limit: int | None = None
    device: str = "cpu"
    batch_size: int = 32
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = [r for r in self.refine if r not in REFINEMENTS]
        if unknown or not self.refine:
            raise ValueError(
                f"unknown refinement {unknown[0] if unknown else '(none given)'!r}; use a "
                f"comma-separated list of {', '.join(REFINEMENTS)}"
            )
        if self.cosine not in DEFINITIONS:
            raise ValueError(
                f"unknown cosine definition {self.cosine!r}; use {', '.join(DEFINITIONS)}"
            )
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be at least 1, got {self.limit}")


def file_hash(*paths: Path) -> str:
    """SHA-256 (hex) of the files' contents, in order."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def row_label(run: EvalRun, method: str) -> str:
    """A Table 1 row's name: the run's label and its refinement."""
    return run.label if method == "none" else f"{run.label} + {method}"


def load_runs(paths: list[Path]) -> list[EvalRun]:
    """The runs at `paths` (encoder or autoencoder), labelled as the paper's rows; a label two
    runs share gets each run's directory name."""
    runs = []
    for path in paths:
        run = load_run(path, ("encoder", "autoencoder"))
        label = f"{run.stage.capitalize()} ({run.image})"
        runs.append(EvalRun(run, label, file_hash(path / "config.json", path / CHECKPOINT)))
    labels = [r.label for r in runs]
    return [
        EvalRun(r.run, f"{r.label} [{r.run.path.name}]", r.hash) if labels.count(r.label) > 1 else r
        for r in runs
    ]


def stored_vectors(group: Any, indices: np.ndarray) -> np.ndarray:
    """(N, 26) true vectors of the stored samples `indices` (dynamic range: the evaluation's
    20 dB), read in bulk."""
    arrays = {name: group[f"params/{name}"][:][indices] for name in store.PARAM_ARRAYS}
    return P.SceneParams(**arrays).to_vector()


def load_data(
    path: Path, grid: ImagingGrid, limit: int | None = None, device: str = "cpu"
) -> EvalData:
    """The samples at `path` to evaluate: the validation split of a random set (Table 1),
    every sample of an eval or mesh-dir set, or every capture of a capture set (imaged on
    `grid`, the runs' pixels); the first `limit` of them."""
    if is_capture_set(path):
        return load_capture_set(path, grid, limit, device)
    group = open_dataset(path)
    config = DatasetConfig.from_json(group.attrs["config"])
    split = "val" if config.kind == "random" else "all"
    members = np.arange(config.n) if split == "all" else group["splits/val"][:]
    members = members[:limit]
    if len(members) == 0:
        raise ValueError(f"{path}: nothing to evaluate (its {split} split is empty)")
    inputs = read_dataset_samples(path, split, list(range(len(members))))
    truth = scans = labels = None
    if config.kind == "mesh-dir":
        files = [config.mesh_files[i] for i in members]
        scans = [
            scan_of(Path(config.mesh_dir) / f, config.mesh_units, config.mesh_frame or "radar")
            for f in files
        ]
        labels = name_labels([Path(f).stem for f in files])
    else:
        truth = stored_vectors(group, members)
    if config.kind == "eval":
        labels = np.divmod(members, config.eval_expressions)
    return EvalData(
        path=Path(path),
        name=Path(path).resolve().name,
        kind=config.kind,
        grid=config.grid,
        face_model=config.face_model,
        info={"pose": config.pose, "seed": config.seed},
        split=split,
        hash=file_hash(Path(path) / "zarr.json"),
        inputs=inputs,
        truth=truth,
        material=group["params/material"][:][members],
        antenna_size=group["params/antenna_size"][:][members],
        identity=None if labels is None else labels[0],
        expression=None if labels is None else labels[1],
        scans=scans,
    )


def scan_of(path: Path, units: str, frame: str) -> ScanSurface:
    from radarface.render import load_mesh

    mesh = load_mesh(path, units, frame=frame)
    return ScanSurface.from_mesh(mesh.vertices_m, mesh.triangles)


def load_capture_set(
    path: Path, grid: ImagingGrid, limit: int | None = None, device: str = "cpu"
) -> EvalData:
    """A capture set's captures imaged on `grid` (as `radarface image` images them) and their
    scans; hashed over every file it reads."""
    captures = read_capture_set(path)
    names = captures.names[:limit]
    settings = (captures.mesh_units, captures.mesh_frame)
    files = [*captures.captures[: len(names)], *captures.meshes[: len(names)]]
    if (Path(path) / CAPTURE_SET_FILE).is_file():
        files.append(Path(path) / CAPTURE_SET_FILE)
    labels = name_labels(names)
    nan = np.full(len(names), np.nan)
    return EvalData(
        path=Path(path),
        name=Path(path).resolve().name,
        kind="captures",
        grid=grid,
        face_model=None,
        info={
            "pose": None,
            "seed": None,
            "mesh_units": captures.mesh_units,
            "mesh_frame": captures.mesh_frame,
            "empty_filtered": captures.empty_filtered,
        },
        split="all",
        hash=file_hash(*files),
        inputs=[
            read_capture(c, grid, device, empty_filtered=captures.empty_filtered)
            for c in captures.captures[: len(names)]
        ],
        truth=None,
        material=nan,
        antenna_size=nan,
        identity=None if labels is None else labels[0],
        expression=None if labels is None else labels[1],
        scans=[scan_of(m, *settings) for m in captures.meshes[: len(names)]],
    )


def check_pairing(run: EvalRun, data: EvalData, model: MorphableModel) -> None:
    """A run can read a dataset: the same face model, and images formed as in its training."""
    own = run.run.dataset
    face_model = (data.face_model or {}).get("hash")
    if run.run.face_model_hash != model.content_hash:
        raise ValueError(
            f"{run.run.path} was trained with another face model than {model.name} "
            f"({model.content_hash[:12]}); give its --face-model"
        )
    if face_model is not None and face_model != run.run.face_model_hash:
        raise ValueError(
            f"{data.path} was made with face model {data.face_model['name']} "
            f"({face_model[:12]}), {run.run.path} was trained with another "
            f"({run.run.face_model_hash[:12]})"
        )
    grid, theirs = own.grid, data.grid

    def describe(g: Any) -> str:
        return (
            f"{g.n_y} x {g.n_x} pixels at {g.pitch_m * 1e3:g} mm, "
            f"z {g.z_m[0] * 100:g}-{g.z_m[-1] * 100:g} cm"
        )

    if describe(grid) != describe(theirs) or grid.center_xy_m != theirs.center_xy_m:
        raise ValueError(
            f"{run.run.path} reads {run.run.image} images of {describe(grid)}; "
            f"{data.path} holds images of {describe(theirs)}"
        )


def training_vectors(data: EvalData, runs: list[EvalRun]) -> tuple[np.ndarray, str]:
    """The training set's (N, 26) vectors for Table 1's mean baseline, and where they came
    from: the dataset's own train split (when its validation split is evaluated), else the
    first run's training set, else (1, 26) zeros, the prior's mean."""
    sources: list[Path] = []
    if data.split == "val":
        sources.append(data.path)
    for run in runs[:1]:
        info = json.loads((run.run.path / "config.json").read_text())
        if info.get("data_dir"):
            sources.append(Path(info["data_dir"]))
    for source in sources:
        try:
            group = open_dataset(source)
        except ValueError:
            continue  # a training set moved away: try the next source
        config = DatasetConfig.from_json(group.attrs["config"])
        train = group["splits/train"][:]
        if config.kind == "mesh-dir" or len(train) == 0:
            continue
        ours = (data.face_model or {}).get("hash")
        if ours is not None and (config.face_model or {}).get("hash") != ours:
            continue
        return stored_vectors(group, train), f"train split of {source} ({len(train)} samples)"
    return np.zeros((1, P.N_PARAMS)), "the prior's mean (no training set found)"


def cache_key(run: EvalRun, data: EvalData, method: str, options: EvalOptions) -> str:
    """The hash that names a cached prediction: run, dataset, samples, method and settings."""
    record = {
        "version": CACHE_VERSION,
        "run": run.hash,
        "dataset": data.hash,
        "samples": [i.name for i in data.inputs],
        "method": method,
        "config": repr(options.settings.of(method)),
        "examples": options.examples,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:24]


def example_indices(n: int, k: int) -> list[int]:
    """k sample positions spread over n (the first, the last and between)."""
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(k, n))}) if k > 0 else []


def predict(
    run: EvalRun,
    data: EvalData,
    method: str,
    model: MorphableModel,
    decoder: TrainedRun | None,
    options: EvalOptions,
    cached: Path | None = None,
) -> Prediction:
    """A row's prediction on `data`: read from `cached` (an npz of `save_prediction`) when it
    exists, else computed by `reconstruct`."""
    if cached is not None and cached.is_file():
        with np.load(cached, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            rendered = {int(k[9:]): f[k] for k in f.files if k.startswith("rendered_")}
            return Prediction(
                f["estimate"], f["vector"], meta["seconds"], rendered, meta["image"], True
            )
    results = reconstruct(
        data.inputs, model, run.run, decoder, method, options.settings,
        batch_size=options.batch_size, progress=options.progress,
    )  # fmt: skip
    seconds: dict[str, list[float]] = {}
    for r in results[:: max(1, options.batch_size)]:  # one record per batch
        for name, value in r.seconds.items():
            seconds.setdefault(name, []).append(value)
    examples = example_indices(len(results), options.examples)
    return Prediction(
        np.stack([r.estimate for r in results]).astype(np.float64),
        np.stack([r.vector for r in results]).astype(np.float64),
        {name: float(np.mean(v)) for name, v in seconds.items()},
        {k: results[k].rendered for k in examples if results[k].rendered is not None},
        results[0].rendered_image,
    )


def save_prediction(path: Path, prediction: Prediction) -> None:
    """A prediction as the npz that `predict` reads back."""
    from radarface.io import atomic_path

    meta = json.dumps({"seconds": prediction.seconds, "image": prediction.rendered_image})
    arrays = {f"rendered_{k}": v for k, v in prediction.rendered.items()}
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez_compressed(
            f, estimate=prediction.estimate, vector=prediction.vector, meta=np.array(meta),
            **arrays,
        )  # fmt: skip


def table_row(
    pred: np.ndarray, truth: np.ndarray, model: MorphableModel, mean_row: dict[str, float] | None
) -> dict[str, Any]:
    """Table 1's numbers of (N, 26) predictions and each one's ratio to the mean baseline's."""
    metrics = evaluate_params(
        torch.from_numpy(pred).double(), torch.from_numpy(truth).double(),
        face_model_metrics(model),
    )  # fmt: skip
    if mean_row is not None:
        metrics["ratio_to_mean"] = {
            k: v / mean_row[k] if mean_row[k] else float("nan")
            for k, v in metrics.items()
            if isinstance(v, float)
        }
    return metrics


def vertex_error_maps(
    model: MorphableModel, pred: np.ndarray, truth: np.ndarray, chunk: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex distance in mm between the faces (no pose) of (N, 26) predictions and truths:
    the mean over the samples (V,) and over the vertices (N,)."""
    per_vertex = np.zeros(model.n_vertices)
    per_sample = np.zeros(len(pred))
    for start in range(0, len(pred), chunk):
        a, b = pred[start : start + chunk], truth[start : start + chunk]
        meshes = [model.vertices(v[:, P.SHAPE], v[:, P.EXPRESSION]) for v in (a, b)]
        errors = 1000.0 * np.linalg.norm(meshes[0] - meshes[1], axis=-1)  # (n, V)
        per_vertex += errors.sum(0)
        per_sample[start : start + chunk] = errors.mean(1)
    return per_vertex / len(pred), per_sample


def pose_rms(truth: np.ndarray) -> np.ndarray:
    """(N,) RMS of the five scaled pose values (x, y translation and the three angles)."""
    pose = truth[:, P.POSE][:, [0, 1, 3, 4, 5]]
    return np.sqrt(np.mean(pose**2, axis=1))


def error_bins(
    data: EvalData, pred: np.ndarray, per_sample_mm: np.ndarray
) -> dict[str, list[dict[str, float]]]:
    """Table 1's total and the point distance per bin of pose, material and antenna size."""
    truth = data.truth
    sq = ((pred - truth) ** 2)[:, P.FACE_AND_POSE].mean(1)
    factors = {"pose": pose_rms(truth), "material": data.material, "antenna": data.antenna_size}
    out = {}
    for (name, edges), values in zip(BINS.items(), factors.values(), strict=True):
        which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
        out[name] = [
            {
                "low": edges[b],
                "high": edges[b + 1],
                "n": int(np.sum(which == b)),
                "total": float(sq[which == b].mean()) if np.any(which == b) else float("nan"),
                "point_dist_mm": float(per_sample_mm[which == b].mean())
                if np.any(which == b)
                else float("nan"),
            }
            for b in range(len(edges) - 1)
        ]
    return out


def learned_renderer_seconds(
    run: EvalRun, decoder: TrainedRun | None, device: str, batch_size: int = 32
) -> dict[str, float]:
    """Per image, on `device`, where the run has a renderer (`decoder`, else an autoencoder's
    own): the learned renderer's forward pass on one image (`learned_renderer`, the paper's
    58 ms) and per image of a batch (`learned_renderer_batched`); medians of 5 after a warm-up."""
    renderer = decoder.network if decoder is not None else None
    if renderer is None and run.run.stage == "autoencoder":
        renderer = run.run.network.decoder
    if renderer is None:
        return {}
    out = {}
    for name, n in (("learned_renderer", 1), ("learned_renderer_batched", batch_size)):
        vector = torch.zeros(n, P.N_PARAMS, device=device)
        times = []
        with torch.no_grad():
            for _ in range(6):
                _sync(device)
                tic = time.perf_counter()
                renderer(vector)
                _sync(device)
                times.append((time.perf_counter() - tic) / n)
        out[name] = float(np.median(times[1:]))
    return out


def physics_render_seconds(model: MorphableModel, config: DatasetConfig, device: str) -> float:
    """One physics render of the mean face on a dataset's array and grid (the second of two:
    the first loads the compiled kernels)."""
    from radarface.data.sample import render_settings
    from radarface.render import render

    scene = P.SceneParams(np.zeros(0), np.zeros(0), np.zeros(3), np.zeros(3))
    settings = render_settings(config, None if device == "cpu" else device)
    times = []
    for _ in range(2):
        _sync(device)
        tic = time.perf_counter()
        render(scene, config.array, settings, model=model)
        _sync(device)
        times.append(time.perf_counter() - tic)
    return times[-1]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
