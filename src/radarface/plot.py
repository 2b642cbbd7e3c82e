"""Every figure radarface draws: meshes, radar images, a face's figure, a dataset's grid.

Figures use matplotlib's object API (`matplotlib.figure.Figure`), so importing this module
neither picks nor switches a backend; every file is written atomically. Figures and axes are
imported where they are drawn: a radar image's PNGs (`save_image_pngs`, after every
`radarface simulate`) need only matplotlib's colour maps and Pillow.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np

from radarface.facemodel import vertex_normals
from radarface.io import atomic_path
from radarface.radar import RadarImage

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write `fig` as a PNG at `path`, atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Path(path)


def draw_mesh(
    ax: Axes,
    vertices_m: np.ndarray,
    triangles: np.ndarray,
    values: np.ndarray | None = None,
    vmax: float | None = None,
) -> PolyCollection:
    """Shaded orthographic view along +z (from behind the array): image right is radar -x.

    values: (N,) per-vertex values to colour (0..vmax, magma) instead of the grey shading.
    """
    from matplotlib.collections import PolyCollection

    normals = vertex_normals(vertices_m, triangles)
    shade = np.clip(np.abs(normals[triangles].mean(1)[:, 2]), 0.0, 1.0)  # light from the array
    order = np.argsort(-vertices_m[triangles][:, :, 2].mean(1))  # far triangles first
    xy = np.stack([-vertices_m[:, 0], vertices_m[:, 1]], -1) * 100  # cm
    if values is None:
        colours = matplotlib.colormaps["bone"](0.15 + 0.8 * shade[order])
    else:
        level = values[triangles].mean(1)[order] / (vmax or max(float(values.max()), 1e-12))
        colours = matplotlib.colormaps["magma"](np.clip(level, 0, 1)) * (
            0.55 + 0.45 * shade[order, None]
        )
        colours[:, 3] = 1.0
    polys = PolyCollection(xy[triangles[order]], facecolors=colours, edgecolors="none")
    ax.add_collection(polys)
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return polys


def image_extent_cm(image: RadarImage) -> np.ndarray:
    """imshow extent (left, right, bottom, top) in cm, horizontal axis -x: unmirrored view."""
    return np.array([-image.x_m[0], -image.x_m[-1], image.y_m[-1], image.y_m[0]]) * 100


def _masked_depth_cm(image: RadarImage) -> np.ndarray:
    return np.where(image.mask, image.depth_m * 100, np.nan)


def show_image(ax: Axes, image: RadarImage, kind: str) -> None:
    """Draw the amplitude or depth image, as a viewer behind the array sees it (axes in cm)."""
    extent_cm = image_extent_cm(image)
    if kind == "amplitude":
        shown = ax.imshow(image.amplitude, cmap="gray", vmin=0, vmax=1, extent=extent_cm)
        label = f"amplitude (0 = -{image.dynamic_range_db:g} dB)"
    else:
        shown = ax.imshow(_masked_depth_cm(image), cmap="viridis_r", extent=extent_cm)
        label = "depth z (cm)"
    ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.02, label=label)
    ax.set_xlabel("-x (cm)")
    ax.set_ylabel("y (cm)")


def save_png(path: str | Path, data: np.ndarray, cmap: str, vmin: float, vmax: float) -> Path:
    """A 2-D array as a colour-mapped PNG (vmin..vmax over `cmap`, NaN transparent), written
    atomically: the file `matplotlib.image.imsave` writes, without the figure machinery that
    imsave imports on every call (a third of a second of `radarface simulate`)."""
    from matplotlib.cm import ScalarMappable
    from PIL import Image, PngImagePlugin

    mappable = ScalarMappable(cmap=cmap)
    mappable.set_clim(vmin, vmax)
    rgba = np.ascontiguousarray(mappable.to_rgba(data, bytes=True))
    png = Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBA", 0, 1)
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/"
    )
    with atomic_path(path) as tmp:
        png.save(tmp, format="png", pnginfo=info, dpi=(100, 100))
    return Path(path)


def save_image_pngs(
    out_dir: Path, image: RadarImage, z_range_m: tuple[float, float] | None = None
) -> None:
    """amplitude.png (grey, 0..1) and depth.png (masked; colours over `z_range_m`, the imaging
    grid's depths, so that images compare; else over the image's own depths)."""
    depth = _masked_depth_cm(image)
    finite = depth[np.isfinite(depth)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if z_range_m is not None:
        lo, hi = z_range_m[0] * 100, z_range_m[1] * 100
    save_png(out_dir / "amplitude.png", image.amplitude, "gray", 0.0, 1.0)
    save_png(out_dir / "depth.png", depth, "viridis_r", lo, hi)


def image_figure(
    path: str | Path, image: RadarImage, z_range_m: tuple[float, float], title: str
) -> Path:
    """A labelled figure of a radar image: amplitude in dB (0 at the peak, down to the image's
    dynamic range) and depth in mm over the imaging grid's depths `z_range_m`, axes in mm as a
    viewer behind the array sees it, each with a colour bar."""
    from matplotlib.figure import Figure

    extent_mm = image_extent_cm(image) * 10
    fig = Figure(figsize=(10, 4.4))
    axes = fig.subplots(1, 2)
    db = np.where(image.mask, image.max_db, np.nan)
    shown = axes[0].imshow(
        db, cmap="magma", vmin=-image.dynamic_range_db, vmax=0.0, extent=extent_mm
    )
    fig.colorbar(shown, ax=axes[0], fraction=0.046, pad=0.02, label="amplitude (dB re peak)")
    depth_mm = np.where(image.mask, image.depth_m * 1e3, np.nan)
    shown = axes[1].imshow(
        depth_mm,
        cmap="viridis_r",
        vmin=z_range_m[0] * 1e3,
        vmax=z_range_m[1] * 1e3,
        extent=extent_mm,
    )
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.02, label="depth z (mm)")
    for ax, name in zip(axes, ("amplitude", "depth"), strict=True):
        ax.set_xlabel("-x (mm)")
        ax.set_ylabel("y (mm)")
        ax.set_title(f"{name} (within {image.dynamic_range_db:g} dB of the peak)", fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def face_figure(
    path: str | Path, vertices: np.ndarray, triangles: np.ndarray, image: RadarImage, title: str
) -> Path:
    """Mesh, amplitude image and depth image side by side, all as seen from behind the array."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 4.2))
    axes = fig.subplots(1, 3)
    draw_mesh(axes[0], vertices, triangles)
    extent = image_extent_cm(image)
    axes[0].set_xlim(extent[0], extent[1])
    axes[0].set_ylim(extent[2], extent[3])
    axes[0].set_title("mesh")
    show_image(axes[1], image, "amplitude")
    axes[1].set_title("amplitude")
    show_image(axes[2], image, "depth")
    axes[2].set_title("depth")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def image_grid_figure(
    path: str | Path,
    images: list[RadarImage],
    titles: list[str],
    z_range_m: tuple[float, float],
    suptitle: str,
    columns: int = 8,
) -> Path:
    """Amplitude above depth (on one z scale) for each image, `columns` images a row."""
    from matplotlib.figure import Figure

    rows = math.ceil(len(images) / columns)
    fig = Figure(figsize=(1.6 * columns, 3.3 * rows))
    axes = fig.subplots(2 * rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    lo_cm, hi_cm = z_range_m[0] * 100, z_range_m[1] * 100
    for k, (image, title) in enumerate(zip(images, titles, strict=True)):
        row, col = 2 * (k // columns), k % columns
        extent = image_extent_cm(image)
        axes[row, col].imshow(image.amplitude, cmap="gray", vmin=0, vmax=1, extent=extent)
        axes[row + 1, col].imshow(
            _masked_depth_cm(image), cmap="viridis_r", vmin=lo_cm, vmax=hi_cm, extent=extent
        )
        axes[row, col].set_title(title, fontsize=8)
    fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def reconstruction_figure(
    path: str | Path,
    images: dict[str, np.ndarray],
    front_m: np.ndarray,
    side_m: np.ndarray,
    triangles: np.ndarray,
    errors_mm: np.ndarray | None,
    title: str,
) -> Path:
    """A reconstruction: `images` (name -> (H, W), e.g. input, rendered, residual), the face
    from the front and the side (radar-frame vertices), coloured by per-vertex error if known."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.3 * (len(images) + 2), 3.6))
    axes = fig.subplots(1, len(images) + 2)
    for ax, (name, image) in zip(axes, images.items(), strict=False):
        residual = name.startswith("residual")
        limit = float(np.nanmax(np.abs(image))) or 1.0
        shown = ax.imshow(
            image,
            cmap="RdBu_r" if residual else "gray",
            vmin=-limit if residual else 0.0,
            vmax=limit if residual else 1.0,
        )
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    vmax = None if errors_mm is None else max(float(np.percentile(errors_mm, 99)), 1e-3)
    for ax, vertices, name in ((axes[-2], front_m, "front"), (axes[-1], side_m, "side")):
        draw_mesh(ax, vertices, triangles, errors_mm, vmax)
        ax.set_title(name, fontsize=9)
    if errors_mm is not None:
        scale = matplotlib.cm.ScalarMappable(
            norm=matplotlib.colors.Normalize(0, vmax), cmap="magma"
        )
        fig.colorbar(scale, ax=axes[-1], fraction=0.046, pad=0.02, label="error (mm)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def cosine_figure(path: str | Path, matrices: dict[str, np.ndarray], title: str) -> Path:
    """Annotated heat maps of cosine-similarity matrices (name -> (G, G)), side by side, on
    one colour scale from -1 to 1; rows and columns are the groups' ids."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(0.55 * sum(len(m) for m in matrices.values()) + 2.5, 5.2))
    widths = [len(m) for m in matrices.values()]
    axes = fig.subplots(1, len(matrices), gridspec_kw={"width_ratios": widths}, squeeze=False)[0]
    shown = None
    for ax, (name, matrix) in zip(axes, matrices.items(), strict=True):
        shown = ax.imshow(matrix, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
        size = 7 if len(matrix) > 6 else 8
        for (row, col), value in np.ndenumerate(matrix):
            text = "" if not np.isfinite(value) else f"{value:.2f}"
            colour = "white" if np.isfinite(value) and abs(value) > 0.6 else "black"
            ax.text(col, row, text, ha="center", va="center", fontsize=size, color=colour)
        ticks = np.arange(len(matrix))
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_title(name, fontsize=9)
    fig.colorbar(shown, ax=list(axes), fraction=0.03, pad=0.02, label="cosine similarity")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def error_map_figure(
    path: str | Path,
    front_m: np.ndarray,
    side_m: np.ndarray,
    triangles: np.ndarray,
    errors_mm: dict[str, np.ndarray],
    title: str,
) -> Path:
    """The mean face from the front (top) and the side (bottom), coloured by each row's mean
    per-vertex error (name -> (V,) mm), all on one colour scale."""
    from matplotlib.figure import Figure

    n = len(errors_mm)
    vmax = max(max(float(np.percentile(e, 99)) for e in errors_mm.values()), 1e-3)
    fig = Figure(figsize=(2.6 * n + 0.8, 5.4))
    axes = fig.subplots(2, n, squeeze=False)
    for col, (name, errors) in enumerate(errors_mm.items()):
        for row, vertices in enumerate((front_m, side_m)):
            draw_mesh(axes[row, col], vertices, triangles, errors, vmax)
        axes[0, col].set_title(f"{name}\nmean {errors.mean():.2f} mm", fontsize=8)
    scale = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, vmax), cmap="magma")
    fig.colorbar(scale, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02, label="error (mm)")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def examples_figure(
    path: str | Path,
    images: dict[str, np.ndarray | None],
    meshes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    triangles: np.ndarray,
    title: str,
) -> Path:
    """One instance (paper Fig. 7-8): its images (name -> (H, W) in [0, 1], or None where a row
    renders none) on top, then its meshes (name -> front (V, 3), side (V, 3), per-vertex errors
    in mm or None) from the front and the side, columns in the same order."""
    from matplotlib.figure import Figure

    n = max(len(images), len(meshes))
    fig = Figure(figsize=(2.4 * n, 7.4))
    axes = fig.subplots(3, n, squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, (name, image) in zip(axes[0], images.items(), strict=False):
        if image is None:
            ax.text(0.5, 0.5, "no renderer", ha="center", va="center", fontsize=8)
        else:
            ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
        ax.set_title(name, fontsize=7)
    known = [e for _, _, e in meshes.values() if e is not None]
    vmax = max([float(np.percentile(e, 99)) for e in known] + [1e-3])
    for col, (name, (front, side, errors)) in enumerate(meshes.items()):
        draw_mesh(axes[1, col], front, triangles, errors, vmax)
        draw_mesh(axes[2, col], side, triangles, errors, vmax)
        label = name if errors is None else f"{name}\n{errors.mean():.2f} mm"
        axes[1, col].set_title(label, fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
