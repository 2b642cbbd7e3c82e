"""Dataset generation speed: samples per second with 1 and 2 local workers, time for 10,000.

Renders --n ICT-FaceKit samples (full QAR50, default 128 x 128 x 46 grid, default imaging method)
per worker count into a temporary directory and prints a markdown table. The steady rate counts
the samples completed after each worker's first one, over the time since those first ones, so
process start-up (imports, face model loading) is excluded; the 10,000-sample time adds it back.
CPU s/sample is the CPU time of this process and its workers per sample, start-up included; it
barely depends on other load on the machine, while the rates do.

    python benchmarks/bench_dataset.py --n 12 --workers 1 2 [--face-model PATH]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from radarface.data import build_config, generate_dataset
from radarface.data.generate import cpu_count
from radarface.facemodel import resolve_face_model_path
from radarface.radar import ImagingGrid, qar50_array

TARGET_N = 10_000


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12, help="samples per worker count")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pixels", type=int, default=128)
    parser.add_argument("--face-model", type=Path, default=None)
    args = parser.parse_args()
    model_path = resolve_face_model_path(args.face_model)
    grid = ImagingGrid(n_x=args.pixels, n_y=args.pixels)
    config = build_config(array=qar50_array(), grid=grid, n=args.n, face_model_path=model_path)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        warm = build_config(array=qar50_array(), grid=grid, n=1, seed=1, face_model_path=model_path)
        generate_dataset(Path(tmp) / "warm-up", warm, model_path, workers=1, progress=False)
        for workers in args.workers:
            cpu_before = _cpu_seconds()
            report = generate_dataset(
                Path(tmp) / f"w{workers}", config, model_path, workers=workers, progress=False
            )
            cpu = (_cpu_seconds() - cpu_before) / report.rendered
            first = report.completed_s[workers - 1]
            rate = (report.rendered - workers) / (report.completed_s[-1] - first)
            startup = max(0.0, first - workers / rate)
            hours = (startup + TARGET_N / rate) / 3600
            rows.append((workers, report.rendered, report.seconds, startup, rate, cpu, hours))
    print(f"ICT-FaceKit, QAR50, {args.pixels} x {args.pixels} x 46 grid, {cpu_count()} cores\n")
    print(
        "| workers | samples | wall (s) | start-up (s) | samples/s | s/sample | CPU s/sample "
        "| 10,000 samples |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workers, n, wall, startup, rate, cpu, hours in rows:
        print(
            f"| {workers} | {n} | {wall:.1f} | {startup:.1f} | {rate:.3f} | {1 / rate:.2f} "
            f"| {cpu:.2f} | {hours:.2f} h |"
        )


if __name__ == "__main__":
    main()
