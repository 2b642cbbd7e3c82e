"""Figures of real simulator output for docs/radar.md and the README."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from radarface.facemodel import (  # noqa: E402
    load_face_model,
    resolve_face_model_path,
    sample_face_params,  # noqa: E402
)
from radarface.plot import draw_mesh, image_extent_cm, show_image  # noqa: E402
from radarface.radar import Reflectance, SamplingConfig, qar50_array  # noqa: E402
from radarface.render import Mesh, RenderSettings, face_mesh, render  # noqa: E402

OUT = Path(__file__).parent / "figures"


def reflectance_figure(model, array, settings) -> None:
    """One frontal face: material varied at antenna size 0.25, antenna size varied at material 1."""
    params = sample_face_params(model, seed=0, index=0)
    params = replace(params, translation_m=np.zeros(3), rotation_rad=np.zeros(3))
    vertices = face_mesh(model, params).vertices_m
    rows = [
        [Reflectance(m, 0.25) for m in (0.0, 0.25, 0.5, 0.75, 1.0)],
        [Reflectance(1.0, a) for a in (0.2, 0.225, 0.25, 0.275, 0.3)],
    ]
    fig, axes = plt.subplots(2, 5, figsize=(17, 7.6))
    for row, refls in zip(axes, rows, strict=True):
        for ax, refl in zip(row, refls, strict=True):
            image = render(Mesh(vertices, model.triangles, refl), array, settings)
            show_image(ax, image, "amplitude")
            lit = 100 * image.mask.mean()  # pixels within the dynamic range
            print(f"reflectance {refl}: {lit:.1f}% lit, peak {np.abs(image.max_db).min():g}")
            ax.set_title(
                f"material {refl.material:g}, antenna size {refl.antenna_size:g}\n"
                f"{lit:.1f}% of pixels within 20 dB"
            )
    fig.suptitle("Reflectance model: amplitude images (20 dB) of one unposed face", fontsize=11)
    fig.tight_layout()
    fig.savefig(OUT / "radar_reflectance.png", dpi=80)


def faces_figure(model, array, settings) -> None:
    """Random faces at sampled poses and materials: mesh, amplitude and depth."""
    cases = [(1, Reflectance(0.2, 0.25)), (2, Reflectance(0.6, 0.22)), (3, Reflectance(0.9, 0.28))]
    fig, axes = plt.subplots(len(cases), 3, figsize=(13, 4.2 * len(cases)))
    for row, (index, refl) in zip(axes, cases, strict=True):
        params = sample_face_params(model, seed=0, index=index)
        vertices = face_mesh(model, params).vertices_m
        image = render(Mesh(vertices, model.triangles, refl), array, settings, index=index)
        draw_mesh(row[0], vertices, model.triangles)
        extent = image_extent_cm(image)
        row[0].set_xlim(extent[0], extent[1])
        row[0].set_ylim(extent[2], extent[3])
        yaw, pitch, roll = np.degrees(params.rotation_rad)
        row[0].set_title(f"yaw {yaw:+.1f}, pitch {pitch:+.1f}, roll {roll:+.1f} deg")
        show_image(row[1], image, "amplitude")
        row[1].set_title(f"amplitude, material {refl.material:g}")
        show_image(row[2], image, "depth")
        row[2].set_title(f"depth, antenna size {refl.antenna_size:g}")
    fig.tight_layout()
    fig.savefig(OUT / "radar_faces.png", dpi=80)


def scattering_figure(model, array, settings) -> None:
    """One face under the coherent model and under the speckle model with two seeds."""
    params = sample_face_params(model, seed=0, index=1)
    mesh = Mesh(face_mesh(model, params).vertices_m, model.triangles, Reflectance(0.5, 0.25))
    speckle = replace(settings, sampling=SamplingConfig(scattering="speckle"))
    cases = [
        ("coherent", settings, 0),
        ("speckle, seed 0", speckle, 0),
        ("speckle, seed 1", speckle, 1),
    ]
    fig, axes = plt.subplots(2, len(cases), figsize=(13, 8.4))
    for column, (name, case_settings, seed) in zip(axes.T, cases, strict=True):
        image = render(mesh, array, case_settings, seed=seed)
        show_image(column[0], image, "amplitude")
        column[0].set_title(f"{name}: amplitude (20 dB)")
        show_image(column[1], image, "depth")
        column[1].set_title(f"{name}: depth")
    fig.suptitle(
        "One face (material 0.5, antenna size 0.25) under both scattering models", fontsize=11
    )
    fig.tight_layout()
    fig.savefig(OUT / "radar_scattering.png", dpi=80)


def depth_figure(model, array, settings) -> None:
    """One face's depth error against its mesh under both depth estimators (coherent model)."""
    import trimesh

    from radarface.render import image_signal, simulate_scene

    params = sample_face_params(model, seed=0, index=1)
    mesh = Mesh(face_mesh(model, params).vertices_m, model.triangles, Reflectance(0.5, 0.25))
    s = simulate_scene(mesh, array, settings)
    x, y = np.meshgrid(settings.grid.x_m, settings.grid.y_m)
    rays = trimesh.Trimesh(mesh.vertices_m, mesh.triangles, process=False).ray
    origins = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], -1)
    hits, index, _ = rays.intersects_location(
        origins, np.tile([0.0, 0.0, 1.0], (x.size, 1)), multiple_hits=False
    )
    truth = np.full(x.size, np.nan)
    truth[index] = hits[:, 2]
    truth = truth.reshape(x.shape)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
    for ax, estimator in zip(axes, ("parabola", "phase"), strict=True):
        image = image_signal(s, array, replace(settings, depth_estimator=estimator))
        error = 1e3 * (image.depth_m - truth)
        shown = ax.imshow(
            error, cmap="RdBu_r", vmin=-3, vmax=3, extent=image_extent_cm(settings.grid)
        )
        lit = np.isfinite(error)
        ax.set_title(f"{estimator}\nmedian |depth - mesh| {np.median(np.abs(error[lit])):.2f} mm")
        ax.set_xlim(-9, 9)
        ax.set_ylim(-9, 9)
        ax.set_xlabel("x, cm")
        ax.set_ylabel("y, cm")
    fig.colorbar(shown, ax=axes, label="mm (+: deeper than the mesh)")
    fig.suptitle("One face (coherent model, material 0.5): depth error by estimator", fontsize=11)
    fig.savefig(OUT / "radar_depth_estimators.png", dpi=80)


def main() -> None:
    model = load_face_model(resolve_face_model_path(sys.argv[1] if len(sys.argv) > 1 else None))
    array, settings = qar50_array(), RenderSettings()
    OUT.mkdir(exist_ok=True)
    reflectance_figure(model, array, settings)
    faces_figure(model, array, settings)
    scattering_figure(model, array, settings)
    depth_figure(model, array, settings)


if __name__ == "__main__":
    main()
