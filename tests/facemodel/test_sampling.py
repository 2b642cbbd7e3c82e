"""Sampling faces and poses (paper section 3.2) and the [-1, 1] pose scaling."""

import math

import numpy as np
import pytest
import torch

from radarface.facemodel import sample_face_params, sample_params
from radarface.params import pose_to_unit, unit_to_pose


def test_each_sample_regenerates_alone(make_model):
    model = make_model()
    params = sample_params(model, 6, seed=3)
    one = sample_face_params(model, seed=3, index=4)
    for field in ("shape", "expr", "translation_m", "rotation_rad"):
        np.testing.assert_array_equal(getattr(params, field)[4], getattr(one, field))
    assert len(params) == 6 and params.shape.shape == (6, 5) and params.expr.shape == (6, 4)
    assert not np.array_equal(params.shape, sample_params(model, 6, seed=4).shape)
    assert sample_face_params(model, 0, 0, n_shape=2, n_expr=0).shape.shape == (2,)
    with pytest.raises(ValueError, match="n_shape=9 is outside"):
        sample_face_params(model, 0, 0, n_shape=9)


def test_pose_ranges(make_model):
    params = sample_params(make_model(), 400, seed=0)
    t, r = params.translation_m, params.rotation_rad
    assert np.all(np.abs(t[:, :2]) <= 0.05) and np.all(t[:, 2] == 0)
    assert np.abs(t[:, :2]).max() > 0.045
    limits = np.radians([5.0, 10.0, 10.0])
    assert np.all(np.abs(r) <= limits) and np.all(np.abs(r).max(0) > 0.9 * limits)


def test_per_vertex_variance_matches_model(make_model):
    model = make_model()
    params = sample_params(model, 3000, seed=1)
    verts = model.vertices(params.shape, params.expr).astype(np.float64)
    expected = np.square(model.shape_basis_m).sum(0) + np.square(model.expr_basis_m).sum(0)
    np.testing.assert_allclose(verts.var(0), expected, rtol=0.12)
    np.testing.assert_allclose(verts.mean(0), model.mean_m, atol=4 * np.sqrt(expected.max() / 3000))


def test_pose_unit_round_trip_numpy_and_torch():
    t = np.array([[0.05, -0.025, 0.0], [0.0, 0.05, 0.0]])
    r = np.radians([[5.0, -10.0, 10.0], [-2.5, 0.0, 5.0]])
    unit = pose_to_unit(t, r)
    np.testing.assert_allclose(unit, [[1, -0.5, 0, 1, -1, 1], [0, 1, 0, -0.5, 0, 0.5]])
    t2, r2 = unit_to_pose(unit)
    np.testing.assert_allclose(t2, t)
    np.testing.assert_allclose(r2, r)
    unit_t = pose_to_unit(torch.tensor(t), torch.tensor(r))
    np.testing.assert_allclose(unit_t.numpy(), unit)
    back_t, back_r = unit_to_pose(torch.ones(1, 6))
    np.testing.assert_allclose(back_t.numpy(), [[0.05, 0.05, 0.0]])
    np.testing.assert_allclose(back_r.numpy(), np.radians([[5.0, 10.0, 10.0]]))
    # A z translation has no unit coordinate: it maps to 0 and comes back as 0.
    assert pose_to_unit(np.array([[0, 0, 0.1]]), np.zeros((1, 3)))[0, 2] == 0
    assert math.isclose(float(unit_to_pose(np.full((1, 6), 0.5))[0][0, 2]), 0.0)
    with pytest.raises(ValueError, match="unit pose must be"):
        unit_to_pose(np.zeros((1, 5)))
