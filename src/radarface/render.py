"""Faces meet radar: one render path from a scene to radar images, in numpy/numba and in torch.

    SceneParams --face model--> posed mesh --radar.mesh_scatterers--> scatterers
        --radar.simulate--> S (n_tx, n_rx, n_freq) --radar.backproject--> volume (n_z, n_y, n_x)
        --radar.form_image--> RadarImage (amplitude, depth, mask)

A scene is face parameters (with the face model), a `Mesh` or `Points`. Every caller (the
`simulate`, `demo` and `dataset` commands, the fitting) renders through `render` or
`render_torch`, with one seeding rule: scene `index` of a run with `seed` samples its scatterers
(and noise) from `speckle_seed(seed, index)`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from radarface.arrays import is_tensor
from radarface.io import atomic_path, provenance, write_json
from radarface.params import SceneParams, sample_rendering

if TYPE_CHECKING:
    import torch

    from radarface.facemodel import MorphableModel
    from radarface.radar import ImagingGrid, RadarArray, RadarImage, Reflectance, SamplingConfig

#: Revision of what the renderer computes: raised whenever a change alters rendered images beyond
#: float rounding (simulation, imaging), so that a dataset resumes only with the renderer that
#: began it. 1: 2026-12-01, least-squares interpolators in the factorised back-projection (older
#: datasets carry no revision and count as 0). 2: 2026-12-03, the pose's cosines and sines in
#: float64 rounded to float32 (they were torch's float32 kernels, 1 ulp apart for a few per cent
#: of angles, and a face posed an ulp apart samples other scatterers: a sixth of the faces).
#: 3: 2026-12-03, coherent physical-optics scattering by default (`SamplingConfig.scattering`;
#: datasets record the model in their sampling settings, older ones load as "speckle").
RENDERER_REVISION = 3

MESH_UNITS_M = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}
_SPECKLE_TAG = 2  # random stream (seed, index, 2): scatterer sampling, diffuse phases, noise


def _default_grid() -> ImagingGrid:
    from radarface.radar import ImagingGrid

    return ImagingGrid()


def _default_sampling() -> SamplingConfig:
    from radarface.radar import SamplingConfig

    return SamplingConfig()


@dataclass(frozen=True)
class RenderSettings:
    """Everything besides the scene and the array that decides a radar image."""

    grid: ImagingGrid = field(default_factory=_default_grid)
    sampling: SamplingConfig = field(default_factory=_default_sampling)
    dynamic_range_db: float = 20.0  # the image's clipping level (and its mask's)
    snr_db: float | None = None
    method: str = "auto"  # back-projection backend, see radarface.radar.backproject
    device: str | None = None  # None or "cpu": numba kernels; "cuda[:N]": torch on that GPU

    def __post_init__(self) -> None:
        check_device(self.device)


def check_device(device: str | None) -> None:
    """Raise a one-line ValueError for a device this machine cannot run on."""
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use cpu or cuda[:N]") from None
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; use cpu or cuda[:N]")
    if parsed.type == "cuda" and (parsed.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA "
            "device(s); use --device cpu"
        )


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh in the radar frame (metres) with its reflectance."""

    vertices_m: np.ndarray  # (V, 3)
    triangles: np.ndarray  # (T, 3)
    reflectance: Reflectance | None = None  # None: radarface.radar.Reflectance()


@dataclass(frozen=True)
class Points:
    """Ideal isotropic point scatterers in the radar frame."""

    points_m: np.ndarray  # (P, 3)
    amplitudes: np.ndarray  # (P,) complex reflectivities


Scene = SceneParams | Mesh | Points


def speckle_seed(seed: int, index: int = 0) -> int:
    """The simulator seed (noise; under "speckle" also the surface sampling and diffuse phases)
    of scene `index` of `seed`."""
    return int(np.random.SeedSequence([seed, index, _SPECKLE_TAG]).generate_state(1)[0])


def reflectance_of(params: SceneParams) -> Reflectance:
    """The radar reflectance (material, antenna size) of one scene's parameters."""
    from radarface.radar import Reflectance

    return Reflectance(float(params.material), float(params.antenna_size))


