"""Test-time optimisation through the real physics: `render_torch` in the loop.

The face and pose values of the 26-value vector p are refined on

    L(p) = mean (A(p) - A_in)^2 + w_d * mean_{mask} huber((z(p) - z_in) / s_z)
           + w_p * mean(p_face^2),

A = clip((max_db + theta) / theta, 0, 1) the amplitude images at theta dB (clipping keeps the
loss finite where either image has no echo), z the depth images, compared where both images are
within theta dB of their peaks, in units of s_z (default 3 mm, one depth slice) under a Huber
penalty (quadratic within one unit, linear beyond: a speckle-displaced depth pixel pulls no
harder than a few millimetres' error), p_face the 17 coefficients (an optional Gaussian prior).
The material factor and the antenna size can be refined too (their own rate `rendering_lr`;
default 0: kept as estimated, clamped into the paper's ranges); the dynamic range is the
loss's. Adam runs `steps` steps (learning rate on a cosine decay to zero) and
the iterate with the lowest loss is returned (the start included), so a fit never ends worse, on
its own loss, than it began.

Speed: each step simulates the face through a coarse array (every `pair_stride`-th TX and RX,
every `freq_stride`-th frequency: the same aperture and bandwidth, fewer samples) with the
`scattering` model's scatterers (coherent sub-facets by default; `spacing_m` sets the random
points' spacing under speckle), sampled once on the starting face and moved with the mesh (the
loss stays smooth in the parameters); it images every `pixel_stride`-th pixel, and autograd
follows only the columns within theta dB of the peak (`render_torch(..., dynamic_range_db=theta)`,
the only ones the clipped loss has a gradient in).
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
from radarface.render import RenderSettings, render_torch, sample_scatterers

#: A sweep of 16 frequencies over 72-82 GHz has an unambiguous range of c / (2 df) = 22.5 cm.
MIN_FREQUENCIES = 16


@dataclass(frozen=True)
class PhysicsConfig:
    """Steps, learning rate (Adam), loss weights and the coarse simulation of a physics fit."""

    steps: int = 20
    lr: float = 0.1  # the 17 face coefficients (units of their standard deviation)
    pose_lr: float = 0.02  # the scaled pose (x, y in units of 5 cm, angles of 5-10 degrees)
    # scaled material and antenna size (ranges [-1, 1]); 0 holds them: refining them moved them
    # away from the truth and did not help the face on 16 images (docs/fit.md)
    rendering_lr: float = 0.0
    dynamic_range_db: float = 20.0
    depth_weight: float = 0.05
    depth_scale_m: float = 3e-3
    prior_weight: float = 0.0
    pair_stride: int = 2
    freq_stride: int = 8
    pixel_stride: int = 2
    scattering: str = "coherent"
    spacing_m: float = 3e-3
    seed: int = 0

    @property
    def sampling(self) -> SamplingConfig:
        """The fit's scatterers: Gaussian facets under coherent scattering, the model that the
        CPU adjoint differentiates (so the fit's model is never exactly the renderer's)."""
        return SamplingConfig(
            scattering=self.scattering, spacing_m=self.spacing_m, facet_integral="gaussian"
        )

    def __post_init__(self) -> None:
        strides = (self.pair_stride, self.freq_stride, self.pixel_stride)
        rates = (self.lr, self.pose_lr, self.rendering_lr)
        rates_ok = min(rates) >= 0 and max(rates) > 0
        if self.steps < 0 or not rates_ok or min(strides) < 1 or not self.depth_scale_m > 0:
            raise ValueError(
                f"physics refinement needs steps >= 0, rates lr, pose_lr, rendering_lr >= 0 "
                f"(0 holds those values; one above 0), strides >= 1, "
                f"depth scale > 0: "
                f"{self}"
            )


def coarse_array(array: RadarArray, config: PhysicsConfig) -> RadarArray:
    """Every pair_stride-th TX and RX and every freq_stride-th frequency of `array`, keeping at
    least MIN_FREQUENCIES frequencies (a coarser sweep folds the range profile onto the grid)."""
    freq_stride = max(1, min(config.freq_stride, len(array.freq_hz) // MIN_FREQUENCIES))
    return RadarArray(
        array.tx_m[:: config.pair_stride],
        array.rx_m[:: config.pair_stride],
        array.freq_hz[::freq_stride],
    )


def image_loss(
    max_db: torch.Tensor,
    depth_m: torch.Tensor,
    target_max_db: torch.Tensor,
    target_depth_m: torch.Tensor,
    config: PhysicsConfig,
) -> torch.Tensor:
    """The amplitude and masked depth terms of L for (H, W) images (see the module docstring)."""
    theta = config.dynamic_range_db
    amplitude, _, mask = apply_dynamic_range(max_db, depth_m, theta)
    target_amplitude, _, target_mask = apply_dynamic_range(target_max_db, target_depth_m, theta)
    loss = (amplitude - target_amplitude).square().mean()
    both = mask & target_mask & torch.isfinite(target_depth_m)
    if both.any():
        residual = ((depth_m - target_depth_m) / config.depth_scale_m)[both]
        huber = torch.nn.functional.huber_loss(residual, torch.zeros_like(residual), delta=1.0)
        loss = loss + config.depth_weight * huber
    return loss


def _scene(vector: torch.Tensor) -> SceneParams:
    """SceneParams of a (26,) vector, the rendering parameters clamped into their ranges."""
    scene = SceneParams.from_vector(vector)
    return replace(
        scene,
        material=scene.material.clamp(*P.MATERIAL_RANGE),
        antenna_size=scene.antenna_size.clamp(*P.ANTENNA_SIZE_RANGE),
    )


def refine_physics(
    model: MorphableModel,
    start: np.ndarray,
    item: RadarInput,
    array: RadarArray,
    grid: ImagingGrid,
    config: PhysicsConfig,
    device: str | None = None,
) -> tuple[np.ndarray, list[float], tuple[np.ndarray, np.ndarray]]:
    """Refine a (26,) vector on one image on `grid`; returns the best iterate, the loss of each
    iterate (steps + 1 values, the start first), and the best iterate's rendering (max_db,
    depth_m), on the grid of every pixel_stride-th pixel. The simulation and imaging run on
    `device` (None or "cpu": the numba kernels and their adjoint; "cuda[:N]": torch)."""
    stride = config.pixel_stride
    settings = RenderSettings(
        grid=grid.strided(stride),
        sampling=config.sampling,
        device=device,
        depth_estimator=item.depth_estimator,  # read the rendering's depth as the input's
    )
    on = torch.device(device or "cpu")
    array = coarse_array(array, config)
    target_max_db = torch.from_numpy(item.max_db[::stride, ::stride].astype(np.float32)).to(on)
    target_max_db = target_max_db - target_max_db.max()  # 0 dB at the strided image's peak
    target_depth = torch.from_numpy(item.depth_m[::stride, ::stride].astype(np.float32)).to(on)
    values = torch.tensor(start, dtype=torch.float64)
    face, pose = (values[part].clone() for part in (P.FACE, P.POSE))
    dynamic_range = values[P.DYNAMIC_RANGE : P.MATERIAL]  # the loss's own, not fitted
    # Material and antenna size within their ranges ([-1, 1] scaled), where an estimate may
    # have left them; each step is projected back (projected Adam).
    material_antenna = values[P.MATERIAL :].clamp(-1.0, 1.0)
    # Adam moves every value by about its learning rate per step: the pose's own, smaller rate
    # keeps a step of the translation at ~1 mm (a face coefficient's 0.1 moves the surface by
    # a fraction of a mm).
    rates = ((face, config.lr), (pose, config.pose_lr), (material_antenna, config.rendering_lr))
    optimiser = torch.optim.Adam(
        [{"params": [x.requires_grad_()], "lr": lr} for x, lr in rates if lr > 0]
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(config.steps, 1))
    # One sampling of the starting face, moved with the mesh on every step: resampling would
    # redraw the scatterers' positions and phases and make the loss jump between steps.
    scatterers = sample_scatterers(_scene(values), model, array, settings, seed=config.seed)
    history: list[float] = []
    best: tuple[float, np.ndarray, tuple[np.ndarray, np.ndarray]] | None = None

    for step in range(config.steps + 1):
        optimiser.zero_grad()
        vector = torch.cat([face, pose, dynamic_range, material_antenna])
        rendered = render_torch(
            _scene(vector), model, array, settings, scatterers=scatterers,
            dynamic_range_db=config.dynamic_range_db,
        )  # fmt: skip
        value = image_loss(*rendered, target_max_db, target_depth, config)
        value = value.cpu() + config.prior_weight * coefficient_prior(vector[None])[0]
        history.append(float(value.detach()))
        if best is None or history[-1] < best[0]:
            images = tuple(x.detach().cpu().numpy() for x in rendered)
            best = (history[-1], vector.detach().numpy().copy(), images)
        if step == config.steps:
            break
        value.backward()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            material_antenna.clamp_(-1.0, 1.0)
    return best[1], history, best[2]
