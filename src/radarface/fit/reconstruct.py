"""`radarface reconstruct`: radar images -> faces, by the encoder and optional refinement.

For each input image: the encoder's estimate (paper Sec. 3.3), then optionally the paper's
test-time optimisation through the learned renderer (`learned`, Sec. 3.4), a fit of the face
model to the depth image's geometry (`geometry`), or the same optimisation through the real
simulator and imaging (`physics`); outputs per image in OUT/NAME/ (see `write_reconstruction`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from radarface import params as P
from radarface.data import decoder_image, network_input
from radarface.facemodel import MorphableModel, posed_vertices
from radarface.fit import REFINEMENTS
from radarface.fit.geometry import (
    GeometryConfig,
    column_depth_image,
    pixel_axes,
    refine_geometry,
)
from radarface.fit.inputs import RadarInput, check_grid
from radarface.fit.learned import RefineConfig, refine_learned
from radarface.fit.physics import PhysicsConfig, refine_physics
from radarface.fit.runs import TrainedRun, check_compatible
from radarface.params import SceneParams
from radarface.render import RenderSettings, render


@dataclass(frozen=True)
class Reconstruction:
    """One image's result: the estimate, the refined vector and what it cost."""

    item: RadarInput
    estimate: np.ndarray  # (26,) the encoder's vector
    vector: np.ndarray  # (26,) after refinement (the estimate without one)
    rendered: np.ndarray | None  # (H, W) the final rendering that the refinement compared
    rendered_image: str | None  # what `rendered` shows: "amplitude" or "depth" at 15 dB
    history: list[float] = field(default_factory=list)  # refinement loss per step
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RefineSettings:
    """The settings of each refinement."""

    learned: RefineConfig = RefineConfig()
    geometry: GeometryConfig = GeometryConfig()
    physics: PhysicsConfig = PhysicsConfig()

    @classmethod
    def given(
        cls, steps: int | None = None, lr: float | None = None, prior: float | None = None
    ) -> RefineSettings:
        """The defaults with a user's steps, learning rate and prior weight where given (the
        geometry fit, Gauss-Newton, has no learning rate)."""
        common = {k: v for k, v in {"steps": steps, "prior_weight": prior}.items() if v is not None}
        rated = {**common, **({"lr": lr} if lr is not None else {})}
        return cls(RefineConfig(**rated), GeometryConfig(**common), PhysicsConfig(**rated))

    def of(self, method: str) -> RefineConfig | GeometryConfig | PhysicsConfig | None:
        """The settings of refinement `method` (None for "none")."""
        return None if method == "none" else getattr(self, method)


def _encoder_of(run: TrainedRun) -> torch.nn.Module:
    return run.network.encoder if run.stage == "autoencoder" else run.network


def _decoder_of(encoder: TrainedRun, decoder: TrainedRun | None) -> TrainedRun | None:
    """The learned renderer: --decoder, else the autoencoder run's own."""
    if decoder is not None:
        check_compatible(encoder, decoder)
        return decoder
    if encoder.stage == "autoencoder":
        return TrainedRun(
            encoder.path, "decoder", encoder.config, encoder.config.net.decoder_target,
            encoder.dataset, encoder.face_model_hash, encoder.network.decoder,
        )  # fmt: skip
    return None


def _stack(items: list[RadarInput], fn) -> torch.Tensor:
    return torch.stack([fn(torch.from_numpy(i.max_db), torch.from_numpy(i.depth_m)) for i in items])


