"""Radar-frame placement and its sign conventions, normals, the vertex metric, mesh export."""

import math

import numpy as np
import pytest
import torch
import trimesh

from radarface.facemodel import (
    MorphableModel,
    export_mesh,
    mean_vertex_distance_mm,
    place_in_radar_frame,
    vertex_normals,
)

# Model frame: head centre, nose tip, top of the head, subject's left cheek.
CENTRE, NOSE, TOP, LEFT = range(4)


@pytest.fixture
def head() -> MorphableModel:
    mean = np.array([[0, 0, 0], [0, 0, 0.1], [0, 0.1, 0], [0.05, 0, 0]], dtype=float)
    return MorphableModel.build(
        "head",
        mean,
        np.zeros((1, 4, 3)),
        np.zeros((1, 4, 3)),
        np.array([[0, 1, 2], [0, 3, 1]]),
        np.array([1]),
    )


def _place(head, yaw=0.0, pitch=0.0, roll=0.0, translation=(0.0, 0.0, 0.0)):
    return place_in_radar_frame(
        head, head.mean_m, np.array(translation), np.array([yaw, pitch, roll])
    )


def _gaze(v):
    d = v[NOSE] - v[CENTRE]
    return d / np.linalg.norm(d)


def test_zero_pose_faces_the_array_with_nose_at_25_cm(head):
    v = _place(head)
    np.testing.assert_allclose(v[NOSE], [0, 0, 0.25], atol=1e-7)
    np.testing.assert_allclose(_gaze(v), [0, 0, -1], atol=1e-7)  # looks towards the array
    assert v[LEFT, 0] < 0  # the subject's left is at radar -x
    assert v[TOP, 1] > 0  # up stays up
    v = _place(head, translation=(0.01, -0.02, 0.0))
    np.testing.assert_allclose(v[NOSE], [0.01, -0.02, 0.25], atol=1e-7)


def test_rotation_signs(head):
    angle = math.radians(10)
    yawed, pitched, rolled = (
        _place(head, yaw=angle),
        _place(head, pitch=angle),
        _place(head, roll=angle),
    )
    for v in (yawed, pitched, rolled):
        np.testing.assert_allclose(v[NOSE], [0, 0, 0.25], atol=1e-7)  # nose is the fixed point
    # Positive yaw turns the face towards the subject's left (radar -x).
    assert _gaze(yawed)[0] == pytest.approx(-math.sin(angle))
    assert yawed[LEFT, 2] > _place(head)[LEFT, 2]
    # Positive pitch tilts the face down.
    assert _gaze(pitched)[1] == pytest.approx(-math.sin(angle))
    # Positive roll tilts the top of the head towards the subject's right (radar +x).
    up = rolled[TOP] - rolled[CENTRE]
    assert up[0] == pytest.approx(0.1 * math.sin(angle))


def test_rotation_order_is_roll_pitch_yaw(head):
    from radarface.facemodel import rotation_matrices

    r = rotation_matrices(np.array([0.1, 0.2, 0.3]))
    expected = (
        rotation_matrices(np.array([0, 0, 0.3]))
        @ rotation_matrices(np.array([0, 0.2, 0]))
        @ rotation_matrices(np.array([0.1, 0, 0]))
    )
    np.testing.assert_allclose(r, expected, atol=1e-12)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)


def test_placement_torch_batched_matches_numpy_and_has_gradients(make_model):
    model = make_model()
    rng = np.random.default_rng(0)
    verts = model.vertices(rng.normal(size=(2, 5)), rng.normal(size=(2, 4)))
    t, r = rng.uniform(-0.05, 0.05, (2, 3)), rng.uniform(-0.2, 0.2, (2, 3))
    expected = place_in_radar_frame(model, verts, t, r)
    rt = torch.tensor(r, requires_grad=True)
    got = place_in_radar_frame(model, torch.tensor(verts, dtype=torch.float64), torch.tensor(t), rt)
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-6)
    got.sum().backward()
    assert rt.grad is not None and torch.isfinite(rt.grad).all()
    with pytest.raises(ValueError, match=r"translation_m has shape \(3,\), expected \(2, 3\)"):
        place_in_radar_frame(model, verts, t[0], r)


def test_placement_numpy_and_torch_agree_bit_for_bit_in_float32(make_model):
    # render_torch samples its scatterers on the posed mesh as render does: an ulp apart, a face
    # samples other scatterers. Models store float32 vertices; in float64, numpy's and torch's
    # cos and sin differ in the last bit now and then.
    model = make_model()
    rng = np.random.default_rng(1)
    verts = model.vertices(rng.normal(size=(64, 5)), rng.normal(size=(64, 4)))
    t, r = rng.uniform(-0.05, 0.05, (64, 3)), rng.uniform(-0.6, 0.6, (64, 3))
    expected = place_in_radar_frame(model, verts, t, r)
    got = place_in_radar_frame(model, torch.from_numpy(verts), torch.tensor(t), torch.tensor(r))
    assert expected.dtype == np.float32 and got.dtype == torch.float32
    assert np.array_equal(got.numpy(), expected)
    v64 = verts.astype(np.float64)
    got = place_in_radar_frame(model, torch.from_numpy(v64), torch.tensor(t), torch.tensor(r))
    np.testing.assert_allclose(
        got.numpy(), place_in_radar_frame(model, v64, t, r), rtol=0, atol=1e-15
    )


def test_vertex_normals_flat_grid(make_model):
    model = make_model()
    flat = model.mean_m.copy()
    flat[:, 2] = 0.0
    normals = vertex_normals(flat, model.triangles)
    np.testing.assert_allclose(normals, np.tile([0, 0, 1], (len(flat), 1)), atol=1e-6)
    curved = vertex_normals(torch.tensor(model.mean_m[None]), model.triangles)
    np.testing.assert_allclose(curved.norm(dim=-1).numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        curved[0].numpy(), vertex_normals(model.mean_m, model.triangles), atol=1e-6
    )


def test_mean_vertex_distance_known_cases():
    a = np.random.default_rng(0).normal(size=(3, 50, 3))
    b = a + np.array([0.003, 0.004, 0.0])  # 5 mm everywhere
    np.testing.assert_allclose(mean_vertex_distance_mm(a, b), [5.0, 5.0, 5.0], atol=1e-9)
    got = mean_vertex_distance_mm(torch.tensor(a[0]), torch.tensor(b[0]))
    assert float(got) == pytest.approx(5.0)
    assert mean_vertex_distance_mm(a[0], a[0]) == 0.0
    with pytest.raises(ValueError, match="equal shapes"):
        mean_vertex_distance_mm(a, b[:2])


@pytest.mark.parametrize("suffix", ["ply", "obj"])
def test_export_mesh(make_model, tmp_path, suffix):
    model = make_model()
    path = export_mesh(tmp_path / f"face.{suffix}", model.mean_m, model.triangles)
    mesh = trimesh.load(path, process=False)
    np.testing.assert_allclose(mesh.vertices, model.mean_m, atol=1e-6)
    assert len(mesh.faces) == len(model.triangles)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"face.{suffix}"]
    with pytest.raises(ValueError, match="must be .ply or .obj"):
        export_mesh(tmp_path / "face.stl", model.mean_m, model.triangles)
