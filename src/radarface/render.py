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
    from radarface.radar import (
        ImagingGrid,
        MeshScatterers,
        RadarArray,
        RadarImage,
        Reflectance,
        SamplingConfig,
    )
    from radarface.radar.measured import Measurement

#: Revision of what the renderer computes: raised whenever a change alters rendered images beyond
#: float rounding (simulation, imaging), so that a dataset resumes only with the renderer that
#: began it. 1: 2026-12-01, least-squares interpolators in the factorised back-projection (older
#: datasets carry no revision and count as 0). 2: 2026-12-03, the pose's cosines and sines in
#: float64 rounded to float32 (they were torch's float32 kernels, 1 ulp apart for a few per cent
#: of angles, and a face posed an ulp apart samples other scatterers: a sixth of the faces).
#: 3: 2026-12-03, coherent physical-optics scattering by default (`SamplingConfig.scattering`;
#: datasets record the model in their sampling settings, older ones load as "speckle").
#: 4: 2026-12-03, depth from the carrier phase under coherent scattering ("auto" estimator).
#: 5: 2026-12-03, the exact facet integral over facets of up to 8 mm by default
#: (`SamplingConfig.facet_integral`; older datasets load as "gaussian").
RENDERER_REVISION = 5

MESH_UNITS_M = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}
#: Frames a mesh file may be in: radarface's radar frame, or MAROON's x-mirrored reconstruction
#: frame (meshes registered to MAROON captures; see radarface.radar.measured.maroon_to_radar).
MESH_FRAMES = ("radar", "maroon")
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
    # radarface.radar.DEPTH_ESTIMATORS (numpy images only), or "auto": "phase" under coherent
    # scattering (its reflection phase is fixed), else "parabola" (the paper's)
    depth_estimator: str = "auto"

    @property
    def depth_estimator_used(self) -> str:
        """The depth estimator that "auto" resolves to for this sampling."""
        if self.depth_estimator != "auto":
            return self.depth_estimator
        return "phase" if self.sampling.scattering == "coherent" else "parabola"

    def __post_init__(self) -> None:
        from radarface.radar import DEPTH_ESTIMATORS

        check_device(self.device)
        if self.depth_estimator not in ("auto", *DEPTH_ESTIMATORS):
            raise ValueError(
                f"unknown depth estimator {self.depth_estimator!r}; use auto or "
                f"{', '.join(DEPTH_ESTIMATORS)}"
            )


def check_device(device: str | None, allow_auto: bool = False) -> None:
    """Raise a one-line ValueError for a device this machine cannot run on: the one device check
    of every command (None passes: the CPU; "auto", CUDA where present, where `allow_auto`)."""
    if device is None or (allow_auto and device == "auto"):
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
    source: str | None = None  # the file it was read from, for error messages
    units: str | None = None  # the units of that file's coordinates (a key of MESH_UNITS_M)


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
    """The radar reflectance (material, antenna size) of one scene's parameters: floats, or
    0-d tensors (differentiable) where the parameters are tensors."""
    from radarface.radar import Reflectance

    if is_tensor(params.material) or is_tensor(params.antenna_size):
        import torch

        values = (torch.as_tensor(x).reshape(()) for x in (params.material, params.antenna_size))
        return Reflectance(*values)
    return Reflectance(float(params.material), float(params.antenna_size))


def face_mesh(model: MorphableModel, params: SceneParams) -> Mesh:
    """The posed face of one scene's parameters as a radar-frame mesh with its reflectance."""
    from radarface.facemodel import posed_vertices

    return Mesh(posed_vertices(model, params), model.triangles, reflectance_of(params))


