"""Atomic file output and provenance records shared by every stage."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from radarface import __version__


def make_parent(path: Path) -> None:
    """Create `path`'s folder; a one-line ValueError when a file stands where a folder must."""
    for folder in (*reversed(path.parents), path.parent):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is a file, not a folder: cannot write {path}")
    path.parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    make_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        tmp_path.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside `path`; rename it onto `path` if the block succeeds.

    The rename fails (OSError) when `path` exists and is not an empty directory.
    """
    path = Path(path)
    make_parent(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp creates 0700; give the usual permissions
        os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextlib.contextmanager
def atomic_replace_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Like `atomic_dir`, but an existing `path` is replaced once the block succeeds: renamed
    aside, the new directory renamed onto it, the old one removed."""
    path = Path(path)
    if not path.exists():
        with atomic_dir(path) as tmp:
            yield tmp
        return
    stem = path.parent / f".{path.name}.{uuid.uuid4().hex}"
    new, old = stem.with_suffix(".new"), stem.with_suffix(".old")
    with atomic_dir(new) as tmp:
        yield tmp
    os.rename(path, old)
    try:
        os.rename(new, path)
    except OSError:
        os.rename(old, path)  # put the previous directory back
        shutil.rmtree(new)
        raise
    shutil.rmtree(old)


def open_hdf5(path: str | os.PathLike, what: str) -> Any:
    """An HDF5 file open for reading (an h5py.File); one-line errors naming `what` it should be
    when it is missing or not HDF5."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not an HDF5 file ({err})") from None


def read_npz(
    path: str | os.PathLike, what: str, names: bool = False
) -> dict[str, np.ndarray | None]:
    """Every array of an .npz file, read without pickle (with `names`, only their names: the
    values are None); one-line errors naming the file and `what` it should be when it is
    missing, empty, truncated or not an npz."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file, not a {what}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: None if names else data[k] for k in data.files}
    except Exception as err:  # OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error
        reason = ": ".join([type(err).__name__, *str(err).splitlines()[:1]])
        raise ValueError(f"{path}: not a readable .npz {what} ({reason})") from None


def jsonable(value: Any) -> Any:
    """`value` with dataclasses, tuples, numpy values and paths turned into JSON types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write `data` (dataclasses, numpy values and paths allowed) as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(data), indent=2) + "\n")


def provenance(**fields: Any) -> dict[str, Any]:
    """What every output records: the given config and seed fields plus the software versions."""
    return {
        "radarface_version": __version__,
        "python": platform.python_version(),
        **jsonable(fields),
    }
