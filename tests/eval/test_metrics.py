"""Table 1 metrics and baselines on cases with known answers."""

import torch

from radarface import params as P
from radarface.eval import baseline_errors, evaluate_params, param_errors


def test_errors_are_mse_per_group() -> None:
    true = torch.zeros(2, 26)
    pred = torch.zeros(2, 26)
    pred[:, P.SHAPE] = 2.0  # squared error 4 on 10 of the 23 face+pose components
    pred[:, P.RENDERING] = 1.0
    e = param_errors(pred, true)
    assert e["shape"] == 4.0 and e["expression"] == 0.0 and e["rendering"] == 1.0
    assert abs(e["total"] - 40 / 23) < 1e-6
    assert abs(e["all"] - 43 / 26) < 1e-6


def test_table1_total_is_component_weighted_mean() -> None:
    groups = {"shape": 0.99053, "expression": 0.99961, "translation": 0.33157, "rotation": 0.22639}
    sizes = {"shape": 10, "expression": 7, "translation": 3, "rotation": 3}
    total = sum(groups[k] * sizes[k] for k in groups) / 23
    assert abs(total - 0.80767) < 1e-5


def test_baselines_on_prior_data() -> None:
    g = torch.Generator().manual_seed(0)
    train, val = P.sample_prior(5000, g), P.sample_prior(5000, g)
    b = baseline_errors(train, val, generator=g)
    assert abs(b["mean"]["shape"] - 1.0) < 0.05 and abs(b["mean"]["expression"] - 1.0) < 0.05
    assert abs(b["mean"]["translation"] - 1 / 3) < 0.02
    assert abs(b["random"]["shape"] - 2.0) < 0.1 and abs(b["random"]["translation"] - 2 / 3) < 0.04


def test_point_distance_callable() -> None:
    pred, true = torch.zeros(3, 26), torch.ones(3, 26)

    def dist(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (p - t)[:, P.SHAPE].abs().sum(dim=1)

    assert evaluate_params(pred, true, metrics={"point_dist_mm": dist})["point_dist_mm"] == 10.0
    assert "point_dist_mm" not in evaluate_params(pred, true)
