"""Linear probe: how much of the parameters a ridge regression can read from a dataset's images.

    python benchmarks/linear_probe.py --data DIR [--inputs amplitude depth amplitude-depth]
        [--pool 1 2]

Fits a ridge regression from the training split's network inputs (at the validation dynamic
range, 20 dB) to the 26 targets, picks the ridge strength on the last 15% of the training split,
refits on all of it and prints Table 1's MSE groups on the validation split beside the mean
baseline. `--pool k` first averages k x k pixel blocks, to see what the image resolution is
worth. A trained encoder should do at least as well as this probe; when the probe cannot beat the
mean baseline either, the images carry little linearly readable information at that size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from radarface import params as P
from radarface.data import RadarFaceDataset
from radarface.eval import mean_baseline, param_errors

GROUPS = ("shape", "expression", "translation", "rotation", "total")
ALPHAS = np.logspace(-3, 3, 13)  # ridge strengths, relative to the mean diagonal of X X^T


def load(data: Path, split: str, input: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, H, W) images at 20 dB and (N, 26) targets of a split."""
    return RadarFaceDataset(data, split, input, P.VALIDATION_DYNAMIC_RANGE_DB).stacked()


def features(images: torch.Tensor, pool: int) -> np.ndarray:
    """(N, features) float64: the images averaged over pool x pool blocks, flattened."""
    x = F.avg_pool2d(images, pool) if pool > 1 else images
    return x.flatten(1).double().numpy()


def ridge(x_fit: np.ndarray, y_fit: np.ndarray, x_new: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge predictions for x_new, solved in the dual (fewer samples than features)."""
    gram = x_fit @ x_fit.T
    scale = alpha * np.trace(gram) / len(gram)
    coef = np.linalg.solve(gram + scale * np.eye(len(gram)), y_fit)
    return (x_new @ x_fit.T) @ coef


def probe(x_train, y_train, x_val, y_val) -> dict[str, float]:
    """Validation errors of the ridge fit whose strength did best on a held-out 15% of train."""
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    y_mean = y_train.double().mean(dim=0).numpy()
    y_c = y_train.double().numpy() - y_mean
    n_fit = int(0.85 * len(x_train))

    def total(alpha: float) -> float:
        pred = ridge(x_train[:n_fit], y_c[:n_fit], x_train[n_fit:], alpha) + y_mean
        return param_errors(torch.from_numpy(pred), y_train[n_fit:])["total"]

    best = min(ALPHAS, key=total)
    pred = ridge(x_train, y_c, x_val, best) + y_mean
    return {**param_errors(torch.from_numpy(pred), y_val), "alpha": float(best)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--inputs", nargs="+", default=["amplitude", "depth", "amplitude-depth"])
    parser.add_argument("--pool", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    rows = []
    for name in args.inputs:
        (x_train, y_train), (x_val, y_val) = (load(args.data, s, name) for s in ("train", "val"))
        for pool in args.pool:
            errors = probe(features(x_train, pool), y_train, features(x_val, pool), y_val)
            size = x_train.shape[-1] // pool
            cells = " | ".join(f"{errors[g]:.3f}" for g in GROUPS)
            rows.append(f"| ridge ({name}, {size} x {size}) | {cells} | {errors['alpha']:g} |")
    mean = param_errors(mean_baseline(y_train, len(y_val)), y_val)
    print(f"{len(y_train)} training / {len(y_val)} validation images\n")
    print("| model | " + " | ".join(GROUPS) + " | ridge strength |")
    print("|---|" + "---|" * (len(GROUPS) + 1))
    print("| Baseline (mean) | " + " | ".join(f"{mean[g]:.3f}" for g in GROUPS) + " | |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
