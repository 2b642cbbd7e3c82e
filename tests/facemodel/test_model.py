"""MorphableModel: vertices for numpy and torch, validation, hashing, the npz round trip."""

import numpy as np
import pytest
import torch

from radarface.facemodel import MorphableModel, load_model, save_model


def test_vertices_numpy_batched_and_unbatched(make_model):
    model = make_model()
    shape, expr = np.ones((2, 3)), np.full((2, 4), -0.5)
    v = model.vertices(shape, expr)
    expected = model.mean_m + model.shape_basis_m[:3].sum(0) - 0.5 * model.expr_basis_m.sum(0)
    assert v.shape == (2, model.n_vertices, 3) and v.dtype == np.float32
    np.testing.assert_allclose(v[1], expected, atol=1e-6)
    np.testing.assert_allclose(model.vertices(shape[0], expr[0]), v[0], atol=1e-7)
    np.testing.assert_array_equal(model.vertices(np.zeros(0), np.zeros(0)), model.mean_m)


def test_vertices_torch_matches_numpy_and_is_differentiable(make_model):
    model = make_model()
    rng = np.random.default_rng(0)
    shape, expr = rng.normal(size=(3, 5)), rng.normal(size=(3, 2))
    s = torch.tensor(shape, dtype=torch.float64, requires_grad=True)
    v = model.vertices(s, torch.tensor(expr))
    assert isinstance(v, torch.Tensor) and v.dtype == torch.float64
    np.testing.assert_allclose(v.detach().numpy(), model.vertices(shape, expr), atol=1e-6)
    v.sum().backward()
    np.testing.assert_allclose(s.grad[0].numpy(), model.shape_basis_m.sum((1, 2)), rtol=1e-5)


@pytest.mark.parametrize(
    ("shape", "expr", "message"),
    [
        (np.zeros(6), np.zeros(4), "shape_coeffs has 6 components but face model 'tiny' has 5"),
        (np.zeros((2, 5)), np.zeros(4), "must all be"),
        (np.zeros((2, 5)), np.zeros((3, 4)), "batch sizes differ"),
        (np.array([np.nan, 0.0]), np.zeros(1), "shape_coeffs contains NaN"),
        (np.zeros(2), np.array([np.inf]), "expr_coeffs contains NaN"),
    ],
)
def test_vertices_rejects_bad_coefficients(make_model, shape, expr, message):
    with pytest.raises(ValueError, match=message):
        make_model().vertices(shape, expr)


def test_build_rejects_wrong_shapes(make_model):
    model = make_model()
    with pytest.raises(ValueError, match=r"expr_basis_m has shape \(2, 3, 3\)"):
        MorphableModel.build(
            "bad",
            model.mean_m,
            model.shape_basis_m,
            np.zeros((2, 3, 3)),
            model.triangles,
            model.landmarks,
        )
    with pytest.raises(ValueError, match="triangles index out of range"):
        MorphableModel.build(
            "bad",
            model.mean_m,
            model.shape_basis_m,
            model.expr_basis_m,
            model.triangles + 100,
            model.landmarks,
        )


def test_properties_hash_and_variance_shares(make_model):
    model = make_model()
    assert (model.n_vertices, model.n_shape, model.n_expr) == (20, 5, 4)
    assert model.nose_tip_index == int(np.argmax(model.mean_m[:, 2]))
    assert model.content_hash == make_model().content_hash != make_model(seed=1).content_hash
    assert 0 < model.metadata["shape_variance_share_first_10"] == pytest.approx(1.0)
    assert model.summary()["n_triangles"] == len(model.triangles)


def test_save_load_round_trip_without_pickle(make_model, tmp_path):
    model = make_model()
    path = save_model(model, tmp_path / "m.npz")
    loaded = load_model(path)
    assert loaded.content_hash == model.content_hash and loaded.name == model.name
    np.testing.assert_array_equal(loaded.expr_basis_m, model.expr_basis_m)
    with np.load(path, allow_pickle=False) as data:
        assert "metadata_json" in data.files
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_load_model_detects_corruption_and_missing_keys(make_model, tmp_path):
    model = make_model()
    path = save_model(model, tmp_path / "m.npz")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["mean_m"] = arrays["mean_m"] + 1.0
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(ValueError, match="content hash mismatch"):
        load_model(tmp_path / "edited.npz")
    del arrays["expr_basis_m"]
    np.savez(tmp_path / "missing.npz", **arrays)
    with pytest.raises(ValueError, match=r"missing.npz: missing key 'expr_basis_m'"):
        load_model(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        load_model(tmp_path / "nowhere.npz")
