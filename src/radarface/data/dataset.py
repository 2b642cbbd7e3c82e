"""PyTorch access to a dataset: network inputs at any dynamic range and the 26-value targets.

Inputs (C, H, W) float32, from the stored unclipped max projection max_db and depth depth_m, at a
dynamic range theta (dB): amplitude = clip((max_db + theta) / theta, 0, 1), and depth =
(z_far - depth_m) / (z_far - z_near) where max_db >= -theta, 0 elsewhere, with z_near, z_far the
first and last slices of the imaging grid (so 1 is the front of the grid, 0 its back and the
background). Targets (26,) in the layout of `radarface.params`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zarr
from torch.utils.data import Dataset

from radarface import params as P
from radarface.data import store
from radarface.data.config import DatasetConfig
from radarface.params import INPUTS
from radarface.radar import apply_dynamic_range

ITEMS = ("input", "renderer")
SPLITS = ("train", "val", "all")
_DYNAMIC_RANGE_TAG = 4  # random stream (seed, epoch, index, 4) of the sampled dynamic range


def network_input(
    max_db: torch.Tensor,
    depth_m: torch.Tensor,
    input: str,
    dynamic_range_db: float,
    z_range_m: tuple[float, float],
) -> torch.Tensor:
    """(H, W) max_db and depth_m -> (C, H, W) float32 input: amplitude, depth, or both."""
    if input not in INPUTS:
        raise ValueError(f"unknown input {input!r}; use one of {', '.join(INPUTS)}")
    amplitude, _, mask = apply_dynamic_range(max_db, depth_m, dynamic_range_db)
    channels = []
    if input != "depth":
        channels.append(amplitude)
    if input != "amplitude":
        near, far = z_range_m
        depth = ((far - depth_m) / (far - near)).clamp(0.0, 1.0)
        channels.append(torch.where(mask, depth, torch.zeros_like(depth)))
    return torch.stack(channels).float()


def decoder_image(
    max_db: torch.Tensor,
    depth_m: torch.Tensor,
    z_range_m: tuple[float, float],
    target: str = "amplitude",
) -> torch.Tensor:
    """(1, H, W): the learned renderer's target image (amplitude or depth) at 15 dB."""
    if target not in ("amplitude", "depth"):
        raise ValueError(f"unknown decoder target {target!r}; use amplitude or depth")
    return network_input(max_db, depth_m, target, P.DECODER_DYNAMIC_RANGE_DB, z_range_m)


def _leading(values: np.ndarray, k: int) -> np.ndarray:
    """(N, m) -> (N, k): the first k columns, zero-padded when m < k."""
    out = np.zeros((len(values), k))
    m = min(k, values.shape[1])
    out[:, :m] = values[:, :m]
    return out


def face_and_pose_targets(group: zarr.Group, indices: np.ndarray, kind: str) -> np.ndarray:
    """(N, 23): 10 shape, 7 expression coefficients and the pose scaled to [-1, 1].

    Coefficients a dataset did not draw are 0; mesh-dir samples have no face parameters (NaN).
    """
    if kind == "mesh-dir":
        return np.full((len(indices), P.FACE_AND_POSE.stop), np.nan)
    shape = group["params/shape"].get_orthogonal_selection((indices, slice(None)))
    expr = group["params/expr"].get_orthogonal_selection((indices, slice(None)))
    translation = group["params/translation_m"].get_orthogonal_selection((indices, slice(None)))
    rotation = group["params/rotation_rad"].get_orthogonal_selection((indices, slice(None)))
    return np.concatenate(
        [
            _leading(shape, P.N_SHAPE),
            _leading(expr, P.N_EXPRESSION),
            P.pose_to_unit(translation, rotation),
        ],
        axis=1,
    )


