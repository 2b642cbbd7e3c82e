"""Evaluation: Table 1's metrics and baselines, the cosine matrices, the `radarface evaluate`
report (paper Sec. 4)."""

from radarface.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "cosine": ["DEFINITIONS", "cosine_analysis", "group_matrix", "retrieval_rate"],
        "evaluate": ["EvalOptions", "load_data", "load_runs"],
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
        "paper": ["PAPER_TABLE1"],
        "report": ["evaluate_to_dir"],
    },
)
