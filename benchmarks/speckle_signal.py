"""How far one face coefficient moves the depth image, against the simulator's speckle.

    python benchmarks/speckle_signal.py [--material 0.5] [--antenna-size 0.25]
        [--shape 0 1 4] [--expression 0 3] [--seeds 3] [--spacing-mm 2] [--face-model PATH]
        [--scattering coherent | speckle] [--depth-estimator auto | parabola | maroon | phase]

Renders the mean face at zero pose with several speckle seeds (the simulator's random surface
sampling and diffuse phases) and, per listed coefficient, the face with that coefficient at +1
(one standard deviation). Prints, over the pixels bright enough in every image (20 dB), the RMS
depth difference between two speckle seeds of the same face (noise) and between the mean face and
the moved one with other seeds (signal plus noise), and the RMS z displacement of the vertices.
When the second is hardly above the first, a single image says little about that coefficient and
an encoder can learn it only by averaging over many training images. The depth estimator is the
renderer's ("auto": the carrier phase under coherent scattering, the parabola under speckle).
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from radarface.facemodel import load_face_model, posed_vertices, resolve_face_model_path
from radarface.params import SceneParams
from radarface.radar import (
    DEPTH_ESTIMATORS,
    ImagingGrid,
    Reflectance,
    SamplingConfig,
    backproject,
    form_image,
    qar50_array,
    simulate_mesh,
)
from radarface.radar.array import SCATTERING_MODELS
from radarface.render import RenderSettings

MASK_DB = -20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--material", type=float, default=0.5)
    parser.add_argument("--antenna-size", type=float, default=0.25)
    parser.add_argument("--shape", type=int, nargs="*", default=[0, 1, 4])
    parser.add_argument("--expression", type=int, nargs="*", default=[0, 3])
    parser.add_argument("--seeds", type=int, default=3, help="speckle seeds per face (>= 2)")
    parser.add_argument("--spacing-mm", type=float, default=2.0, help="surface point spacing")
    parser.add_argument("--face-model", default=None)
    parser.add_argument("--scattering", choices=SCATTERING_MODELS, default="coherent")
    parser.add_argument("--depth-estimator", choices=("auto", *DEPTH_ESTIMATORS), default="auto")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (the noise compares two seeds)")
    model = load_face_model(resolve_face_model_path(args.face_model))
    array, grid = qar50_array(), ImagingGrid()
    reflectance = Reflectance(args.material, args.antenna_size)
    sampling = SamplingConfig(spacing_m=args.spacing_mm * 1e-3, scattering=args.scattering)
    estimator = RenderSettings(sampling=sampling, depth_estimator=args.depth_estimator)
    estimator = estimator.depth_estimator_used
    zero_shape, zero_expr = np.zeros(model.n_shape), np.zeros(model.n_expr)

    def render(shape: np.ndarray, expr: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        vertices = posed_vertices(model, SceneParams(shape, expr, np.zeros(3), np.zeros(3)))
        s = simulate_mesh(array, vertices, model.triangles, reflectance, sampling, seed)
        image = form_image(backproject(s, array, grid), grid, -MASK_DB, estimator, s, array)
        return image.max_db, image.depth_m

    def rms_mm(a: tuple, b: tuple) -> float:
        bright = (a[0] >= MASK_DB) & (b[0] >= MASK_DB)
        return float(np.sqrt(np.mean((a[1] - b[1])[bright] ** 2)) * 1e3)

    seeds = range(args.seeds)
    mean_face = [render(zero_shape, zero_expr, seed) for seed in seeds]
    noise = np.mean([rms_mm(a, b) for a, b in itertools.combinations(mean_face, 2)])
    print(
        f"{args.scattering} scattering, material {args.material}, antenna size "
        f"{args.antenna_size}, {args.seeds} seeds, {estimator} depth"
    )
    print("| face | vertex dz RMS, mm | depth change RMS, mm |")
    print("|---|---|---|")
    print(f"| mean face, other speckle seed (noise) | 0 | {noise:.2f} |")
    moved = [("shape", k) for k in args.shape] + [("expression", k) for k in args.expression]
    for kind, k in moved:
        shape, expr = zero_shape.copy(), zero_expr.copy()
        (shape if kind == "shape" else expr)[k] = 1.0
        dz = model.vertices(shape, expr)[:, 2] - model.vertices(zero_shape, zero_expr)[:, 2]
        changed = [render(shape, expr, seed + args.seeds) for seed in seeds]
        signal = np.mean([rms_mm(a, b) for a, b in zip(mean_face, changed, strict=True)])
        print(f"| {kind} {k} = +1 | {np.sqrt(np.mean(dz**2)) * 1e3:.2f} | {signal:.2f} |")


if __name__ == "__main__":
    main()
