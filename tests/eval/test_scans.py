"""Faces against scans: exact closest points, rigid alignment, trimmed distances, capture sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from radarface import params as P
from radarface.eval.scans import (
    SAMPLE_SPACING_M,
    ScanSurface,
    align_rigid,
    face_scan_distances,
    name_labels,
    read_capture_set,
    trimmed_mean,
)
from radarface.facemodel import posed_vertices
from tests.conftest import bump_model


def wavy_surface(n: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """An asymmetric 8 x 8 cm height field at z ~ 25 cm (no rigid symmetry to slide along)."""
    x, y = np.meshgrid(np.linspace(-0.04, 0.04, n), np.linspace(-0.04, 0.04, n))
    z = 0.25 - 0.02 * np.exp(-((x - 0.01) ** 2 + (y + 0.005) ** 2) / 0.02**2) + 0.2 * x * y
    vertices = np.stack([x, y, z], -1).reshape(-1, 3)
    quads = [(r * n + c, r * n + c + 1, (r + 1) * n + c + 1, (r + 1) * n + c)
             for r in range(n - 1) for c in range(n - 1)]  # fmt: skip
    triangles = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    return vertices, triangles


def test_closest_points_match_a_brute_force_search() -> None:
    """An upper bound that is exact for most points near the surface and off by a small
    fraction of the sample spacing where the closest triangle is not among the candidates."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    scan = ScanSurface.from_mesh(sphere.vertices, sphere.faces)
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(300, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    points = directions * (0.04 + rng.uniform(-0.005, 0.005, (300, 1)))
    corners = np.asarray(sphere.triangles)
    every = np.stack([
        np.linalg.norm(
            trimesh.triangles.closest_point(corners, np.repeat(p[None], len(corners), 0)) - p,
            axis=1,
        ).min()
        for p in points
    ])  # fmt: skip
    dist, found, _ = scan.closest(points)
    assert np.all(dist >= every - 1e-12)
    assert np.all(dist - every <= 0.05 * SAMPLE_SPACING_M)
    assert np.mean(dist - every < 1e-12) >= 0.95
    np.testing.assert_allclose(np.linalg.norm(found - points, axis=1), dist, atol=1e-12)


def test_trimmed_mean_drops_the_farthest_share() -> None:
    assert trimmed_mean(np.array([1.0, 2.0, 3.0, 100.0]), trim=0.75) == 2.0
    assert trimmed_mean(np.array([5.0]), trim=0.1) == 5.0


def test_alignment_undoes_a_rigid_motion() -> None:
    vertices, triangles = wavy_surface()
    scan = ScanSurface.from_mesh(vertices, triangles)
    motion = trimesh.transformations.rotation_matrix(np.radians(3), [0.3, 1, 0.2], [0, 0, 0.25])
    motion[:3, 3] += [0.003, -0.002, 0.002]
    moved = trimesh.transform_points(vertices, motion)
    assert trimmed_mean(scan.closest(moved)[0]) > 1e-3
    back = trimesh.transform_points(moved, align_rigid(moved, scan))
    assert np.abs(back - vertices).max() < 1e-4


def test_face_distances_posed_and_aligned() -> None:
    """A face against its own surface is 0 mm away; against it moved 2 mm in depth it is up to
    2 mm away posed, and 0 after alignment."""
    model = bump_model()
    truth = np.zeros((2, P.N_PARAMS))
    truth[1, P.SHAPE] = [1.0, -0.5] + [0.0] * (P.N_SHAPE - 2)
    faces = posed_vertices(model, P.SceneParams.from_vector(truth))
    scans = [ScanSurface.from_mesh(f, model.triangles) for f in faces]
    found = face_scan_distances(model, truth, scans, icp_stride=1)
    np.testing.assert_allclose(found["posed"], 0.0, atol=1e-9)
    np.testing.assert_allclose(found["aligned"], 0.0, atol=1e-6)
    deeper = [ScanSurface.from_mesh(f + [0.0, 0.0, 0.002], model.triangles) for f in faces]
    found = face_scan_distances(model, truth, deeper, icp_stride=1)
    assert np.all((found["posed"] > 1.5) & (found["posed"] <= 2.0 + 1e-9)), found["posed"]
    assert np.all(found["aligned"] < 1e-3), found["aligned"]
    assert found["aligned_per_vertex"].shape == (2, model.n_vertices)


def test_name_labels_group_identity_and_expression() -> None:
    identity, expression = name_labels(["ben_smile", "anna_smile", "anna_neutral", "ben_x_y"])
    assert identity.tolist() == [1, 0, 0, 1]
    assert expression.tolist() == [1, 1, 0, 2]
    assert name_labels(["anna", "ben_smile"]) is None


def _capture_set(root: Path, captures: list[str], meshes: list[str]) -> Path:
    for folder, names, suffix in (("captures", captures, ".h5"), ("meshes", meshes, ".ply")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / folder / f"{name}{suffix}").write_bytes(b"")
    return root


@pytest.mark.parametrize(
    ("captures", "meshes", "settings", "message"),
    [
        (["a_1", "b_1"], ["a_1"], None, "b_1 has no mesh of the same name"),
        (["a_1"], ["a_1", "c_2"], None, "c_2 has no capture of the same name"),
        ([], [], None, "no captures"),
        (["a_1"], ["a_1"], "{", "not valid JSON"),
        (["a_1"], ["a_1"], '{"units": "mm"}', "unknown key 'units'"),
        (["a_1"], ["a_1"], '{"mesh_frame": "left"}', "mesh_frame one of"),
    ],
)
def test_bad_capture_sets_are_one_line(tmp_path, captures, meshes, settings, message) -> None:
    root = _capture_set(tmp_path / "set", captures, meshes)
    if settings is not None:
        (root / "captures.json").write_text(settings)
    with pytest.raises(ValueError, match=message) as err:
        read_capture_set(root)
    assert "\n" not in str(err.value)


def test_capture_set_pairs_by_name_and_reads_its_settings(tmp_path) -> None:
    root = _capture_set(tmp_path / "set", ["b_2", "a_1"], ["a_1", "b_2"])
    (root / "captures" / "a_1_emptyfiltered.npy").write_bytes(b"")  # MAROON's filtered twin
    (root / "captures.json").write_text(json.dumps({"mesh_units": "mm", "empty_filtered": True}))
    found = read_capture_set(root)
    assert found.names == ["a_1", "b_2"]
    assert [p.name for p in found.meshes] == ["a_1.ply", "b_2.ply"]
    assert (found.mesh_units, found.mesh_frame, found.empty_filtered) == ("mm", "radar", True)