def face_mesh(model: MorphableModel, params: SceneParams) -> Mesh:
    """The posed face of one scene's parameters as a radar-frame mesh with its reflectance."""
    from radarface.facemodel import posed_vertices

    return Mesh(posed_vertices(model, params), model.triangles, reflectance_of(params))


def load_mesh(path: str | Path, units: str = "m", reflectance: Reflectance | None = None) -> Mesh:
    """A mesh file (PLY, OBJ, STL, ...) in the radar frame, its coordinates in `units`."""
    import trimesh

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
    vertices = np.asarray(mesh.vertices) * MESH_UNITS_M[units]
    return Mesh(vertices, np.asarray(mesh.faces), reflectance)


def read_points_csv(path: str | Path) -> Points:
    """Point scatterers from a CSV with columns x_m,y_m,z_m,amplitude."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"point file not found: {path}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    columns = ("x_m", "y_m", "z_m", "amplitude")
    if not rows or any(c not in rows[0] for c in columns):
        raise ValueError(f"{path}: expected columns {','.join(columns)} and at least one row")
    try:
        values = np.array([[float(r[c]) for c in columns] for r in rows])
    except (TypeError, ValueError):
        raise ValueError(f"{path}: non-numeric value in a point row") from None
    return Points(values[:, :3], values[:, 3])


def simulate_scene(
    scene: Scene,
    array: RadarArray,
    settings: RenderSettings,
    *,
    seed: int = 0,
    index: int = 0,
    model: MorphableModel | None = None,
) -> np.ndarray:
    """S (n_tx, n_rx, n_freq) complex64 of a scene; face parameters need their `model`."""
    from radarface.radar import simulate_mesh, simulate_points

    if isinstance(scene, Points):
        return simulate_points(array, scene.points_m, scene.amplitudes)
    if isinstance(scene, SceneParams):
        if model is None:
            raise ValueError("rendering face parameters needs their face model")
        scene = face_mesh(model, scene)
    return simulate_mesh(
        array,
        scene.vertices_m,
        scene.triangles,
        scene.reflectance,
        settings.sampling,
        speckle_seed(seed, index),
        settings.snr_db,
        settings.device,
    )


def image_signal(s: np.ndarray, array: RadarArray, settings: RenderSettings) -> RadarImage:
    """Back-project S (n_tx, n_rx, n_freq) and form the amplitude and depth images."""
    from radarface.radar import image_volume

    return image_volume(
        s, array, settings.grid, settings.dynamic_range_db, settings.method, settings.device
    )


def render(
    scene: Scene,
    array: RadarArray,
    settings: RenderSettings,
    *,
    seed: int = 0,
    index: int = 0,
    model: MorphableModel | None = None,
) -> RadarImage:
    """The radar image of a scene (scene `index` of a run with `seed`; see `speckle_seed`)."""
    s = simulate_scene(scene, array, settings, seed=seed, index=index, model=model)
    return image_signal(s, array, settings)


def render_torch(
    params: SceneParams,
    model: MorphableModel,
    array: RadarArray,
    settings: RenderSettings,
    *,
    seed: int = 0,
    index: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(max_db (H, W), depth_m (H, W)) of one face scene, differentiable in its torch parameters.

    The same path as `render`: the scatterers are sampled on the detached mesh with the same
    seed (so the sampling and visibilities match the numpy path) and then recomputed from the
    posed vertices in torch, so gradients reach the shape and expression coefficients and the
    pose; material and antenna size enter as constants. The volume is imaged in torch only at
    each column's brightest voxel and its z neighbours (`radar.project_brightest`), the voxels
    the max projection reads. Clip with `radarface.radar.apply_dynamic_range`. Runs on
    `settings.device` (default cpu).
    """
    import torch

    from radarface.facemodel import posed_vertices
    from radarface.radar import (
        backproject,
        mesh_scatterers,
        project_brightest,
        scatterers_from_vertices,
        simulate_scatterers_torch,
    )

    device = torch.device(settings.device or "cpu")
    vertices = posed_vertices(model, params)
    rng = np.random.default_rng(speckle_seed(seed, index))
    sc = mesh_scatterers(
        array, vertices.detach().cpu().numpy(), model.triangles, settings.sampling, rng
    )
    sc_t = scatterers_from_vertices(vertices.to(device), model.triangles, sc)
    threshold = settings.sampling.specular_threshold
    s = simulate_scatterers_torch(array, sc_t, reflectance_of(params), threshold, device)
    # Only each column's brightest voxel and its z neighbours carry gradient through the max
    # projection: find them with the fast back-projection, then image just those in torch.
    volume = backproject(s.detach(), array, settings.grid, method=settings.method, device=device)
    if is_tensor(volume):
        brightest = volume.abs().argmax(0).cpu().numpy()
    else:
        brightest = np.abs(volume).argmax(0)
    return project_brightest(s, array, settings.grid, brightest)


