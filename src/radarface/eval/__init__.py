"""Evaluation: parameter errors, point distance and baselines (paper Table 1)."""

from radarface.eval.metrics import (
    VertexDistanceMm,
    baseline_errors,
    evaluate_params,
    mean_baseline,
    param_errors,
    random_baseline,
    vertex_distance,
)

__all__ = [
    "VertexDistanceMm",
    "baseline_errors",
    "evaluate_params",
    "mean_baseline",
    "param_errors",
    "random_baseline",
    "vertex_distance",
]
