"""Parameter errors as in the paper's Table 1, named per-sample metrics, and the two baselines.

"L2 error" (Table 1) is read as the mean squared error: the mean over samples and over the
components of a group of (pred - true)^2. Evidence: the mean baseline gives ~0.99 for N(0, 1)
shape coefficients (variance 1), the random baseline ~2.0 (variance of a difference of two
N(0, 1) draws), and Table 1's total is the component-weighted mean of the four groups,
(10 * 0.99053 + 7 * 0.99961 + 3 * 0.33157 + 3 * 0.22639) / 23 = 0.80767, i.e. the MSE over the
23 face-model and pose components; the rendering parameters are not part of Table 1's total.
We report that as `total` and add `rendering` and `all` (all 26 components).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from radarface import params as P
from radarface.facemodel import MorphableModel, mean_vertex_distance_mm

ParamMetric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(pred_params (B,26), true_params (B,26)) -> one value per sample, (B,); `evaluate_params`
reports its mean under the name it is given."""


def vertex_distance(model: MorphableModel) -> ParamMetric:
    """The paper's point distance for `model`: meshes of the predicted and the true 10 shape and
    7 expression coefficients, without pose, compared vertex by vertex (mm, per sample)."""

    def distance_mm(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        def mesh(params: torch.Tensor) -> torch.Tensor:
            p = params.detach().double().cpu()
            return model.vertices(p[:, P.SHAPE], p[:, P.EXPRESSION])

        return mean_vertex_distance_mm(mesh(pred), mesh(true))

    return distance_mm


def face_model_metrics(model: MorphableModel) -> dict[str, ParamMetric]:
    """The metrics that need the face model, by their metrics.json names: `point_dist_mm`."""
    return {"point_dist_mm": vertex_distance(model)}


def param_errors(pred: torch.Tensor, true: torch.Tensor) -> dict[str, float]:
    """(N,26), (N,26) -> MSE per group, `total` (Table 1: first 23 components) and `all` (26)."""
    sq = (pred.detach().float() - true.detach().float()).square()
    errors = {name: sq[:, s].mean().item() for name, s in P.GROUPS.items()}
    errors["total"] = sq[:, P.FACE_AND_POSE].mean().item()
    errors["all"] = sq.mean().item()
    return errors


def evaluate_params(
    pred: torch.Tensor, true: torch.Tensor, metrics: Mapping[str, ParamMetric] | None = None
) -> dict[str, float]:
    """`param_errors` plus each of `metrics` by its name (mean over samples)."""
    errors = param_errors(pred, true)
    for name, metric in (metrics or {}).items():
        errors[name] = metric(pred, true).float().mean().item()
    return errors


def mean_baseline(train_params: torch.Tensor, n: int) -> torch.Tensor:
    """Table 1's "Baseline (Mean)": the training-set mean (N,26) -> (26,), repeated to (n,26)."""
    return train_params.float().mean(dim=0).expand(n, -1)


def random_baseline(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Table 1's "Baseline (Random)": (n,26) parameters drawn from the prior."""
    return P.sample_prior(n, generator)


def baseline_errors(
    train_params: torch.Tensor,
    val_params: torch.Tensor,
    metrics: Mapping[str, ParamMetric] | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, dict[str, float]]:
    """Errors of both Table 1 baselines on `val_params` (N,26): {"mean": ..., "random": ...}."""
    n = val_params.shape[0]
    return {
        "mean": evaluate_params(mean_baseline(train_params, n), val_params, metrics),
        "random": evaluate_params(random_baseline(n, generator), val_params, metrics),
    }