def reconstruct(
    inputs: list[RadarInput],
    model: MorphableModel,
    encoder: TrainedRun,
    decoder: TrainedRun | None = None,
    refine: str = "none",
    settings: RefineSettings | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> list[Reconstruction]:
    """Reconstruct every input with the encoder (an encoder or autoencoder run), its learned
    renderer (`decoder`, else the autoencoder's own) and `refine`; the networks run where
    their parameters are (move them with `.to(device)`), the physics on the CPU."""
    if refine not in REFINEMENTS:
        raise ValueError(f"unknown refinement {refine!r}; use one of {', '.join(REFINEMENTS)}")
    settings = settings or RefineSettings()
    if encoder.face_model_hash != model.content_hash:
        raise ValueError(f"{encoder.path} was trained with another face model than {model.name}")
    decoder = _decoder_of(encoder, decoder)
    if refine == "learned" and decoder is None:
        raise ValueError("--refine learned needs --decoder RUN (or an autoencoder run)")
    grid = encoder.dataset.grid
    check_grid(inputs, grid, str(encoder.path))
    z_range = (float(grid.z_m[0]), float(grid.z_m[-1]))
    device = next(_encoder_of(encoder).parameters()).device  # where the caller put the networks
    results = []
    with tqdm(total=len(inputs), unit="image", disable=not progress) as bar:
        for start in range(0, len(inputs), batch_size):
            items = inputs[start : start + batch_size]
            tic = time.perf_counter()
            x = _stack(
                items,
                lambda m, d: network_input(
                    m, d, encoder.image, P.VALIDATION_DYNAMIC_RANGE_DB, z_range
                ),
            ).to(device)
            with torch.no_grad():
                estimate = _encoder_of(encoder)(x)
            estimate = estimate.cpu()
            encode_s = (time.perf_counter() - tic) / len(items)
            vector, history, rendered = estimate, [[] for _ in items], None
            seconds = {"encoder": encode_s}
            if decoder is not None:
                target = _stack(items, lambda m, d: decoder_image(m, d, z_range, decoder.image))
                tic = time.perf_counter()
                if refine == "learned":
                    vector, batch_history = refine_learned(
                        decoder.network, estimate.to(device), target.to(device), settings.learned
                    )
                    vector = vector.cpu()
                    history = [batch_history] * len(items)
                    seconds["learned"] = (time.perf_counter() - tic) / len(items)
                with torch.no_grad():
                    rendered = decoder.network(vector.to(device))[:, 0].cpu().numpy()
            rendered_image = None if decoder is None else decoder.image
            if refine == "geometry":
                vector, history, rendered = _refine_geometry(
                    items, estimate, model, encoder, settings.geometry, seconds
                )
                rendered_image = "depth"
            if refine == "physics":
                vector, history, rendered = _refine_physics(
                    items, estimate, model, encoder, settings.physics, seconds
                )
                rendered_image = "amplitude"
            for k, item in enumerate(items):
                results.append(
                    Reconstruction(
                        item,
                        estimate[k].numpy(),
                        vector[k].numpy(),
                        None if rendered is None else rendered[k],
                        rendered_image,
                        history[k],
                        seconds,
                    )
                )
            bar.update(len(items))
    return results


def _refine_geometry(
    items: list[RadarInput],
    estimate: torch.Tensor,
    model: MorphableModel,
    encoder: TrainedRun,
    config: GeometryConfig,
    seconds: dict[str, float],
) -> tuple[torch.Tensor, list[list[float]], np.ndarray]:
    """Geometry refinement of each image of a batch on the encoder run's grid; the renderings are
    the fitted faces' column depths (plus the fitted offset) as the learned renderer's depth
    image: where the input is within 15 dB of its peak."""
    grid = encoder.dataset.grid
    z_range = (float(grid.z_m[0]), float(grid.z_m[-1]))
    vectors, histories, renderings = [], [], []
    tic = time.perf_counter()
    for k, item in enumerate(items):
        vector, history, offset_m = refine_geometry(model, estimate[k].numpy(), item, grid, config)
        vectors.append(torch.from_numpy(vector).float())
        histories.append(history)
        vertices = posed_vertices(model, SceneParams.from_vector(vector))
        depth = column_depth_image(vertices, model.triangles, *pixel_axes(item, grid)) + offset_m
        image = decoder_image(
            torch.from_numpy(item.max_db), torch.from_numpy(depth), z_range, "depth"
        )
        renderings.append(image[0].numpy())
    seconds["geometry"] = (time.perf_counter() - tic) / len(items)
    return torch.stack(vectors), histories, np.stack(renderings)


def _refine_physics(
    items: list[RadarInput],
    estimate: torch.Tensor,
    model: MorphableModel,
    encoder: TrainedRun,
    config: PhysicsConfig,
    seconds: dict[str, float],
) -> tuple[torch.Tensor, list[list[float]], np.ndarray]:
    """Physics refinement of each image of a batch on the encoder run's array and grid; the
    renderings are the refined faces' amplitude images at the renderer's 15 dB, rendered on the
    full array and grid (the fit's own renderings are coarse)."""
    vectors, histories, renderings = [], [], []
    array, grid = encoder.dataset.array, encoder.dataset.grid
    tic = time.perf_counter()
    for k, item in enumerate(items):
        vector, history, _ = refine_physics(model, estimate[k].numpy(), item, array, grid, config)
        vectors.append(torch.from_numpy(vector).float())
        histories.append(history)
    seconds["physics"] = (time.perf_counter() - tic) / len(items)
    for vector in vectors:
        scene = SceneParams.from_vector(vector.double().numpy())
        settings = RenderSettings(grid=grid, sampling=config.sampling)
        image = render(scene, array, settings, seed=config.seed, model=model)
        theta = P.DECODER_DYNAMIC_RANGE_DB
        renderings.append(np.clip((image.max_db + theta) / theta, 0.0, 1.0))
    return torch.stack(vectors), histories, np.stack(renderings)


def vertex_errors_mm(model: MorphableModel, vector: np.ndarray, truth: SceneParams) -> np.ndarray:
    """(N,) per-vertex distance in mm between the faces of a (26,) vector and the true
    parameters, without pose, on the 10 shape and 7 expression coefficients (Table 1)."""
    truth_vector = truth.to_vector()
    mesh = [model.vertices(v[P.SHAPE], v[P.EXPRESSION]) for v in (vector, truth_vector)]
    return 1000.0 * np.linalg.norm(mesh[0] - mesh[1], axis=-1)


def summary(results: list[Reconstruction], model: MorphableModel) -> dict[str, Any]:
    """Table 1's errors over the inputs with known parameters (see radarface.eval.metrics)."""
    from radarface.eval.metrics import evaluate_params, face_model_metrics

    known = [r for r in results if r.item.truth is not None]
    if not known:
        return {"n": len(results), "with_truth": 0}
    truth = torch.from_numpy(np.stack([r.item.truth.to_vector() for r in known]))
    out: dict[str, Any] = {"n": len(results), "with_truth": len(known)}
    for name, field_name in (("estimate", "estimate"), ("refined", "vector")):
        pred = torch.from_numpy(np.stack([getattr(r, field_name) for r in known]))
        out[name] = evaluate_params(pred.double(), truth.double(), face_model_metrics(model))
    return out
