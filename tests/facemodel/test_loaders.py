"""Loaders: BFM 2019 h5 (formats 0.8 and 0.9), ICT-FaceKit npz and checkout, dispatch."""

import numpy as np
import pytest

from radarface.facemodel import (
    load_bfm2019,
    load_face_model,
    load_ict_checkout,
    load_ict_npz,
    loaders,
    save_model,
)
from radarface.facemodel.loaders import expression_pca, sample_blendshape_weights


def test_bfm_orthonormal_and_prescaled_layouts_agree(write_bfm, tmp_path):
    new = load_bfm2019(write_bfm(tmp_path / "new.h5", minor_version=9))
    old = load_bfm2019(write_bfm(tmp_path / "old.h5", minor_version=8))
    for field in ("mean_m", "shape_basis_m", "expr_basis_m"):
        np.testing.assert_allclose(getattr(new, field), getattr(old, field), atol=1e-7)
    assert new.content_hash == old.content_hash
    assert (new.n_vertices, new.n_shape, new.n_expr, len(new.triangles)) == (20, 4, 3, 24)
    # Variances 25 * (16, 9, 4, 1) mm^2 -> basis norms in metres.
    norms = np.sqrt(np.square(new.shape_basis_m.astype(float)).sum((1, 2)))
    np.testing.assert_allclose(norms, 5e-3 * np.array([4, 3, 2, 1]), rtol=1e-5)
    assert new.landmarks.tolist() == [7, 3]
    assert new.metadata["landmark_names"] == ["center.nose.tip", "left.eye.corner_outer"]
    assert np.abs(new.mean_m).max() < 0.1  # metres, not millimetres


@pytest.mark.parametrize(
    "key",
    [
        "shape/model/pcaVariance",
        "expression/model/mean",
        "shape/representer/cells",
        "version/minorVersion",
    ],
)
def test_bfm_missing_key_is_named(write_bfm, tmp_path, key):
    path = write_bfm(tmp_path / "broken.h5", skip=key)
    with pytest.raises(ValueError, match=f"broken.h5: missing key '{key}'"):
        load_bfm2019(path)


def test_bfm_wrong_shape_and_missing_file(write_bfm, tmp_path):
    import h5py

    path = write_bfm(tmp_path / "bad.h5")
    with h5py.File(path, "a") as f:
        del f["expression/model/mean"]
        f.create_dataset("expression/model/mean", data=np.zeros(7))
    with pytest.raises(ValueError, match=r"expression/model/mean has shape \(7,\)"):
        load_bfm2019(path)
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        load_face_model(tmp_path / "absent.h5")


def test_ict_checkout_regions(write_ict_checkout, tmp_path):
    root = write_ict_checkout(tmp_path / "ICT-FaceKit")
    face = load_face_model(root)
    assert face.name == "ict-facekit:face"
    assert (face.n_vertices, len(face.triangles), face.n_shape) == (15, 16, 3)
    assert face.blendshapes_m.shape == (53, 15, 3) and face.landmarks.tolist() == [7, 2]
    assert 1 <= face.n_expr <= 50
    narrow = load_ict_checkout(root, "narrow-face")
    assert (narrow.n_vertices, len(narrow.triangles)) == (10, 8)
    assert load_ict_checkout(root, "face and neck").n_vertices == 20
    with pytest.raises(ValueError, match="unknown region 'chin'"):
        load_ict_checkout(root, "chin")


def test_ict_checkout_missing_expression_file(write_ict_checkout, tmp_path):
    root = write_ict_checkout(tmp_path / "ICT-FaceKit")
    (root / "FaceXModel" / "jawOpen.obj").unlink()
    with pytest.raises(FileNotFoundError, match="jawOpen.obj"):
        load_face_model(root)


def test_blendshape_weights_reproduce_pca_mean(write_ict_checkout, tmp_path):
    model = load_face_model(write_ict_checkout(tmp_path / "ICT-FaceKit"))
    weights = model.blendshape_mean_weights[None]
    np.testing.assert_allclose(
        model.blendshape_vertices(np.zeros((1, 0)), weights)[0], model.mean_m, atol=1e-7
    )
    jaw = np.zeros(53)
    jaw[model.blendshape_names.index("jawOpen")] = 1.0
    np.testing.assert_allclose(
        model.blendshape_vertices(np.zeros(0), jaw)
        - model.blendshape_vertices(np.zeros(0), 0 * jaw),
        model.blendshapes_m[model.blendshape_names.index("jawOpen")],
        atol=1e-6,
    )


