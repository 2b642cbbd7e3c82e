"""The physics fit's cost: one step's simulation (forward and backward) through torch autograd
against the numba kernel with its hand-written adjoint, and whole refinements of random faces.

    python benchmarks/bench_physics_fit.py [--faces 2] [--steps 20] [--face-model PATH]
        [--device cpu | cuda[:N]] [--no-torch]

Each face is rendered (the full QAR50, coherent model) as the input image; the fit starts from
the mean face at the true pose (`PhysicsConfig` defaults: every 2nd TX and RX, 16 frequencies,
every 2nd pixel). Prints a markdown table of seconds: the simulation of the fit's coarse array
forward and backward by each path (the first face warms the JIT caches), and the whole
`refine_physics` of each face with its mean vertex error before and after. With --device cuda
the fit runs in torch on the GPU and the simulation rows are skipped (the adjoint is CPU-only).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numba
import numpy as np
import torch

from radarface.facemodel import (
    load_face_model,
    posed_vertices,
    resolve_face_model_path,
    sample_face_params,
)
from radarface.fit.inputs import RadarInput
from radarface.fit.physics import PhysicsConfig, coarse_array, refine_physics
from radarface.params import SceneParams
from radarface.radar import (
    ImagingGrid,
    SamplingConfig,
    qar50_array,
    scatterers_from_vertices,
    simulate_scatterers_adjoint,
    simulate_scatterers_torch,
)
from radarface.render import RenderSettings, reflectance_of, render, sample_scatterers


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _simulation_times(model, params, config, simulate) -> tuple[float, float]:
    """(forward s, backward s) of |S|^2 summed, through `simulate`, in the vertices' parameters."""
    array = coarse_array(qar50_array(), config)
    settings = RenderSettings(sampling=SamplingConfig(scattering=config.scattering))
    sc = sample_scatterers(params, model, array, settings)
    vector = torch.tensor(params.to_vector(), dtype=torch.float64, requires_grad=True)
    moved = scatterers_from_vertices(
        posed_vertices(model, SceneParams.from_vector(vector)), model.triangles, sc
    )
    start = time.perf_counter()
    s = simulate(array, moved, reflectance_of(params), settings.sampling.specular_threshold)
    forward = time.perf_counter() - start
    start = time.perf_counter()
    s.abs().square().sum().backward()
    return forward, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=2)
    parser.add_argument("--steps", type=int, default=PhysicsConfig.steps)
    parser.add_argument("--face-model", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-torch", action="store_true", help="skip the slow autograd path")
    args = parser.parse_args()
    model = load_face_model(resolve_face_model_path(args.face_model))
    config = PhysicsConfig(steps=args.steps)
    array, grid = qar50_array(), ImagingGrid()
    paths = {"adjoint (numba)": simulate_scatterers_adjoint}
    if not args.no_torch:
        paths["torch autograd"] = simulate_scatterers_torch
    if args.device != "cpu":  # the adjoint is CPU-only; the fit itself runs on the device
        paths = {}
    sim_rows: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    fit_rows = []
    for index in range(args.faces + 1):  # face 0 warms the JIT caches
        truth = sample_face_params(model, seed=0, index=index)
        for name, simulate in paths.items():
            times = _simulation_times(model, truth, config, simulate)
            if index:
                sim_rows[name].append(times)
        if not index:
            continue
        image = render(truth, array, RenderSettings(), seed=0, index=index, model=model)
        item = RadarInput(f"face {index}", image.max_db, image.depth_m, truth=truth)
        start_params = dataclasses.replace(
            truth, shape=np.zeros_like(truth.shape), expr=np.zeros_like(truth.expr)
        )
        start = time.perf_counter()
        fitted, history, _ = refine_physics(
            model, start_params.to_vector(), item, array, grid, config, args.device
        )
        _sync()
        seconds = time.perf_counter() - start
        true_v = posed_vertices(model, truth)
        errors = [
            float(np.linalg.norm(posed_vertices(model, p) - true_v, axis=1).mean() * 1e3)
            for p in (start_params, SceneParams.from_vector(fitted))
        ]
        fit_rows.append((seconds, *errors, history[0], min(history)))

    print(
        f"device {args.device}; threads: numba {numba.get_num_threads()}, torch "
        f"{torch.get_num_threads()}, cores {os.cpu_count()}; {args.faces} faces; "
        f"{config.steps} steps\n"
    )
    print("| simulation of the fit's array | forward, s | backward, s |\n|---|---|---|")
    for name, times in sim_rows.items():
        forward, backward = np.median(times, axis=0)
        print(f"| {name} | {forward:.2f} | {backward:.2f} |")
    print("\n| face | refine_physics, s | vertex error start -> fit, mm | loss start -> best |")
    print("|---|---|---|---|")
    for i, (seconds, before, after, loss0, loss1) in enumerate(fit_rows, start=1):
        print(f"| {i} | {seconds:.0f} | {before:.2f} -> {after:.2f} | {loss0:.4f} -> {loss1:.4f} |")


if __name__ == "__main__":
    main()
