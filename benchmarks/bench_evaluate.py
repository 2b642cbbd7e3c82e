"""How long `radarface evaluate` takes per image, by phase, and what 1,500 images would take.

Times, on the given runs and datasets: reading the samples (`eval.evaluate.load_data`), then the
whole command (`eval.report.evaluate_to_dir`: predictions, Table 1, error maps, cosines,
figures), cold (no cache) and warm (a rerun that reads the cached predictions). Per-image
figures divide by the samples evaluated; the 1,500-image estimate scales the per-image parts
(reading, predictions, metrics) and adds the fixed parts (figures, runtimes) once.

    python benchmarks/bench_evaluate.py --runs RUN [RUN ...] --data DIR --out /tmp/report \
        [--refine none,learned --decoder RUN] [--limit 300]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from radarface.eval.evaluate import EvalOptions, load_data
from radarface.eval.report import evaluate_to_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--refine", default="none")
    parser.add_argument("--decoder", type=Path, default=None)
    parser.add_argument("--face-model", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--examples", type=int, default=3)
    parser.add_argument("--target", type=int, default=1500, help="images to extrapolate to")
    args = parser.parse_args()
    options = EvalOptions(
        refine=tuple(args.refine.split(",")), limit=args.limit, examples=args.examples,
        progress=False,
    )  # fmt: skip
    tic = time.perf_counter()
    n = len(load_data(args.data, args.limit).inputs)
    read_s = time.perf_counter() - tic
    shutil.rmtree(args.out, ignore_errors=True)
    times = {}
    for name in ("cold", "warm"):
        tic = time.perf_counter()
        evaluate_to_dir(
            args.runs, [args.data], args.out, decoder=args.decoder,
            face_model_path=args.face_model, options=options,
        )  # fmt: skip
        times[name] = time.perf_counter() - tic
    rows = len(args.runs) * len(options.refine)
    predict_s = times["cold"] - times["warm"]  # what the cache saves: the predictions
    rest_s = times["warm"] - read_s
    print(f"{n} images, {rows} row(s): read {read_s:.1f} s, cold {times['cold']:.1f} s, "
          f"warm {times['warm']:.1f} s")  # fmt: skip
    print(f"per image: read {1e3 * read_s / n:.1f} ms, predictions {1e3 * predict_s / n:.1f} ms, "
          f"metrics, figures and runtimes {1e3 * rest_s / n:.1f} ms")  # fmt: skip
    scale = args.target / n
    estimate = (read_s + predict_s) * scale + rest_s * scale
    print(f"{args.target} images: about {estimate / 60:.1f} min (upper bound: everything scaled)")


if __name__ == "__main__":
    main()
