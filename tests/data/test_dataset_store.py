"""Bad directories get a clear one-line error and are never overwritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from radarface.data import DatasetError, generate_dataset, open_dataset
from radarface.render import RENDERER_REVISION


def _generate(tiny, out: Path, **kwargs) -> None:
    config = tiny.config(**{"n": 12, "seed": 5, "n_val": 3, **kwargs})
    generate_dataset(out, config, tiny.model_path, workers=1, progress=False)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(f.relative_to(root)): f.read_bytes() for f in root.rglob("*") if f.is_file()}


def _fails(tiny, out: Path, match: str, **kwargs) -> None:
    before = _snapshot(out) if out.is_dir() else out.read_bytes()
    with pytest.raises(DatasetError, match=match) as err:
        _generate(tiny, out, **kwargs)
    assert "\n" not in str(err.value)
    assert (_snapshot(out) if out.is_dir() else out.read_bytes()) == before


def test_foreign_directory_and_file(tiny, tmp_path: Path) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "a.jpg").write_bytes(b"\xff\xd8")
    _fails(tiny, foreign, "not a radarface dataset")
    (tmp_path / "file").write_text("x")
    _fails(tiny, tmp_path / "file", "is a file")


def test_other_zarr_group(tiny, tmp_path: Path) -> None:
    import zarr

    zarr.open_group(str(tmp_path / "z"), mode="w", attributes={"format": "other"})
    _fails(tiny, tmp_path / "z", "not a radarface dataset")


def test_config_mismatch_names_the_differences(tiny, tiny_dataset: Path, tmp_path: Path) -> None:
    out = shutil.copytree(tiny_dataset, tmp_path / "ds")
    _fails(tiny, out, r"another configuration \(differs in: n\)", n=13)
    _fails(tiny, out, r"differs in: seed, split_seed", seed=6)


def test_a_dataset_of_another_renderer_does_not_resume(
    tiny, tiny_dataset: Path, tmp_path: Path
) -> None:
    """Images of another renderer revision must not be mixed into it (nor older, unrecorded)."""
    out = shutil.copytree(tiny_dataset, tmp_path / "ds")
    meta = out / "zarr.json"
    doc = json.loads(meta.read_text())
    assert doc["attributes"]["created"]["renderer_revision"] == RENDERER_REVISION
    del doc["attributes"]["created"]["renderer_revision"]
    meta.write_text(json.dumps(doc))
    _fails(tiny, out, f"rendered by renderer revision 0 .* renders revision {RENDERER_REVISION}")


def test_corrupt_attributes_and_arrays(tiny, tiny_dataset: Path, tmp_path: Path) -> None:
    out = shutil.copytree(tiny_dataset, tmp_path / "ds")
    meta = out / "zarr.json"
    original = meta.read_text()
    meta.write_text(original[: len(original) // 2])
    _fails(tiny, out, "unreadable zarr metadata")
    doc = json.loads(original)
    del doc["attributes"]["config"]
    meta.write_text(json.dumps(doc))
    _fails(tiny, out, "corrupt dataset")
    doc = json.loads(original)
    doc["attributes"]["format_version"] = 99
    meta.write_text(json.dumps(doc))
    _fails(tiny, out, "format version 99")
    meta.write_text(original)
    shutil.rmtree(out / "images" / "depth_m")
    _fails(tiny, out, "array images/depth_m missing")
    with pytest.raises(DatasetError, match="no such dataset"):
        open_dataset(tmp_path / "missing")


def test_an_empty_directory_is_used(tiny, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _generate(tiny, tmp_path / "empty", n=2, n_val=0)
    assert open_dataset(tmp_path / "empty")["done"][:].all()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]  # no temporary directory left