def read_images(group: zarr.Group, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) max_db and depth_m of the samples `indices` (sorted), read in bulk."""
    selection = (indices, slice(None), slice(None))
    with store.readable_samples(group, indices):
        return (
            group["images/max_db"].get_orthogonal_selection(selection),
            group["images/depth_m"].get_orthogonal_selection(selection),
        )


class RadarFaceDataset(Dataset):
    """Items (input (C, H, W), target (26,)[, decoder target (1, H, W)]) of a dataset split.

    dynamic_range_db: a fixed theta, or (lo, hi) for theta ~ U(lo, hi) drawn per item from the
    stream (seed, epoch, sample index); `set_epoch` gives each epoch new draws. in_memory: read
    the split's images once (else per item). decoder_target: "amplitude" or "depth" appends the
    learned renderer's 15 dB target image. items="renderer": (target (26,), decoder target
    (1, H, W)) instead, the learned renderer's items, with no network input.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        split: str = "train",
        input: str = "amplitude",
        dynamic_range_db: float | tuple[float, float] = 20.0,
        in_memory: bool = True,
        seed: int = 0,
        decoder_target: str | None = None,
        items: str = "input",
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        if input not in INPUTS:
            raise ValueError(f"unknown input {input!r}; use one of {', '.join(INPUTS)}")
        if decoder_target not in (None, "amplitude", "depth"):
            raise ValueError(f"unknown decoder target {decoder_target!r}; use amplitude or depth")
        if items not in ITEMS:
            raise ValueError(f"unknown items {items!r}; use one of {', '.join(ITEMS)}")
        if items == "renderer" and decoder_target is None:
            raise ValueError("renderer items need a decoder target (amplitude or depth)")
        lo, hi = (
            (dynamic_range_db, dynamic_range_db)
            if isinstance(dynamic_range_db, (int, float))
            else dynamic_range_db
        )
        if not 0 < lo <= hi:
            raise ValueError(f"dynamic range must be positive and lo <= hi, got {dynamic_range_db}")
        self.path = Path(path)
        group = store.open_dataset(self.path)
        self.config = DatasetConfig.from_json(group.attrs["config"])
        done = store.done_flags(group)
        if not done.all():
            raise store.DatasetError(
                f"{self.path}: incomplete dataset ({int(done.sum())} of {len(done)} samples "
                "done); run `radarface dataset generate` again to finish it"
            )
        self.indices = (
            np.arange(self.config.n) if split == "all" else group[f"splits/{split}"][:]
        ).astype(np.int64)
        self.input = input
        self.dynamic_range_db = (float(lo), float(hi))
        self.seed = seed
        self.epoch = 0
        self.decoder_target = decoder_target
        self.items = items
        z = self.config.grid.z_m
        self.z_range_m = (float(z[0]), float(z[-1]))
        self._face_pose = torch.from_numpy(
            face_and_pose_targets(group, self.indices, self.config.kind)
        ).float()
        self._reflectance = np.stack(
            [
                group["params/material"].get_orthogonal_selection(self.indices),
                group["params/antenna_size"].get_orthogonal_selection(self.indices),
            ],
            axis=1,
        )
        self._images: tuple[torch.Tensor, torch.Tensor] | None = None
        if in_memory:
            max_db, depth = read_images(group, self.indices)
            self._images = (torch.from_numpy(max_db), torch.from_numpy(depth))
        self._group: zarr.Group | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_group": None}  # reopened lazily in DataLoader workers

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose dynamic-range draws the items use."""
        self.epoch = epoch

    def dynamic_range(self, i: int) -> float:
        """The dynamic range (dB) of item i in the current epoch."""
        lo, hi = self.dynamic_range_db
        if lo == hi:
            return lo
        rng = np.random.default_rng(
            [self.seed, self.epoch, int(self.indices[i]), _DYNAMIC_RANGE_TAG]
        )
        return float(rng.uniform(lo, hi))

    def _target(self, i: int, theta_db: float) -> torch.Tensor:
        """(26,) target of item i: face and pose, then the scaled rendering parameters."""
        rendering = P.scale_rendering(
            torch.tensor([theta_db, *self._reflectance[i]], dtype=torch.float64)
        ).float()
        return torch.cat([self._face_pose[i], rendering])

    def targets(self) -> torch.Tensor:
        """(N, 26) targets of the split in the current epoch, without reading any image."""
        return torch.stack([self._target(i, self.dynamic_range(i)) for i in range(len(self))])

    def stacked(self) -> tuple[torch.Tensor, ...]:
        """Every item of the split, stacked element by element: inputs (N, C, H, W), targets
        (N, 26)[, decoder targets (N, 1, H, W)]; renderer items: targets, decoder targets."""
        return tuple(torch.stack(x) for x in zip(*(self[i] for i in range(len(self))), strict=True))

    def images(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(H, W) max_db and depth_m of item i."""
        if self._images is not None:
            return self._images[0][i], self._images[1][i]
        if self._group is None:
            self._group = store.open_dataset(self.path)
        index = int(self.indices[i])
        with store.readable_samples(self._group, [index]):
            return (
                torch.from_numpy(self._group["images/max_db"][index]),
                torch.from_numpy(self._group["images/depth_m"][index]),
            )

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        max_db, depth_m = self.images(i)
        theta = self.dynamic_range(i)
        target = self._target(i, theta)
        if self.items == "renderer":
            return target, decoder_image(max_db, depth_m, self.z_range_m, self.decoder_target)
        image = network_input(max_db, depth_m, self.input, theta, self.z_range_m)
        if self.decoder_target is None:
            return image, target
        return image, target, decoder_image(max_db, depth_m, self.z_range_m, self.decoder_target)