def load_mesh(
    path: str | Path,
    units: str = "m",
    reflectance: Reflectance | None = None,
    frame: str = "radar",
) -> Mesh:
    """A mesh file (PLY, OBJ, STL, ...), its coordinates in `units` and in `frame` (one of
    MESH_FRAMES), as a radar-frame Mesh. A "maroon" mesh is mirrored in x (the triangles'
    vertex order reversed too, so that their normals still point out of the surface)."""
    import trimesh

    from radarface.radar.measured import maroon_to_radar

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    if units not in MESH_UNITS_M:
        raise ValueError(f"unknown mesh units {units!r}; use one of {', '.join(MESH_UNITS_M)}")
    if frame not in MESH_FRAMES:
        raise ValueError(f"unknown mesh frame {frame!r}; use one of {', '.join(MESH_FRAMES)}")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as err:  # trimesh raises many types for unreadable files
        raise ValueError(f"{path}: cannot read mesh ({err})") from None
    if len(mesh.faces) == 0:
        raise ValueError(f"{path}: the mesh has no triangles")
    vertices = np.asarray(mesh.vertices) * MESH_UNITS_M[units]
    if not np.all(np.isfinite(vertices)):
        raise ValueError(f"{path}: the mesh has NaN or infinite coordinates")
    triangles = np.asarray(mesh.faces)
    if frame == "maroon":
        vertices, triangles = maroon_to_radar(vertices), triangles[:, ::-1].copy()
    return Mesh(vertices, triangles, reflectance, str(path), units)


def _box_text(lo_m: np.ndarray, hi_m: np.ndarray) -> str:
    """'x -9.2..9.2, y -16..12, z 25..41 cm' of a box's corners (3,) in metres."""
    bounds = zip("xyz", lo_m, hi_m, strict=True)
    parts = [f"{a} {lo * 100:.3g}..{hi * 100:.3g}" for a, lo, hi in bounds]
    return ", ".join(parts) + " cm"


def check_scene_extent(
    points_m: np.ndarray, grid: ImagingGrid, *, source: str = "the scene", units: str | None = None
) -> None:
    """One-line ValueError when the scene's box (points (P, 3), metres) misses the imaging grid's
    box grown by its own size: its image would hold nothing of it. For a file read in `units`,
    the message gives its size in every unit and the units that would place it in the grid (a
    mesh in mm read as m is a thousand times too large and far; one in m read as mm, a speck at
    the array)."""
    from radarface.radar.profiles import grid_box

    lo_g, hi_g = grid_box(grid)
    # The grid's box grown by its own size on every side: a scene just beyond it (a capture at
    # 40 cm on the default 22.5-36 cm grid) is a warning of its image (`radar.edge_warning`),
    # one many times off (a unit mistake) an error here.
    margin = hi_g - lo_g + np.array([grid.pitch_m, grid.pitch_m, grid.z_step_m])
    lo, hi = points_m.min(axis=0), points_m.max(axis=0)

    def meets(scale: float) -> bool:
        return bool(np.all(lo * scale <= hi_g + margin) and np.all(hi * scale >= lo_g - margin))

    if meets(1.0):
        return
    read = f"read in {units}, " if units is not None else ""
    message = f"{source}: {read}the scene ({_box_text(lo, hi)}) lies outside the imaging grid "
    message += f"({_box_text(lo_g, hi_g)})"
    if units is not None:
        side = float((hi - lo).max()) / MESH_UNITS_M[units]  # in the file's units
        sizes = ", ".join(f"{side * f:.3g} m if in {u}" for u, f in MESH_UNITS_M.items())
        fits = [u for u, f in MESH_UNITS_M.items() if meets(f / MESH_UNITS_M[units])]
        message += f"; its largest side is {sizes}"
        message += f"; use --mesh-units {fits[0]}" if fits else "; move it in front of the array"
    raise ValueError(message)


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
        check_scene_extent(scene.points_m, settings.grid, source="the points")
        return simulate_points(array, scene.points_m, scene.amplitudes)
    if isinstance(scene, SceneParams):
        if model is None:
            raise ValueError("rendering face parameters needs their face model")
        scene = face_mesh(model, scene)
    check_scene_extent(
        scene.vertices_m, settings.grid, source=scene.source or "the mesh", units=scene.units
    )
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
        s,
        array,
        settings.grid,
        settings.dynamic_range_db,
        settings.method,
        settings.device,
        settings.depth_estimator_used,
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