def scene_metadata(
    scene: Scene, *, seed: int, index: int = 0, model: MorphableModel | None = None
) -> dict[str, Any]:
    """What a rendered scene records: its parameters or inputs, seed and face model."""
    meta: dict[str, Any] = {"seed": seed, "index": index, "speckle_seed": speckle_seed(seed, index)}
    if isinstance(scene, SceneParams):
        meta["face_model"] = {"name": model.name, "hash": model.content_hash} if model else None
        meta["params"] = scene.to_dict()
        meta["reflectance"] = reflectance_of(scene)
    elif isinstance(scene, Mesh):
        meta["n_vertices"], meta["n_triangles"] = len(scene.vertices_m), len(scene.triangles)
        meta["reflectance"] = scene.reflectance
    else:
        meta["n_points"] = len(scene.points_m)
    return meta


def build_scene(
    seed: int = 0,
    *,
    face_model_path: str | Path | None = None,
    mesh: str | Path | None = None,
    mesh_units: str = "m",
    points: str | Path | None = None,
    material: float | None = None,
    antenna_size: float | None = None,
) -> tuple[Scene, MorphableModel | None]:
    """The scene of `radarface simulate` and its face model (None unless a face): points from a
    CSV, a mesh file, or face 0 of `seed`; material and antenna size, where given, replace the
    ones drawn for `seed`."""
    from radarface.facemodel import load_face_model, resolve_face_model_path, sample_face_params
    from radarface.radar import Reflectance

    if mesh is not None and points is not None:
        raise ValueError("give either --mesh or --points, not both")
    if points is not None:
        return read_points_csv(points), None
    if mesh is not None:
        drawn = Reflectance(*sample_rendering(seed, 0))
        reflectance = Reflectance(
            drawn.material if material is None else material,
            drawn.antenna_size if antenna_size is None else antenna_size,
        )
        return load_mesh(mesh, mesh_units, reflectance), None
    model = load_face_model(resolve_face_model_path(face_model_path))
    params = sample_face_params(model, seed, 0)
    overrides = {"material": material, "antenna_size": antenna_size}
    params = replace(params, **{k: v for k, v in overrides.items() if v is not None})
    return params, model


def render_to_dir(
    out_dir: str | Path,
    scene: Scene,
    array: RadarArray,
    settings: RenderSettings,
    *,
    seed: int = 0,
    model: MorphableModel | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Render scene 0 of `seed` and write its outputs (see `write_image_outputs`)."""
    image = render(scene, array, settings, seed=seed, model=model)
    record = {**scene_metadata(scene, seed=seed, model=model), **(meta or {})}
    return write_image_outputs(out_dir, image, {**record, "settings": settings})


def write_image_outputs(out_dir: str | Path, image: RadarImage, meta: dict[str, Any]) -> Path:
    """Write image.npz, amplitude.png, depth.png and params.json (with provenance) into out_dir.

    Every file is written under a temporary name and renamed; params.json comes last and marks
    a complete output.
    """
    from radarface.plot import save_image_pngs

    out_dir = Path(out_dir)
    with atomic_path(out_dir / "image.npz") as tmp, tmp.open("wb") as f:
        np.savez_compressed(
            f,
            amplitude=image.amplitude,
            depth_m=image.depth_m,
            mask=image.mask,
            x_m=image.x_m,
            y_m=image.y_m,
            max_db=image.max_db,
        )
    save_image_pngs(out_dir, image)
    write_json(
        out_dir / "params.json",
        provenance(dynamic_range_db=image.dynamic_range_db, **meta),
    )
    return out_dir
