"""The on-disk dataset: a zarr v3 group with parameters, images, splits and per-sample done flags.

Layout (see docs/dataset.md):

    zarr.json                attributes: format, format_version, config, created
    params/shape             (n, n_shape) float64     written once, at creation
    params/expr              (n, n_expr) float64
    params/translation_m     (n, 3) float64
    params/rotation_rad      (n, 3) float64           yaw, pitch, roll
    params/material          (n,) float64
    params/antenna_size      (n,) float64
    images/max_db            (n, H, W) float32        one sample per chunk
    images/depth_m           (n, H, W) float32        one sample per chunk
    images/mask              (n, H, W) bool           one sample per chunk
    splits/train, splits/val (k,) int64               sorted sample indices
    done                     (n,) uint8               one sample per chunk, written last

A sample is complete exactly when done[i] == 1; its image chunks are written before, each under a
temporary name and renamed (zarr's LocalStore), so a killed writer leaves no partial sample behind.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from radarface.io import atomic_dir, provenance

FORMAT = "radarface-dataset"
FORMAT_VERSION = 1
PARAM_ARRAYS = ("shape", "expr", "translation_m", "rotation_rad", "material", "antenna_size")
IMAGE_ARRAYS = ("max_db", "depth_m", "mask")
IMAGE_DTYPES = {"max_db": "float32", "depth_m": "float32", "mask": "bool"}
SPLITS = ("train", "val")


class DatasetError(ValueError):
    """A directory that is not a usable radarface dataset, or one that does not match a request."""


def split_indices(n: int, n_val: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded split of range(n): {"train": sorted (n - n_val,), "val": sorted (n_val,)} int64."""
    if not 0 <= n_val <= n:
        raise ValueError(f"the validation split ({n_val}) must lie in [0, n = {n}]")
    order = np.random.default_rng([seed, 3]).permutation(n)
    return {"train": np.sort(order[n_val:]), "val": np.sort(order[:n_val])}


def create_dataset(
    path: str | os.PathLike,
    config: Mapping[str, Any],
    params: Mapping[str, np.ndarray],
    splits: Mapping[str, np.ndarray],
    image_shape: tuple[int, int],
    renderer_revision: int,
) -> zarr.Group:
    """Write a new dataset with its parameters and no images, atomically (temporary dir, rename)."""
    path = Path(path)
    n = int(config["n"])
    created = provenance(
        created_utc=datetime.datetime.now(datetime.UTC).isoformat(),
        renderer_revision=renderer_revision,
    )
    attributes = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": dict(config),
        "created": created,
    }
    try:
        with atomic_dir(path) as tmp:
            group = zarr.open_group(str(tmp), mode="w", zarr_format=3, attributes=attributes)
            for name in PARAM_ARRAYS:
                data = np.asarray(params[name], dtype=np.float64)
                chunks = tuple(max(1, size) for size in data.shape)
                group.create_array(f"params/{name}", data=data, chunks=chunks)
            for name in IMAGE_ARRAYS:
                dtype = IMAGE_DTYPES[name]
                group.create_array(
                    f"images/{name}",
                    shape=(n, *image_shape),
                    chunks=(1, *image_shape),
                    dtype=dtype,
                    fill_value=False if dtype == "bool" else 0.0,
                )
            for name in SPLITS:
                data = np.asarray(splits[name], dtype=np.int64)
                group.create_array(f"splits/{name}", data=data, chunks=(max(1, len(data)),))
            group.create_array(
                "done", shape=(n,), chunks=(1,), dtype="uint8", fill_value=0, compressors=None
            )
    except OSError as err:
        raise DatasetError(f"cannot create dataset {path}: {err}") from None
    return open_dataset(path, mode="r+")