def sample_scatterers(
    params: SceneParams,
    model: MorphableModel,
    array: RadarArray,
    settings: RenderSettings,
    *,
    seed: int = 0,
    index: int = 0,
) -> MeshScatterers:
    """The scatterers `render` samples on a face scene's posed mesh (numpy): their triangles,
    barycentric coordinates, visibilities and phases."""
    from radarface.facemodel import posed_vertices
    from radarface.radar import mesh_scatterers

    vertices = posed_vertices(model, params)
    if is_tensor(vertices):
        vertices = vertices.detach().cpu().numpy()
    rng = np.random.default_rng(speckle_seed(seed, index))
    return mesh_scatterers(array, vertices, model.triangles, settings.sampling, rng)


def render_torch(
    params: SceneParams,
    model: MorphableModel,
    array: RadarArray,
    settings: RenderSettings,
    *,
    seed: int = 0,
    index: int = 0,
    dynamic_range_db: float | None = None,
    scatterers: MeshScatterers | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(max_db (H, W), depth_m (H, W)) of one face scene, differentiable in its torch parameters.

    The same path as `render`: the scatterers are sampled on the detached mesh with the same
    seed (`sample_scatterers`, so the sampling and visibilities match the numpy path), or given
    (`scatterers`, sampled earlier: a fit keeps them fixed, so that its loss is smooth in the
    parameters instead of jumping with every resampling), and then recomputed from the posed
    vertices in torch, so gradients reach the shape and expression coefficients and the pose;
    material and antenna size enter as constants. The volume is imaged in torch only at each
    column's brightest voxel and its z neighbours (`radar.project_brightest`), the voxels the
    max projection reads; with `dynamic_range_db`, only in the columns within that range of the
    peak (the only ones with a gradient once the image is clipped there). Clip with
    `radarface.radar.apply_dynamic_range`. Runs on `settings.device` (default cpu).
    """
    import torch

    from radarface.facemodel import posed_vertices
    from radarface.radar import (
        backproject,
        project_brightest,
        scatterers_from_vertices,
        simulate,
    )

    device = torch.device(settings.device or "cpu")
    if scatterers is None:
        scatterers = sample_scatterers(params, model, array, settings, seed=seed, index=index)
    vertices = posed_vertices(model, params)
    sc_t = scatterers_from_vertices(vertices.to(device), model.triangles, scatterers)
    threshold = settings.sampling.specular_threshold
    # auto: on the CPU the numba kernel with its hand-written adjoint (~10x faster), else torch
    s = simulate(array, sc_t, reflectance_of(params), threshold, device=device)
    # Only each column's brightest voxel and its z neighbours carry gradient through the max
    # projection: find them with the fast back-projection, then image just those in torch.
    volume = backproject(s.detach(), array, settings.grid, method=settings.method, device=device)
    max_db, depth = project_brightest(s, array, settings.grid, volume, dynamic_range_db)
    if settings.depth_estimator_used == "phase":
        # The phase estimator's depth values, with the brightest voxel's gradient (both follow
        # the surface; the phase one without the parabola's bias): a straight-through estimate.
        depth = depth + (_phase_depth_like(s, array, settings.grid, volume, depth) - depth).detach()
    return max_db, depth


def _phase_depth_like(
    s: torch.Tensor, array: RadarArray, grid: ImagingGrid, volume: Any, depth: torch.Tensor
) -> torch.Tensor:
    """`radar.phase_refined_depth` of `depth` (its values, no gradient): a tensor like it."""
    import torch

    from radarface.radar import phase_refined_depth, project_volume

    volume = volume.detach().cpu().numpy() if is_tensor(volume) else np.asarray(volume)
    max_db, _ = project_volume(volume, grid)
    found = phase_refined_depth(
        volume, max_db, depth.detach().cpu().numpy(), s.detach().cpu().numpy(), array, grid
    )
    return torch.from_numpy(found).to(depth.device, depth.dtype)


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
    mesh_frame: str = "radar",
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
        return load_mesh(mesh, mesh_units, reflectance, mesh_frame), None
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
) -> list[str]:
    """Render scene 0 of `seed` and write its outputs (see `write_image_outputs`); returns the
    warnings recorded with them (a scene beyond the grid's depth: `radar.edge_warning`)."""
    from radarface.radar import edge_warning

    image = render(scene, array, settings, seed=seed, model=model)
    warnings = [w for w in (edge_warning(image, settings.grid),) if w]
    record = {**scene_metadata(scene, seed=seed, model=model), **(meta or {})}
    meta = {
        **record,
        "settings": settings,
        "depth_estimator": settings.depth_estimator_used,
        "warnings": warnings,
    }
    write_image_outputs(out_dir, image, meta, settings.grid)
    return warnings


def image_capture_to_dir(
    out_dir: str | Path,
    capture: Measurement,
    settings: RenderSettings,
    *,
    choose_z: bool = False,
    meta: dict[str, Any] | None = None,
) -> list[str]:
    """Image a measured capture and write its outputs (see `write_image_outputs`).

    With `choose_z` the grid's depth range comes from the capture's strongest echoes
    (`radar.zrange`); otherwise a warning is recorded when they lie outside it, or when the
    brightest pixel peaks on its first or last slice. Returns the messages for the user: the range
    chosen and the warnings.
    """
    from radarface.radar import choose_z_range, echoes_warning, edge_warning, find_echoes

    echoes = find_echoes(capture.s, capture.array, settings.grid.center_xy_m, capture.pairs)
    messages = []
    if choose_z:
        z_min, z_max = choose_z_range(echoes, settings.grid.z_step_m)
        settings = replace(settings, grid=replace(settings.grid, z_min_m=z_min, z_max_m=z_max))
        messages.append(
            f"z range {z_min * 100:.1f}-{z_max * 100:.1f} cm, chosen from the data (strongest "
            f"echoes at {echoes.near_m * 100:.1f}-{echoes.far_m * 100:.1f} cm); set it with "
            "--z-range-cm"
        )
    image = image_signal(capture.s, capture.array, settings)
    warning = echoes_warning(echoes, settings.grid) or edge_warning(image, settings.grid)
    warnings = [warning] if warning else []
    z_range = {
        "z_min_m": settings.grid.z_min_m,
        "z_max_m": settings.grid.z_max_m,
        "chosen": "from the data" if choose_z else "given",
        "echoes_m": echoes,
    }
    record = {**(meta or {}), "capture": capture.info, "z_range": z_range, "warnings": warnings}
    meta = {**record, "settings": settings, "depth_estimator": settings.depth_estimator_used}
    write_image_outputs(out_dir, image, meta, settings.grid)
    return messages + warnings


def write_image_outputs(
    out_dir: str | Path, image: RadarImage, meta: dict[str, Any], grid: ImagingGrid
) -> Path:
    """Write image.npz, amplitude.png and depth.png (the raw images), figure.png (labelled:
    amplitude in dB, depth in mm over the grid's depths, axes in mm, colour bars) and
    params.json (with provenance, and the depth range of the figures) into out_dir.

    Every file is written under a temporary name and renamed; params.json comes last and marks
    a complete output.
    """
    from radarface.plot import image_figure, save_image_pngs

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
    z_range_m = (float(grid.z_m[0]), float(grid.z_m[-1]))
    save_image_pngs(out_dir, image, z_range_m)
    title = f"{out_dir.name}: {image.dynamic_range_db:g} dB, depth {z_range_m[0] * 1e3:.0f}-"
    image_figure(out_dir / "figure.png", image, z_range_m, f"{title}{z_range_m[1] * 1e3:.0f} mm")
    write_json(
        out_dir / "params.json",
        provenance(dynamic_range_db=image.dynamic_range_db, depth_range_m=z_range_m, **meta),
    )
    return out_dir
