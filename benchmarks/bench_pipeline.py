"""One face end to end: simulation + imaging on the full QAR50, fast paths against exact references.

    python benchmarks/bench_pipeline.py [--faces 3] [--repeat 1] [--face-model PATH]
        [--no-reference] [--device cpu | cuda[:N]] [--scattering coherent | speckle]

Prints a markdown table of median (and fastest) seconds per face for each stage, and the exact
references on the same scene. With --repeat N every face runs N times and each stage counts its
fastest run (as `timeit` advises: slower runs measure other processes on a shared machine). The
references: the direct triple sum of the simulator (timed on a subset of
scatterers and scaled linearly to all of them) and direct back-projection (timed on a subset of
z slices and scaled linearly to the grid). With --device cuda the simulation and the imaging run in
torch on the GPU (`simulate(..., device=...)`, `backproject(..., device=...)`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numba
import numpy as np
import torch

from radarface.facemodel import load_face_model, resolve_face_model_path, sample_face_params
from radarface.radar import (
    MeshScatterers,
    backproject,
    backproject_reference,
    form_image,
    mesh_scatterers,
    qar50_array,
    simulate,
)
from radarface.radar.array import ImagingGrid, SamplingConfig
from radarface.render import RenderSettings, face_mesh, reflectance_of


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def _subset(sc: MeshScatterers, n: int) -> MeshScatterers:
    per_point = [
        f.name for f in dataclasses.fields(sc) if isinstance(getattr(sc, f.name), np.ndarray)
    ]
    return dataclasses.replace(sc, **{name: getattr(sc, name)[:n] for name in per_point})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="runs per face; the fastest counts")
    parser.add_argument("--face-model", default=None)
    parser.add_argument(
        "--no-reference", action="store_true", help="time the fast path only (a minute, not five)"
    )
    parser.add_argument("--device", default="cpu", help="cpu (numba) or cuda[:N] (torch)")
    parser.add_argument("--scattering", choices=("coherent", "speckle"), default="coherent")
    args = parser.parse_args()
    on_gpu = torch.device(args.device).type == "cuda"
    model = load_face_model(resolve_face_model_path(args.face_model))
    array = qar50_array()
    settings = RenderSettings(sampling=SamplingConfig(scattering=args.scattering))
    grid = settings.grid
    rows: dict[str, list[float]] = {
        "scatterers (sampling, occlusion)": [],
        "simulation kernel": [],
        "back-projection": [],
        f"image formation ({settings.depth_estimator_used} depth)": [],
        "total": [],
    }

    def image_of(volume, s):
        """The image with the renderer's depth estimator (on the CPU: form_image is numpy)."""
        volume, s = (x.cpu().numpy() if isinstance(x, torch.Tensor) else x for x in (volume, s))
        estimator = settings.depth_estimator_used
        return form_image(volume, grid, settings.dynamic_range_db, estimator, s, array)

    for index in range(args.faces + 1):  # the first face warms up the JIT caches
        params = sample_face_params(model, seed=0, index=index)
        vertices, refl = face_mesh(model, params).vertices_m, reflectance_of(params)
        runs = []
        for _ in range(args.repeat if index else 1):
            rng = np.random.default_rng(index)
            sc, t_sc = _timed(
                mesh_scatterers, array, vertices, model.triangles, settings.sampling, rng
            )
            threshold = settings.sampling.specular_threshold
            with torch.no_grad():  # numba on the CPU, torch on a GPU
                s, t_sim = _timed(simulate, array, sc, refl, threshold, device=args.device)
            volume, t_bp = _timed(
                backproject, s, array, grid, device=args.device if on_gpu else None
            )
            _, t_img = _timed(image_of, volume, s)
            runs.append((t_sc, t_sim, t_bp, t_img, t_sc + t_sim + t_bp + t_img))
        if index:
            for key, value in zip(rows, np.min(runs, axis=0), strict=True):
                rows[key].append(value)

    refs: dict[str, str] = {}
    if not args.no_reference:
        s = s.cpu().numpy() if isinstance(s, torch.Tensor) else s
        n_ref = 200
        subset = _subset(sc, n_ref)
        _, t_ref_sim = _timed(simulate, array, subset, refl, threshold, method="reference")
        ref_sim = t_ref_sim * len(sc.points_m) / n_ref
        n_slices = 2
        sub = ImagingGrid(
            z_min_m=grid.z_min_m, z_max_m=grid.z_min_m + (n_slices - 1) * grid.z_step_m
        )
        _, t_ref_bp = _timed(backproject_reference, s, array, sub)
        ref_bp = t_ref_bp * len(grid.z_m) / n_slices
        refs = {
            "simulation kernel": f"{ref_sim:.0f} (from {n_ref} scatterers)",
            "back-projection": f"{ref_bp:.0f} (from {n_slices} slices)",
            "total": f"{ref_sim + ref_bp:.0f}",
        }

    print(
        f"device {args.device}; threads: numba {numba.get_num_threads()}, cores {os.cpu_count()}; "
        f"{len(sc.points_m)} scatterers; grid {grid.n_x} x {grid.n_y} x {len(grid.z_m)}"
    )
    print("\n| stage | fast path, s (median) | fastest face, s | exact reference, s |")
    print("|---|---|---|---|")
    for key, values in rows.items():
        print(f"| {key} | {np.median(values):.2f} | {min(values):.2f} | {refs.get(key, '')} |")


if __name__ == "__main__":
    main()
