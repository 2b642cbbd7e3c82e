"""Atomic directory replacement: a complete new directory, or the old one untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from radarface.io import atomic_replace_dir


def test_replace_dir_swaps_in_the_new_directory(tmp_path: Path) -> None:
    out = tmp_path / "report"
    for text in ("first", "second"):
        with atomic_replace_dir(out) as tmp:
            (tmp / "report.md").write_text(text)
    assert (out / "report.md").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # nothing left beside it


def test_replace_dir_keeps_the_old_directory_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("old")
    with pytest.raises(RuntimeError), atomic_replace_dir(out) as tmp:
        (tmp / "report.md").write_text("half")
        raise RuntimeError("failed halfway")
    assert (out / "report.md").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