def open_dataset(path: str | os.PathLike, mode: str = "r") -> zarr.Group:
    """Open and validate a dataset; DatasetError (one line) for anything else at `path`."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such dataset")
    if not path.is_dir():
        raise DatasetError(f"{path} is a file, not a radarface dataset directory")
    if not (path / "zarr.json").is_file():
        raise DatasetError(f"{path} is not a radarface dataset (no zarr.json); refusing to use it")
    try:
        group = zarr.open_group(str(path), mode=mode, zarr_format=3)
        attrs = group.attrs.asdict()
    except Exception as err:  # zarr raises many types for unreadable metadata
        raise DatasetError(
            f"{path}: unreadable zarr metadata ({type(err).__name__}: {err})"
        ) from None
    if attrs.get("format") != FORMAT:
        raise DatasetError(
            f"{path} is a zarr group but not a radarface dataset (no format attribute)"
        )
    if attrs.get("format_version") != FORMAT_VERSION:
        raise DatasetError(
            f"{path}: dataset format version {attrs.get('format_version')!r}; "
            f"this radarface reads version {FORMAT_VERSION}"
        )
    config = attrs.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("n"), int):
        raise DatasetError(f"{path}: corrupt dataset (missing or invalid config attribute)")
    _check_arrays(path, group, config["n"])
    return group


def _check_arrays(path: Path, group: zarr.Group, n: int) -> None:
    """Raise DatasetError unless every array exists with n samples along its first axis."""
    names = [f"params/{p}" for p in PARAM_ARRAYS] + [f"images/{i}" for i in IMAGE_ARRAYS]
    for name in [*names, *(f"splits/{s}" for s in SPLITS), "done"]:
        try:
            array = group[name]
        except Exception:  # KeyError, or zarr's errors for unreadable array metadata
            raise DatasetError(f"{path}: corrupt dataset (array {name} missing)") from None
        if not isinstance(array, zarr.Array) or (
            not name.startswith("splits/") and array.shape[0] != n
        ):
            raise DatasetError(f"{path}: corrupt dataset (array {name} has the wrong shape)")


def config_mismatch(stored: Mapping[str, Any], requested: Mapping[str, Any]) -> list[str]:
    """Top-level config keys whose values differ between a stored and a requested dataset."""
    return sorted(k for k in set(stored) | set(requested) if stored.get(k) != requested.get(k))


def done_flags(group: zarr.Group) -> np.ndarray:
    """(n,) bool: which samples are complete."""
    return np.asarray(group["done"][:], dtype=bool)


def write_sample(
    group: zarr.Group, index: int, max_db: np.ndarray, depth_m: np.ndarray, mask: np.ndarray
) -> None:
    """Write the images of sample `index`, then (last) its done flag."""
    group["images/max_db"][index] = max_db
    group["images/depth_m"][index] = depth_m
    group["images/mask"][index] = mask
    group["done"][index] = 1


@contextlib.contextmanager
def readable_samples(group: zarr.Group, indices: Iterable[int]) -> Iterator[None]:
    """Reads of the samples `indices` inside the block: if one fails on a damaged chunk (a
    zstd, checksum or decoding error), a one-line DatasetError names the first unreadable
    sample and how to render it again instead."""
    try:
        yield
    except DatasetError:
        raise
    except Exception as err:
        for index in (int(i) for i in np.atleast_1d(np.asarray(list(indices)))):
            for name in IMAGE_ARRAYS:
                try:
                    group[f"images/{name}"][index]
                except Exception as bad:  # the chunk of this sample cannot be decoded
                    root = Path(str(group.store.root))
                    reason = ": ".join([type(bad).__name__, *str(bad).splitlines()[:1]])
                    raise DatasetError(
                        f"{root}: sample {index} is damaged (images/{name}: {reason}); delete "
                        f"{root / 'done' / 'c' / str(index)} and run the same `radarface "
                        "dataset generate` again to render it anew"
                    ) from None
        raise err


def disk_bytes(path: str | os.PathLike) -> int:
    """Total size of the files under `path`."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
