"""Generation: determinism, per-sample regeneration, eval and mesh-dir sets, splits, dask."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import trimesh

from radarface.data import (
    DatasetConfig,
    build_config,
    open_dataset,
    render_sample,
    sample_mesh,
    sample_parameters,
)
from radarface.data import generate as G
from radarface.data.store import done_flags, split_indices
from radarface.facemodel import load_face_model, sample_face_params
from radarface.params import sample_rendering


def _images(path: Path) -> dict[str, np.ndarray]:
    group = open_dataset(path)
    return {name: group[f"images/{name}"][:] for name in ("max_db", "depth_m", "mask")}


def test_samples_come_from_their_own_streams(tiny, tiny_dataset: Path) -> None:
    group = open_dataset(tiny_dataset)
    config = DatasetConfig.from_json(group.attrs["config"])
    model = load_face_model(tiny.model_path)
    assert config.to_json() == tiny.config(n=12, seed=5, n_val=3).to_json()
    assert done_flags(group).all() and (config.n_shape, config.n_expr) == (12, 8)
    for i in (0, 7):
        face = sample_face_params(model, 5, i)
        assert np.array_equal(group["params/shape"][i], face.shape)
        assert np.array_equal(group["params/expr"][i], face.expr)
        assert np.array_equal(group["params/translation_m"][i], face.translation_m)
        assert np.array_equal(group["params/rotation_rad"][i], face.rotation_rad)
        assert group["params/material"][i] == sample_rendering(5, i)[0]
        assert group["params/antenna_size"][i] == sample_rendering(5, i)[1]


def test_a_sample_regenerated_alone_is_identical(tiny, tiny_dataset: Path) -> None:
    group = open_dataset(tiny_dataset)
    config = DatasetConfig.from_json(group.attrs["config"])
    _, sample = render_sample(config, 9, load_face_model(tiny.model_path))
    assert sample.max_db.dtype == np.float32 and sample.max_db.shape == (16, 16)
    assert sample.max_db.max() == 0 and sample.mask.any() and not sample.mask.all()
    assert np.array_equal(group["images/max_db"][9], sample.max_db)
    assert np.array_equal(group["images/depth_m"][9], sample.peak_depth_m)
    assert np.array_equal(group["images/mask"][9], sample.mask)
    assert np.all(np.isfinite(sample.peak_depth_m))  # depth is stored for every pixel
    assert not np.array_equal(group["images/max_db"][8], sample.max_db)


def test_a_complete_dataset_has_nothing_to_do(tiny, tiny_dataset: Path) -> None:
    before = _images(tiny_dataset)
    report = G.generate_dataset(
        tiny_dataset, tiny.config(n=12, seed=5, n_val=3), tiny.model_path, progress=False
    )
    assert report.rendered == 0 and "nothing to do" in report.summary()
    after = _images(tiny_dataset)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_splits_are_seeded_disjoint_and_sized() -> None:
    s = split_indices(10_000, 1500, seed=0)
    assert (len(s["train"]), len(s["val"])) == (8500, 1500)
    assert np.array_equal(np.union1d(s["train"], s["val"]), np.arange(10_000))
    assert np.array_equal(split_indices(10_000, 1500, 0)["val"], s["val"])
    assert not np.array_equal(split_indices(10_000, 1500, 1)["val"], s["val"])
    with pytest.raises(ValueError, match="validation split"):
        split_indices(10, 11, 0)


def test_default_split_is_15_percent(tiny, tiny_dataset: Path) -> None:
    assert tiny.config(n=10_000).n_val == 1500 and tiny.config(n=10_000).n == 10_000
    assert tiny.config(n=20, split_seed=4).split_seed == 4
    group = open_dataset(tiny_dataset)
    train, val = group["splits/train"][:], group["splits/val"][:]
    assert (len(train), len(val)) == (9, 3) and not set(train) & set(val)


def test_eval_set_shares_identities_and_expressions(tiny) -> None:
    config = tiny.config(kind="eval", seed=1)
    neutral = tiny.config(kind="eval", seed=1, pose="neutral")
    assert config.n == 50 and config.n_val == 0
    model = load_face_model(tiny.model_path)
    p = [sample_parameters(config, k, model) for k in range(config.n)]
    assert np.array_equal(p[5].shape, p[9].shape) and not np.array_equal(p[5].shape, p[10].shape)
    assert not p[0].expr.any() and not p[45].expr.any()  # expression 0 is neutral
    assert np.array_equal(p[7].expr, p[47].expr) and not np.array_equal(p[7].expr, p[8].expr)
    assert p[3].rotation_rad.any()
    q = sample_parameters(neutral, 3, model)
    assert not q.rotation_rad.any() and not q.translation_m.any()
    assert np.array_equal(q.shape, p[3].shape) and np.array_equal(q.expr, p[3].expr)
    with pytest.raises(ValueError, match="50 samples"):
        tiny.config(kind="eval", n=20)


def test_mesh_dir_set_images_every_mesh(tiny, tmp_path: Path) -> None:
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    plate = np.array([[-20, -20, 250], [20, -20, 250], [20, 20, 260], [-20, 20, 260.0]])
    for k, name in enumerate(("b.ply", "a.stl", "c.obj")):
        trimesh.Trimesh(plate + [0, 0, 10 * k], [[0, 1, 2], [0, 2, 3]]).export(meshes / name)
    (meshes / "notes.txt").write_text("not a mesh")
    config = build_config(
        array=tiny.array, grid=tiny.grid, mesh_dir=meshes, mesh_units="mm", seed=2
    )
    assert config.kind == "mesh-dir" and config.mesh_files == ("a.stl", "b.ply", "c.obj")
    G.generate_dataset(tmp_path / "ds", config, workers=1, progress=False)
    group = open_dataset(tmp_path / "ds")
    assert done_flags(group).all() and group["params/shape"].shape == (3, 0)
    depth = group["images/depth_m"][:][group["images/max_db"][:] == 0]
    assert np.allclose(depth, [0.26, 0.25, 0.27], atol=0.01)  # a.stl is 1 cm further
    with pytest.raises(ValueError, match="mesh files"):
        build_config(array=tiny.array, grid=tiny.grid, mesh_dir=meshes, n=5)


def test_mesh_dir_in_maroon_frame(tiny, tmp_path: Path) -> None:
    """--mesh-frame maroon: meshes registered to MAROON captures are mirrored into the radar
    frame."""
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    vertices = np.array([[10, -20, 250], [30, -20, 250], [30, 20, 260.0]])  # mm, MAROON frame
    trimesh.Trimesh(vertices, [[0, 1, 2]], process=False).export(meshes / "scan.ply")
    common = {"array": tiny.array, "grid": tiny.grid, "mesh_dir": meshes, "mesh_units": "mm"}
    radar, maroon = build_config(**common), build_config(**common, mesh_frame="maroon")
    assert radar.to_json()["mesh_frame"] is None  # older sets (no mesh_frame) resume unchanged
    assert DatasetConfig.from_json(maroon.to_json()).mesh_frame == maroon.mesh_frame == "maroon"
    params = sample_parameters(maroon, 0)
    mesh = sample_mesh(maroon, 0, params, None)
    np.testing.assert_allclose(mesh.vertices_m, vertices * [-1e-3, 1e-3, 1e-3])
    np.testing.assert_array_equal(mesh.triangles, [[2, 1, 0]])  # normals still face the array
    np.testing.assert_allclose(sample_mesh(radar, 0, params, None).vertices_m, vertices * 1e-3)
    with pytest.raises(ValueError, match="unknown mesh frame 'opencv'"):
        build_config(**common, mesh_frame="opencv")


def test_dask_path_matches_local(tiny, tiny_dataset: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    config = tiny.config(n=12, seed=5, n_val=3)
    out = shutil.copytree(tiny_dataset, tmp_path / "dask")
    group = open_dataset(out, mode="r+")
    group["done"][:] = np.array([1, 0, 1, 0] + [1] * 8, dtype=np.uint8)  # two samples to do
    group["images/max_db"][1] = 0.0
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster:
        report = G.generate_dataset(
            out, config, tiny.model_path, scheduler=cluster.scheduler_address, progress=False
        )
    assert report.rendered == 2 and done_flags(open_dataset(out)).all()
    reference, got = _images(tiny_dataset), _images(out)
    assert all(np.array_equal(reference[k], got[k]) for k in reference)


def test_datasets_from_before_the_scattering_setting_load_as_speckle(tiny_dataset: Path) -> None:
    stored = open_dataset(tiny_dataset).attrs["config"]
    assert DatasetConfig.from_json(stored).sampling.scattering == "coherent"
    old = {**stored, "sampling": {k: v for k, v in stored["sampling"].items() if k != "scattering"}}
    for key in ("facet_edge_m", "facet_integral"):
        old["sampling"].pop(key)
    config = DatasetConfig.from_json(old)
    assert config.sampling.scattering == "speckle"  # they were made with random phases
    assert config.sampling.spacing_m == stored["sampling"]["spacing_m"]


def test_datasets_from_before_the_facet_integral_load_as_gaussian(tiny_dataset: Path) -> None:
    stored = open_dataset(tiny_dataset).attrs["config"]
    assert DatasetConfig.from_json(stored).sampling.facet_integral == "exact"
    revision_4 = {**stored, "sampling": {**stored["sampling"], "facet_edge_m": 4e-3}}
    revision_4["sampling"].pop("facet_integral")
    sampling = DatasetConfig.from_json(revision_4).sampling
    assert (sampling.facet_integral, sampling.facet_edge_used_m) == ("gaussian", 4e-3)


def test_noisy_set_adds_noise_at_its_snr_and_old_sets_load_noiseless(
    tiny, tiny_dataset: Path
) -> None:
    stored = open_dataset(tiny_dataset).attrs["config"]
    clean = DatasetConfig.from_json({k: v for k, v in stored.items() if k != "snr_db"})
    assert clean.snr_db is None  # sets from before the option had no noise
    model = load_face_model(tiny.model_path)
    images = {}
    for snr_db in (None, 20.0, 0.0):
        config = tiny.config(n=12, seed=5, n_val=3, snr_db=snr_db)
        images[snr_db] = render_sample(config, 4, model)[1]
    assert np.array_equal(images[None].max_db, _images(tiny_dataset)["max_db"][4])
    # The noise raises the floor of the image (its dim pixels): more at 0 dB than at 20 dB.
    floors = {k: np.median(image.max_db) for k, image in images.items()}
    assert floors[None] < floors[20.0] < floors[0.0]
    again = render_sample(tiny.config(n=12, seed=5, n_val=3, snr_db=20.0), 4, model)[1]
    assert np.array_equal(again.max_db, images[20.0].max_db)  # seeded per sample
    with pytest.raises(ValueError, match="--snr-db must be a finite number"):
        tiny.config(n=12, seed=5, snr_db=float("nan"))
