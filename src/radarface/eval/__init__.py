"""Evaluation: parameter errors, point distance and baselines (paper Table 1)."""

from radarface.eval.metrics import (
    ParamMetric,
    baseline_errors,
    evaluate_params,
    face_model_metrics,
    mean_baseline,
    param_errors,
    random_baseline,
    vertex_distance,
)

__all__ = [
    "ParamMetric",
    "baseline_errors",
    "evaluate_params",
    "face_model_metrics",
    "mean_baseline",
    "param_errors",
    "random_baseline",
    "vertex_distance",
]
