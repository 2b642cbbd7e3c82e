"""Validation curves of a `bench_training.py` chain: each encoder's epochs against the baselines.

    python docs/make_training_figure.py RUNS docs/figures/training_curves.png

RUNS is the --out directory of benchmarks/bench_training.py (its encoder-<input>/metrics.json and
baselines.json). Left: Table 1's total on the validation split per epoch; right: the training
loss (MSE of all 26 parameters), which keeps falling where the validation total rises.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(runs: Path, out: Path) -> None:
    """Plot the encoders' per-epoch validation total and training loss; save to `out`."""
    baselines = json.loads((runs / "baselines.json").read_text())
    fig, (ax_val, ax_train) = plt.subplots(1, 2, figsize=(10, 3.8))
    for run in sorted(runs.glob("encoder-*")):  # the inputs the chain trained
        name = run.name.removeprefix("encoder-")
        history = json.loads((run / "metrics.json").read_text())["history"]
        epochs = [h["epoch"] + 1 for h in history]
        ax_val.plot(epochs, [h["val"]["total"] for h in history], label=f"encoder ({name})")
        ax_train.plot(epochs, [h["train"]["loss"] for h in history], label=f"encoder ({name})")
    ax_val.axhline(baselines["mean"]["total"], color="k", ls="--", label="mean baseline")
    ax_val.set(xlabel="epoch", ylabel="validation total (Table 1)", title="validation")
    ax_train.set(xlabel="epoch", ylabel="training loss (MSE, 26 parameters)", title="training")
    ax_val.legend(fontsize=8)
    ax_train.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
