"""Pool workers end with their parent (even a SIGKILLed one); an unreachable dask scheduler is a
one-line error before any dataset is made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radarface.cli import app


def _children(pid: int) -> set[int]:
    """Live processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_the_parent_is_killed(tiny, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    args = ["dataset", "generate", "--out", str(out), "--n", "200", "--workers", "2"]
    command = [sys.executable, "-m", "radarface.cli", *args, *tiny.cli_args(), "--no-progress"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        # the pool's two workers (besides multiprocessing's resource tracker) are rendering
        workers = {p for p in _children(proc.pid) if b"spawn_main" in _cmdline(p)}
        if len(workers) == 2 and _done_count(out) >= 2:
            break
        time.sleep(0.05)
    assert len(workers) == 2, f"no workers seen: {proc.stderr.read() if proc.poll() else ''}"
    os.kill(proc.pid, signal.SIGKILL)  # the parent only: no clean-up runs
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.05)
    survivors = [p for p in workers if _alive(p)]
    for pid in survivors:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their parent"


def _done_count(out: Path) -> int:
    chunks = out / "done" / "c"
    return sum(p.name.isdigit() for p in chunks.iterdir()) if chunks.is_dir() else 0


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_unreachable_scheduler_is_one_line_before_any_dataset(tiny, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    args = ["dataset", "generate", "--out", str(out), "--n", "4", *tiny.cli_args()]
    start = time.monotonic()
    result = CliRunner().invoke(app, [*args, "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "no dask scheduler answered" in result.stderr
    assert time.monotonic() - start < 20  # the 5 s timeout, not dask's 30 s
    assert not out.exists()