def test_blendshape_activations_are_sparse_and_paired():
    names = ("browDown_L", "browDown_R", "jawLeft", "jawRight", "jawOpen")
    w = sample_blendshape_weights(names, 20000, seed=0)
    assert w.min() >= 0 and w.max() <= 1
    assert 0.2 < (w[:, 4] > 0).mean() < 0.4
    assert not np.any((w[:, 2] > 0) & (w[:, 3] > 0))  # jaw left and right exclude each other
    assert np.corrcoef(w[:, 0], w[:, 1])[0, 1] > 0.6


def test_expression_pca_is_exact_pca_of_random_activations():
    rng = np.random.default_rng(3)
    names = ("a_L", "a_R", "b", "c")
    deltas = rng.normal(size=(4, 6, 3))
    mean, basis, mean_w = expression_pca(deltas, names)
    w = sample_blendshape_weights(names, 50_000, seed=20240601)
    x = w @ deltas.reshape(4, -1)
    np.testing.assert_allclose(mean.reshape(-1), x.mean(0), atol=1e-10)
    cov = np.cov(x, rowvar=False)
    flat = basis.reshape(len(basis), -1)
    np.testing.assert_allclose(flat.T @ flat, cov, atol=1e-8)


def test_dispatch_errors(make_model, tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="neither a radarface face model npz"):
        load_face_model(tmp_path / "other.npz")
    (tmp_path / "model.ply").write_text("")
    with pytest.raises(ValueError, match="unsupported face model"):
        load_face_model(tmp_path / "model.ply")
    path = save_model(make_model(), tmp_path / "ours.npz")
    assert load_face_model(path).name == "tiny"
    with pytest.raises(ValueError, match="region applies only to ICT"):
        load_face_model(path, region="face")


def test_ict_compact_npz(ict_npz):
    model = load_ict_npz(ict_npz)
    assert (model.n_vertices, model.n_shape, model.n_expr) == (9409, 100, 50)
    assert len(model.triangles) == 2 * 9230 and len(model.landmarks) == 68
    nose = model.mean_m[model.nose_tip_index]
    assert abs(nose[0]) < 2e-3 and 0.12 < nose[2] < 0.14  # metres, on the mid-plane
    assert model.metadata["expr_variance_share_first_7"] > 0.8
    assert load_face_model(ict_npz, "narrow face").n_vertices == 6706


def test_a_converted_model_is_cached_by_the_files_bytes(write_bfm, tmp_path, monkeypatch):
    """The second load of a BFM (or ICT) file reads radarface's npz from the user cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = write_bfm(tmp_path / "model.h5")
    first = load_face_model(path)
    cached = list((tmp_path / "cache" / "radarface" / "converted").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".npz"

    def no_conversion(*args):
        raise AssertionError("converted again")

    real = loaders._load_any
    monkeypatch.setattr(loaders, "_load_any", no_conversion)
    again = load_face_model(path)
    assert again.content_hash == first.content_hash
    np.testing.assert_array_equal(again.shape_basis_m, first.shape_basis_m)
    write_bfm(path, minor_version=8)  # other bytes: converted anew
    with pytest.raises(AssertionError, match="converted again"):
        load_face_model(path)
    monkeypatch.setattr(loaders, "_load_any", real)
    cached[0].write_bytes(b"damaged")  # a damaged cache entry is converted again
    path.unlink()
    write_bfm(path)
    assert load_face_model(path).content_hash == first.content_hash


def test_a_model_with_infinite_values_is_refused_before_its_pca(write_ict_checkout, tmp_path):
    checkout = write_ict_checkout(tmp_path / "ict")
    obj = next(checkout.rglob("generic_neutral_mesh.obj"))
    lines = obj.read_text().splitlines()
    first_vertex = next(i for i, line in enumerate(lines) if line.startswith("v "))
    lines[first_vertex] = "v inf 0 0"
    obj.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="NaN or infinite values"):
        load_face_model(checkout)
