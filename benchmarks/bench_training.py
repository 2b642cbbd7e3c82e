"""A preset's whole chain on one dataset, against the paper's two baselines (Table 1 layout).

    python benchmarks/bench_training.py --data DIR --out RUNS [--preset cpu] [--face-model PATH]
        [--inputs amplitude depth amplitude-depth] [--set KEY=VALUE ...]

Trains one decoder (amplitude at 15 dB), then per input an encoder and an autoencoder (encoder
through the frozen decoder), each into RUNS/<stage>-<input>; runs resume where they stopped, so
the script can be re-run after an interruption. Prints a markdown table of validation metrics
(MSE per parameter group, Table 1's total, point distance in mm at 20 dB) and wall times, and
writes the baselines' metrics to RUNS/baselines.json (read by docs/make_training_figure.py).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from radarface import params as P
from radarface.data import INPUTS, DatasetConfig, RadarFaceDataset, load_checked_model, open_dataset
from radarface.eval import baseline_errors, face_model_metrics
from radarface.facemodel import resolve_face_model_path
from radarface.io import provenance, write_json
from radarface.train import PRESETS, parse_overrides, run_stage

COLUMNS = ("shape", "expression", "translation", "rotation", "total", "point_dist_mm")


def targets(data: Path, split: str) -> torch.Tensor:
    """(N, 26) targets of a split at the validation dynamic range."""
    return RadarFaceDataset(data, split, "amplitude", P.VALIDATION_DYNAMIC_RANGE_DB).targets()


def timed_stage(stage: str, out: Path, **kwargs) -> tuple[dict, float | None]:
    """Run (or finish) one stage; returns its final metrics and the wall time of this call.

    A run with a metrics.json (written after its last epoch) is complete: its stored metrics are
    returned with no time, so that a re-run prints no misleading one.
    """
    if (out / "metrics.json").exists():
        return json.loads((out / "metrics.json").read_text())["final"], None
    start = time.perf_counter()
    result = run_stage(stage, out_dir=out, resume=True, **kwargs)
    return result, time.perf_counter() - start


def row(name: str, metrics: dict, seconds: float | None) -> str:
    cells = " | ".join(f"{metrics[c]:.3f}" if c in metrics else "" for c in COLUMNS)
    return f"| {name} | {cells} | {'' if seconds is None else f'{seconds / 60:.1f}'} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", default="cpu", choices=PRESETS)
    parser.add_argument("--face-model", default=None)
    parser.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=INPUTS)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    common = {
        "data_dir": args.data,
        "preset": args.preset,
        "face_model": args.face_model,
        **parse_overrides(args.overrides),
    }
    config = DatasetConfig.from_json(open_dataset(args.data).attrs["config"])
    model = load_checked_model(resolve_face_model_path(args.face_model), config)
    train_targets, val_targets = targets(args.data, "train"), targets(args.data, "val")
    baselines = baseline_errors(
        train_targets, val_targets, face_model_metrics(model), torch.Generator().manual_seed(0)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "baselines.json", {**baselines, **provenance(data=args.data, seed=0)})
    lines = [row(f"Baseline ({k})", v, None) for k, v in baselines.items()]
    decoder_dir = args.out / "decoder-amplitude"
    decoder, t_decoder = timed_stage("decoder", decoder_dir, **common)
    for name in args.inputs:
        enc_dir, ae_dir = args.out / f"encoder-{name}", args.out / f"autoencoder-{name}"
        enc, t_enc = timed_stage("encoder", enc_dir, input=name, **common)
        lines.append(row(f"Encoder ({name})", enc["val"], t_enc))
        ae, t_ae = timed_stage(
            "autoencoder", ae_dir, input=name, encoder_run=enc_dir, decoder_run=decoder_dir,
            **common,
        )  # fmt: skip
        lines.append(row(f"Autoencoder ({name})", ae["val"], t_ae))
    n_train, n_val = len(train_targets), len(val_targets)
    print(
        f"{args.preset} preset; {n_train} training / {n_val} validation images of "
        f"{config.grid.n_y} x {config.grid.n_x}; decoder (amplitude, 15 dB): val image MSE "
        f"{decoder['val']['image']:.4f}"
        + ("" if t_decoder is None else f" in {t_decoder / 60:.1f} min")
        + "\n"
    )
    print("| model | " + " | ".join(COLUMNS) + " | time (min) |")
    print("|---|" + "---|" * (len(COLUMNS) + 1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
