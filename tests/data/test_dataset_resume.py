"""Kill a real generate process (SIGKILL, pool workers included) and resume it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from radarface.cli import app
from radarface.data import open_dataset
from radarface.data.store import IMAGE_ARRAYS, PARAM_ARRAYS


def _done_count(out: Path) -> int:
    chunks = out / "done" / "c"
    return sum(p.name.isdigit() for p in chunks.iterdir()) if chunks.is_dir() else 0


def test_killed_run_resumes_to_the_same_dataset(tiny, tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    args = ["dataset", "generate", "--out", str(out), "--n", "12", "--seed", "5", "--n-val", "3"]
    args += [*tiny.cli_args(), "--no-progress"]
    command = [sys.executable, "-m", "radarface.cli", *args]
    proc = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and _done_count(out) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its pool workers
    proc.wait()
    killed_at = _done_count(out)
    assert 2 <= killed_at < 12, f"killed after {killed_at} samples: {proc.stderr.read()}"

    resumed = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert resumed.exit_code == 0, resumed.output
    assert "resumed" in resumed.output and "12 of 12 done" in resumed.output

    group, reference = open_dataset(out), open_dataset(tiny_dataset)
    assert group.attrs["config"] == reference.attrs["config"]
    assert group["done"][:].tolist() == [1] * 12
    for name in [f"images/{a}" for a in IMAGE_ARRAYS] + [f"params/{p}" for p in PARAM_ARRAYS]:
        assert np.array_equal(group[name][:], reference[name][:]), name

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "nothing to do" in again.output
