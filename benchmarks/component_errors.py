"""Per-parameter validation errors of a trained encoder run, beside each parameter's variance.

    python benchmarks/component_errors.py --run RUNS/encoder-depth [--data DIR]

Table 1 averages the errors over groups of parameters, which hides a network that reads the
leading face coefficients and guesses the rest. This prints, for each of the 26 parameters, the
validation MSE (at 20 dB, as in training) and the variance of its targets, which is the MSE of
predicting the mean: a ratio well under 1 means the images carry that parameter.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from radarface import params as P
from radarface.data import RadarFaceDataset
from radarface.nn import Encoder, NetConfig
from radarface.train import load_checkpoint

NAMES = (
    [f"shape {k}" for k in range(P.N_SHAPE)]
    + [f"expression {k}" for k in range(P.N_EXPRESSION)]
    + ["translation x", "translation y", "translation z", "yaw", "pitch", "roll"]
    + ["dynamic range", "material", "antenna size"]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="an encoder run directory")
    parser.add_argument("--data", type=Path, default=None, help="default: the run's dataset")
    args = parser.parse_args()
    config = json.loads((args.run / "config.json").read_text())
    if config["stage"] != "encoder":
        raise SystemExit(f"{args.run} is a {config['stage']} run, not an encoder run")
    encoder = Encoder(NetConfig.from_dict(config["config"]["net"])).eval()
    encoder.load_state_dict(load_checkpoint(args.run / "checkpoint.pt")["model"])
    data = args.data or Path(config["data_dir"])
    ds = RadarFaceDataset(data, "val", config["input"], P.VALIDATION_DYNAMIC_RANGE_DB)
    images, targets = ds.stacked()
    with torch.no_grad():
        pred = torch.cat([encoder(batch) for batch in images.split(64)])
    mse, var = (pred - targets).square().mean(0), targets.var(0, correction=0)
    print(f"{args.run}: {len(ds)} validation images, input {config['input']}")
    print("| parameter | MSE | variance (mean predictor) | MSE / variance |")
    print("|---|---|---|---|")
    for name, e, v in zip(NAMES, mse.tolist(), var.tolist(), strict=True):
        ratio = f"{e / v:.2f}" if v > 0 else ""
        print(f"| {name} | {e:.3f} | {v:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
