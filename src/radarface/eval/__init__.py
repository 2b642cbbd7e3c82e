"""Evaluation: parameter errors, point distance and baselines (paper Table 1)."""

from radarface.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "metrics": [
            "ParamMetric",
            "baseline_errors",
            "evaluate_params",
            "face_model_metrics",
            "mean_baseline",
            "param_errors",
            "random_baseline",
            "vertex_distance",
        ],
    },
)
