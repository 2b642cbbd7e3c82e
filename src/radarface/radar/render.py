"""Radar rendering of faces and scenes end to end: scene -> S -> volume -> images, and outputs."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from radarface.facemodel import MorphableModel, posed_vertices  # noqa: E402
from radarface.io import atomic_path, provenance, write_json  # noqa: E402
from radarface.params import SceneParams, sample_rendering  # noqa: E402
from radarface.radar.array import ImagingGrid, RadarArray  # noqa: E402
from radarface.radar.images import RadarImage, form_image  # noqa: E402
from radarface.radar.imaging import backproject  # noqa: E402
from radarface.radar.scene import Reflectance, SamplingConfig  # noqa: E402
from radarface.radar.simulate import simulate_mesh, simulate_points  # noqa: E402

#: Revision of what the renderer computes: raised whenever a change alters rendered images beyond
#: float rounding (simulation, imaging), so that a dataset resumes only with the renderer that
#: began it. 1: 2026-12-01, least-squares interpolators in the factorised back-projection (older
#: datasets carry no revision and count as 0).
RENDERER_REVISION = 1


@dataclass(frozen=True)
class RenderSettings:
    """Everything besides the scene that decides a radar image."""

    grid: ImagingGrid = field(default_factory=ImagingGrid)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    dynamic_range_db: float = 20.0
    snr_db: float | None = None
    method: str = "auto"  # back-projection backend, see radarface.radar.backproject
    device: str | None = None  # None or "cpu": numba kernels; "cuda[:N]": torch on that GPU

    def __post_init__(self) -> None:
        if self.device is None:
            return
        try:
            device = torch.device(self.device)
        except RuntimeError:
            raise ValueError(f"unknown device {self.device!r}; use cpu or cuda[:N]") from None
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            raise ValueError(
                f"device {self.device!r}: this machine has {torch.cuda.device_count()} CUDA "
                "device(s); use --device cpu"
            )
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"unsupported device {self.device!r}; use cpu or cuda[:N]")


def sample_reflectance(seed: int, index: int) -> Reflectance:
    """The rendering parameters of sample `index` of a run with `seed` (own random stream)."""
    return Reflectance(*sample_rendering(seed, index))


def face_vertices(model: MorphableModel, params: SceneParams) -> np.ndarray:
    """(N, 3) vertices of the face of `params`, posed in the radar frame (metres)."""
    return posed_vertices(model, params)


def image_signal(s: np.ndarray, array: RadarArray, settings: RenderSettings) -> RadarImage:
    """Back-project S (n_tx, n_rx, n_freq) and form the amplitude and depth images."""
    volume = backproject(s, array, settings.grid, method=settings.method, device=settings.device)
    if isinstance(volume, torch.Tensor):
        volume = volume.detach().cpu().numpy()
    return form_image(volume, settings.grid, settings.dynamic_range_db)


def render_mesh(
    array: RadarArray,
    vertices_m: np.ndarray,
    triangles: np.ndarray,
    reflectance: Reflectance,
    settings: RenderSettings,
    seed: int,
) -> RadarImage:
    """Simulate a mesh (radar frame, metres) and image it."""
    s = simulate_mesh(
        array,
        vertices_m,
        triangles,
        reflectance,
        settings.sampling,
        seed,
        settings.snr_db,
        settings.device,
    )
    return image_signal(s, array, settings)


def read_points_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Point scatterers from a CSV with columns x_m,y_m,z_m,amplitude -> ((P, 3), (P,))."""
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
    return values[:, :3], values[:, 3]


def render_points(
    array: RadarArray, points_m: np.ndarray, amplitudes: np.ndarray, settings: RenderSettings
) -> RadarImage:
    """Simulate ideal point scatterers and image them."""
    return image_signal(simulate_points(array, points_m, amplitudes), array, settings)


def _save_png(path: Path, data: np.ndarray, cmap: str, vmin: float, vmax: float) -> None:
    with atomic_path(path) as tmp:
        plt.imsave(tmp, data, cmap=cmap, vmin=vmin, vmax=vmax, format="png")


def write_image_outputs(out_dir: str | Path, image: RadarImage, meta: dict[str, Any]) -> Path:
    """Write image.npz, amplitude.png, depth.png and params.json (with provenance) into out_dir.

    Every file is written under a temporary name and renamed; params.json comes last and marks
    a complete output.
    """
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
    _save_png(out_dir / "amplitude.png", image.amplitude, "gray", 0.0, 1.0)
    depth = np.where(image.mask, image.depth_m, np.nan)
    finite = depth[np.isfinite(depth)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    _save_png(out_dir / "depth.png", depth, "viridis_r", lo, hi)
    write_json(
        out_dir / "params.json",
        provenance(dynamic_range_db=image.dynamic_range_db, **meta),
    )
    return out_dir


def image_extent_cm(image: RadarImage) -> np.ndarray:
    """imshow extent (left, right, bottom, top) in cm, horizontal axis -x: unmirrored view."""
    return np.array([-image.x_m[0], -image.x_m[-1], image.y_m[-1], image.y_m[0]]) * 100


def show_image(ax: plt.Axes, image: RadarImage, kind: str) -> None:
    """Draw the amplitude or depth image, as a viewer behind the array sees it (axes in cm)."""
    extent_cm = image_extent_cm(image)
    if kind == "amplitude":
        shown = ax.imshow(image.amplitude, cmap="gray", vmin=0, vmax=1, extent=extent_cm)
        label = f"amplitude (0 = -{image.dynamic_range_db:g} dB)"
    else:
        shown = ax.imshow(
            np.where(image.mask, image.depth_m * 100, np.nan), cmap="viridis_r", extent=extent_cm
        )
        label = "depth z (cm)"
    plt.colorbar(shown, ax=ax, fraction=0.046, pad=0.02, label=label)
    ax.set_xlabel("-x (cm)")
    ax.set_ylabel("y (cm)")
