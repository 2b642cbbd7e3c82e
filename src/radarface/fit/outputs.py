"""What a reconstruction writes: parameters, meshes, the rendering and a figure, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from radarface.data import decoder_image
from radarface.facemodel import MorphableModel, export_mesh, place_in_radar_frame, posed_vertices
from radarface.fit.reconstruct import (
    Reconstruction,
    RefineSettings,
    reconstruct,
    summary,
    vertex_errors_mm,
)
from radarface.io import atomic_dir, atomic_path, provenance, write_json
from radarface.params import SceneParams

SIDE_VIEW = np.array([np.pi / 2, 0.0, 0.0])  # yaw 90 degrees: the face's profile


def named_params(vector: np.ndarray) -> dict[str, Any]:
    """A (26,) vector as named values in physical units (rotation in degrees)."""
    scene = SceneParams.from_vector(vector)
    values = scene.to_dict()
    values["rotation_deg"] = np.degrees(scene.rotation_rad).tolist()
    del values["rotation_rad"]
    return values


def write_reconstruction(
    out_dir: str | Path,
    result: Reconstruction,
    model: MorphableModel,
    z_range_m: tuple[float, float],
    record: dict[str, Any],
) -> Path:
    """OUT/params.json, face.ply (no pose), face_posed.ply (radar frame), render.npz and
    reconstruction.png of one result; params.json comes last and marks a complete output."""
    from radarface.plot import reconstruction_figure

    out_dir = Path(out_dir)
    scene = SceneParams.from_vector(result.vector)
    face = model.vertices(scene.shape, scene.expr)
    export_mesh(out_dir / "face.ply", face, model.triangles)
    export_mesh(out_dir / "face_posed.ply", posed_vertices(model, scene), model.triangles)
    item = result.item
    images = {}
    rendered_image = result.rendered_image
    if rendered_image is not None:
        import torch

        observed = decoder_image(
            torch.from_numpy(item.max_db), torch.from_numpy(item.depth_m), z_range_m, rendered_image
        )[0].numpy()
        images = {
            f"input ({rendered_image}, 15 dB)": observed,
            "rendered": result.rendered,
            "residual": result.rendered - observed,
        }
        with atomic_path(out_dir / "render.npz") as tmp, tmp.open("wb") as f:
            np.savez_compressed(f, **{rendered_image: result.rendered})
    errors = None
    if item.truth is not None:
        errors = vertex_errors_mm(model, result.vector, item.truth)
    zero = np.zeros(3)
    front = place_in_radar_frame(model, face, zero, zero)
    side = place_in_radar_frame(model, face, zero, SIDE_VIEW)
    title = f"{item.name}" + (
        "" if errors is None else f": mean vertex error {errors.mean():.2f} mm"
    )
    reconstruction_figure(
        out_dir / "reconstruction.png", images, front, side, model.triangles, errors, title
    )
    write_json(
        out_dir / "params.json",
        provenance(
            params=named_params(result.vector),
            estimate=named_params(result.estimate),
            vector=result.vector,
            loss_history=result.history,
            seconds=result.seconds,
            mean_vertex_error_mm=None if errors is None else float(errors.mean()),
            source=item.source,
            **record,
        ),
    )
    return out_dir


def reconstruct_to_dir(
    input_path: str | Path,
    out_dir: str | Path,
    encoder_run: str | Path,
    *,
    decoder_run: str | Path | None = None,
    refine: str = "none",
    steps: int | None = None,
    lr: float | None = None,
    prior: float | None = None,
    face_model_path: str | Path | None = None,
    split: str = "val",
    indices: list[int] | None = None,
    device: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Reconstruct the image(s) at `input_path` into `out_dir` (one image: its files there; many:
    a folder per image) and write summary.json; returns the summary. `out_dir` must be new or
    empty: a reconstruction never overwrites another. steps, lr: the refinement's (default: its
    config's); prior: the weight of a Gaussian prior on the coefficients (default: its
    config's)."""
    from radarface.facemodel import load_face_model, resolve_face_model_path
    from radarface.fit.inputs import read_inputs
    from radarface.fit.runs import load_run

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} is a file; give a new --out")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} is not empty; give a new --out")
    model = load_face_model(resolve_face_model_path(face_model_path))
    encoder = load_run(encoder_run, ("encoder", "autoencoder"))
    decoder = None if decoder_run is None else load_run(decoder_run, ("decoder",))
    grid = encoder.dataset.grid
    inputs = read_inputs(input_path, grid, split, indices, device)
    settings = RefineSettings.given(steps, lr, prior)
    results = reconstruct(inputs, model, encoder, decoder, refine, settings, progress=progress)
    z_range = (float(grid.z_m[0]), float(grid.z_m[-1]))
    record = {
        "encoder_run": str(encoder_run),
        "decoder_run": None if decoder_run is None else str(decoder_run),
        "refine": refine,
        "refine_config": settings.of(refine),
        "face_model": {"name": model.name, "hash": model.content_hash},
    }
    report = {**summary(results, model), **record, "input": str(input_path)}
    with atomic_dir(out_dir) as tmp:  # all images or nothing: a failure leaves no partial DIR
        for result in results:
            where = tmp if len(results) == 1 else tmp / result.item.name
            write_reconstruction(where, result, model, z_range, record)
        write_json(tmp / "summary.json", provenance(**report))
    return report
