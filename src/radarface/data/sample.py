"""One dataset sample: its parameters and its images, a pure function of the config and index.

Random streams: (seed, index) face and pose, (seed, index, 1) material and antenna size (both
in `radarface.facemodel.sample_face_params`), (seed, index, 2) the scatterers
(`radarface.render.speckle_seed`). So any sample can be regenerated alone, by any worker, in any
order.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from radarface.data.config import DatasetConfig
from radarface.facemodel import MorphableModel, sample_face_params
from radarface.params import SceneParams, sample_rendering
from radarface.radar import RadarImage
from radarface.render import Mesh, RenderSettings, face_mesh, load_mesh, reflectance_of, render


def sample_parameters(
    config: DatasetConfig, index: int, model: MorphableModel | None = None
) -> SceneParams:
    """The parameters of sample `index` (one scene; see docs/dataset.md).

    random: face, pose and reflectance of sample `index`. eval: sample k = identity i x
    expressions + expression j has the shape of sample i x expressions (shared by the identity),
    zero expression for j = 0 (neutral) and the expression of sample j otherwise (shared by all
    identities), and its own pose and reflectance. neutral pose: zero translation and rotation.
    mesh-dir: no coefficients, zero pose, its own reflectance.
    """
    if config.kind == "mesh-dir":
        material, antenna_size = sample_rendering(config.seed, index)
        return SceneParams(
            np.zeros(0), np.zeros(0), np.zeros(3), np.zeros(3), material, antenna_size
        )
    if model is None:
        raise ValueError(f"a {config.kind} dataset needs its face model")

    def draw(i: int) -> SceneParams:
        return sample_face_params(model, config.seed, i, config.n_shape, config.n_expr)

    params = draw(index)
    if config.kind == "eval":
        identity, expression = divmod(index, config.eval_expressions)
        shape = draw(identity * config.eval_expressions).shape
        expr = np.zeros(config.n_expr) if expression == 0 else draw(expression).expr
        params = replace(params, shape=shape, expr=expr)
    if config.pose == "neutral":
        params = replace(params, translation_m=np.zeros(3), rotation_rad=np.zeros(3))
    return params


def sample_mesh(
    config: DatasetConfig, index: int, params: SceneParams, model: MorphableModel | None
) -> Mesh:
    """The radar-frame mesh of sample `index` with the reflectance of `params`."""
    if config.kind == "mesh-dir":
        path = Path(config.mesh_dir) / config.mesh_files[index]
        frame = config.mesh_frame or "radar"
        return load_mesh(path, config.mesh_units, reflectance_of(params), frame)
    return face_mesh(model, params)


def render_settings(config: DatasetConfig, device: str | None = None) -> RenderSettings:
    """The render settings of a dataset's images (its mask at the stored level)."""
    return RenderSettings(
        grid=config.grid,
        sampling=config.sampling,
        dynamic_range_db=config.mask_dynamic_range_db,
        method=config.imaging_method,
        device=device,
        depth_estimator=config.depth_estimator,
        snr_db=config.snr_db,
    )


def render_sample(
    config: DatasetConfig,
    index: int,
    model: MorphableModel | None = None,
    device: str | None = None,
) -> tuple[SceneParams, RadarImage]:
    """Parameters and image of sample `index` (deterministic)."""
    params = sample_parameters(config, index, model)
    mesh = sample_mesh(config, index, params, model)
    settings = render_settings(config, device)
    return params, render(mesh, config.array, settings, seed=config.seed, index=index)
