"""Test-time optimisation through the real physics: `render_torch` in the loop.

The face and pose values of the 26-value vector p are refined on

    L(p) = mean (A(p) - A_in)^2 + w_d * mean_{mask} ((z(p) - z_in) / (z_far - z_near))^2
           + w_p * mean(p_face^2),

A = clip((max_db + theta) / theta, 0, 1) the amplitude images at theta dB (clipping keeps the
loss finite where either image has no echo), z the depth images, compared where both images are
within theta dB of their peaks, p_face the 17 coefficients (an optional Gaussian prior). The
rendering parameters (material, antenna size) stay as estimated.

Speed: each step simulates and back-projects the face through a coarse array (every
`pair_stride`-th TX and RX, every `freq_stride`-th frequency: the same aperture and bandwidth,
fewer samples) with the renderer's default coherent sub-facets (deterministic; `spacing_m`
sets the random points' spacing only under speckle scattering); the scatterers are resampled on
every step's mesh with one seed, so the sampling does not jitter between steps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from radarface import params as P
from radarface.facemodel import MorphableModel
from radarface.fit.inputs import RadarInput
from radarface.fit.learned import coefficient_prior
from radarface.params import SceneParams
from radarface.radar import ImagingGrid, RadarArray, SamplingConfig, apply_dynamic_range
from radarface.render import RenderSettings, render_torch


@dataclass(frozen=True)
class PhysicsConfig:
    """Steps, learning rate (Adam), loss weights and the coarse simulation of a physics fit."""

    steps: int = 20
    lr: float = 0.05
    dynamic_range_db: float = 20.0
    depth_weight: float = 1.0
    prior_weight: float = 0.0
    pair_stride: int = 4
    freq_stride: int = 4
    spacing_m: float = 3e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 0 or not self.lr > 0 or self.pair_stride < 1 or self.freq_stride < 1:
            raise ValueError(f"physics refinement needs steps >= 0, lr > 0, strides >= 1: {self}")


def coarse_array(array: RadarArray, config: PhysicsConfig) -> RadarArray:
    """Every pair_stride-th TX and RX and every freq_stride-th frequency of `array`."""
    return RadarArray(
        array.tx_m[:: config.pair_stride],
        array.rx_m[:: config.pair_stride],
        array.freq_hz[:: config.freq_stride],
    )


def image_loss(
    max_db: torch.Tensor,
    depth_m: torch.Tensor,
    target_max_db: torch.Tensor,
    target_depth_m: torch.Tensor,
    config: PhysicsConfig,
    z_range_m: tuple[float, float],
) -> torch.Tensor:
    """The amplitude and masked depth terms of L for (H, W) images (see the module docstring)."""
    theta = config.dynamic_range_db
    amplitude, _, mask = apply_dynamic_range(max_db, depth_m, theta)
    target_amplitude, _, target_mask = apply_dynamic_range(target_max_db, target_depth_m, theta)
    loss = (amplitude - target_amplitude).square().mean()
    both = mask & target_mask & torch.isfinite(target_depth_m)
    if both.any():
        scale = z_range_m[1] - z_range_m[0]
        depth = ((depth_m - target_depth_m) / scale)[both]
        loss = loss + config.depth_weight * depth.square().mean()
    return loss


def _scene(vector: torch.Tensor) -> SceneParams:
    """SceneParams of a (26,) vector, the rendering parameters clamped into their ranges."""
    scene = SceneParams.from_vector(vector)
    material, antenna_size = (float(x.detach()) for x in (scene.material, scene.antenna_size))
    return replace(
        scene,
        material=float(np.clip(material, *P.MATERIAL_RANGE)),
        antenna_size=float(np.clip(antenna_size, *P.ANTENNA_SIZE_RANGE)),
    )


def refine_physics(
    model: MorphableModel,
    start: np.ndarray,
    item: RadarInput,
    array: RadarArray,
    grid: ImagingGrid,
    config: PhysicsConfig,
) -> tuple[np.ndarray, list[float], tuple[np.ndarray, np.ndarray]]:
    """Refine a (26,) vector on one image; returns it, the loss before each step and after the
    last, and the final rendering (max_db, depth_m (H, W))."""
    settings = RenderSettings(grid=grid, sampling=SamplingConfig(spacing_m=config.spacing_m))
    array = coarse_array(array, config)
    target_max_db = torch.from_numpy(item.max_db)
    target_depth = torch.from_numpy(item.depth_m)
    z_range = (float(grid.z_m[0]), float(grid.z_m[-1]))
    vector = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.Adam([vector], lr=config.lr)
    history = []

    def loss() -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        rendered = render_torch(_scene(vector), model, array, settings, seed=config.seed)
        value = image_loss(*rendered, target_max_db, target_depth, config, z_range)
        prior = config.prior_weight * coefficient_prior(vector[None])[0]
        return value + prior, rendered

    for _ in range(config.steps):
        optimiser.zero_grad()
        value, _ = loss()
        value.backward()
        vector.grad[P.RENDERING] = 0.0  # rendering parameters stay as estimated
        optimiser.step()
        history.append(float(value.detach()))
    with torch.no_grad():
        value, (max_db, depth_m) = loss()
    history.append(float(value))
    return vector.detach().numpy(), history, (max_db.numpy(), depth_m.numpy())
