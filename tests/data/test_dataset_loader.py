"""RadarFaceDataset: splits, input modes, value ranges, targets, sampled dynamic range."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from radarface import params as P
from radarface.data import (
    DatasetError,
    RadarFaceDataset,
    decoder_image,
    generate_dataset,
    network_input,
    open_dataset,
)


def test_splits(tiny_dataset: Path) -> None:
    sizes = {s: len(RadarFaceDataset(tiny_dataset, s)) for s in ("train", "val", "all")}
    assert sizes == {"train": 9, "val": 3, "all": 12}
    train, val = (RadarFaceDataset(tiny_dataset, s).indices for s in ("train", "val"))
    assert sorted([*train, *val]) == list(range(12))
    with pytest.raises(ValueError, match="unknown split"):
        RadarFaceDataset(tiny_dataset, "test")


@pytest.mark.parametrize("mode, channels", [("amplitude", 1), ("depth", 1), ("amplitude-depth", 2)])
def test_inputs_and_targets(tiny_dataset: Path, mode: str, channels: int) -> None:
    ds = RadarFaceDataset(tiny_dataset, "all", input=mode)
    group = open_dataset(tiny_dataset)
    image, target = ds[4]
    assert image.shape == (channels, 16, 16) and image.dtype == torch.float32
    assert target.shape == (26,) and target.dtype == torch.float32
    assert image.min() >= 0 and image.max() <= 1
    mask = torch.from_numpy(group["images/max_db"][4] >= -20.0)
    if mode != "depth":
        assert image[0].max() == 1 and (image[0] == 0).any()
    if mode != "amplitude":
        depth = image[-1]
        assert (depth[~mask] == 0).all() and (depth[mask] > 0).all()
        z = torch.from_numpy(group["images/depth_m"][4])[mask]
        assert torch.allclose(depth[mask], (0.36 - z) / (0.36 - 0.225), atol=1e-6)
    assert torch.allclose(target[P.SHAPE].double(), torch.from_numpy(group["params/shape"][4][:10]))
    assert torch.allclose(
        target[P.EXPRESSION].double(), torch.from_numpy(group["params/expr"][4][:7])
    )
    unit = P.pose_to_unit(group["params/translation_m"][4:5], group["params/rotation_rad"][4:5])[0]
    assert torch.allclose(target[P.POSE].double(), torch.from_numpy(unit), atol=1e-6)
    assert target[P.POSE].abs().max() <= 1 and target[P.RENDERING].abs().max() <= 1
    physical = P.unscale_rendering(target[P.RENDERING])
    assert torch.allclose(physical[0], torch.tensor(20.0))
    assert torch.allclose(physical[1], torch.tensor(group["params/material"][4]).float())


def test_stacked_equals_the_items(tiny_dataset: Path) -> None:
    ds = RadarFaceDataset(tiny_dataset, "val", "amplitude-depth", decoder_target="depth")
    stacked = ds.stacked()
    assert [x.shape[0] for x in stacked] == [3, 3, 3]
    for i in range(len(ds)):
        for whole, item in zip(stacked, ds[i], strict=True):
            assert torch.equal(whole[i], item)
    assert torch.equal(ds.targets(), stacked[1])


def test_renderer_items_read_the_decoder_image_once(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kwargs = {"dynamic_range_db": P.DECODER_DYNAMIC_RANGE_DB, "decoder_target": "depth"}
    full = RadarFaceDataset(tiny_dataset, "val", **kwargs)
    renderer = RadarFaceDataset(tiny_dataset, "val", items="renderer", **kwargs)
    calls = []

    def spy(*args: object) -> torch.Tensor:
        calls.append(args[2])
        return network_input(*args)

    monkeypatch.setattr("radarface.data.dataset.network_input", spy)
    params, image = renderer[1]
    assert calls == ["depth"]
    _, want_params, want_image = full[1]
    assert torch.equal(params, want_params) and torch.equal(image, want_image)
    with pytest.raises(ValueError, match="renderer items need a decoder target"):
        RadarFaceDataset(tiny_dataset, "val", items="renderer")
    with pytest.raises(ValueError, match="unknown items"):
        RadarFaceDataset(tiny_dataset, "val", items="params")


def test_sampled_dynamic_range_is_seeded_per_item_and_epoch(tiny_dataset: Path) -> None:
    ds = RadarFaceDataset(tiny_dataset, "train", dynamic_range_db=(15.0, 30.0), seed=1)
    thetas = [ds.dynamic_range(i) for i in range(len(ds))]
    assert all(15 <= t <= 30 for t in thetas) and len(set(thetas)) == len(ds)
    again = RadarFaceDataset(tiny_dataset, "train", dynamic_range_db=(15.0, 30.0), seed=1)
    assert [again.dynamic_range(i) for i in range(len(ds))] == thetas
    image, target = ds[2]
    assert torch.isclose(P.unscale_rendering(target[P.RENDERING])[0], torch.tensor(thetas[2]))
    fixed = RadarFaceDataset(tiny_dataset, "train", dynamic_range_db=thetas[2])
    assert torch.equal(fixed[2][0], image)
    ds.set_epoch(1)
    assert ds.dynamic_range(2) != thetas[2]


def test_on_demand_loading_and_batches(tiny_dataset: Path) -> None:
    kwargs = {"input": "amplitude-depth", "decoder_target": "amplitude"}
    in_memory = RadarFaceDataset(tiny_dataset, "val", **kwargs)
    lazy = RadarFaceDataset(tiny_dataset, "val", in_memory=False, **kwargs)
    for a, b in zip(in_memory[1], lazy[1], strict=True):
        assert torch.equal(a, b)
    max_db, depth = in_memory.images(1)
    assert torch.equal(in_memory[1][2], decoder_image(max_db, depth, in_memory.z_range_m))
    assert torch.equal(in_memory[1][2][0], ((max_db + 15) / 15).clamp(0, 1))
    image, target, recon = next(iter(DataLoader(lazy, batch_size=3)))
    assert (
        image.shape == (3, 2, 16, 16) and target.shape == (3, 26) and recon.shape == (3, 1, 16, 16)
    )


def test_incomplete_dataset_and_fewer_coefficients(
    tiny, tiny_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "few"
    config = tiny.config(n=2, seed=5, n_shape=3, n_expr=0, n_val=0)
    generate_dataset(out, config, tiny.model_path, workers=1, progress=False)
    target = RadarFaceDataset(out, "all")[1][1]
    assert target[3:17].eq(0).all() and target[:3].ne(0).all()
    partial = shutil.copytree(tiny_dataset, tmp_path / "partial")
    open_dataset(partial, mode="r+")["done"][5] = 0
    with pytest.raises(DatasetError, match="incomplete dataset \\(11 of 12"):
        RadarFaceDataset(partial)
