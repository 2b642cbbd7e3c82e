"""The one render path: faces, meshes and points through the same simulator and imaging."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from radarface.facemodel import sample_face_params
from radarface.radar import (
    ImagingGrid,
    RadarArray,
    SamplingConfig,
    apply_dynamic_range,
    linear_sweep,
    qar50_array,
)
from radarface.render import (
    Points,
    RenderSettings,
    face_mesh,
    render,
    render_torch,
    speckle_seed,
)
from tests.conftest import bump_model


@pytest.fixture(scope="module")
def setup() -> tuple[RadarArray, RenderSettings]:
    """Every 8th TX and RX of the QAR50 at 32 frequencies; a 16 x 16 grid of 4 mm pixels."""
    qar50 = qar50_array(linear_sweep(72e9, 82e9, 32))
    array = RadarArray(qar50.tx_m[::8], qar50.rx_m[::8], qar50.freq_hz)
    return array, RenderSettings(grid=ImagingGrid(n_x=16, n_y=16, pitch_m=4e-3))


def test_face_parameters_render_as_their_mesh(setup) -> None:
    array, settings = setup
    model = bump_model()
    params = sample_face_params(model, seed=3, index=2)
    image = render(params, array, settings, seed=3, index=2, model=model)
    mesh = render(face_mesh(model, params), array, settings, seed=3, index=2)
    assert np.array_equal(image.max_db, mesh.max_db)
    assert np.array_equal(image.peak_depth_m, mesh.peak_depth_m)
    again = render(params, array, settings, seed=3, index=2, model=model)
    assert np.array_equal(image.max_db, again.max_db)  # deterministic
    other = render(params, array, settings, seed=3, index=5, model=model)
    assert np.array_equal(image.max_db, other.max_db)  # the coherent model draws no speckle
    speckle = replace(settings, sampling=SamplingConfig(scattering="speckle"))
    one, two = (render(params, array, speckle, seed=3, index=i, model=model) for i in (2, 5))
    assert not np.array_equal(one.max_db, two.max_db)  # index picks the speckle stream
    with pytest.raises(ValueError, match="needs their face model"):
        render(params, array, settings)


def test_speckle_seeds_are_their_own_stream() -> None:
    assert speckle_seed(3, 2) == speckle_seed(3, 2)
    assert len({speckle_seed(3, 2), speckle_seed(3, 5), speckle_seed(4, 2)}) == 3


def test_a_point_renders_at_its_position(setup) -> None:
    array, settings = setup
    target = np.array([[0.006, -0.010, 0.26]])  # on a pixel centre of the 4 mm grid
    image = render(Points(target, np.array([1.0])), array, settings)
    row, col = np.unravel_index(np.argmax(image.max_db), image.max_db.shape)
    assert np.allclose([image.x_m[col], image.y_m[row]], target[0, :2], atol=1e-9)
    assert abs(image.peak_depth_m[row, col] - 0.26) < 2e-4


@pytest.mark.parametrize("scattering", ["coherent", "speckle"])
def test_torch_render_matches_and_differentiates(setup, scattering) -> None:
    array, settings = setup
    settings = replace(settings, sampling=SamplingConfig(scattering=scattering))
    model = bump_model()
    params = replace(sample_face_params(model, seed=1, index=0), material=0.3)
    reference = render(params, array, settings, seed=1, model=model)
    shape = torch.tensor(params.shape, requires_grad=True)
    as_torch = replace(
        params,
        shape=shape,
        expr=torch.tensor(params.expr),
        translation_m=torch.tensor(params.translation_m),
        rotation_rad=torch.tensor(params.rotation_rad),
    )
    max_db, depth_m = render_torch(as_torch, model, array, settings, seed=1)
    lit = reference.mask
    # render images with the factorised back-projection (0.4% RMS from the exact formula),
    # render_torch with the direct one: within 0.1 dB (1.2% in amplitude) under speckle; the
    # coherent image's glint is brighter against the rest, so its dim lit pixels are compared in
    # amplitude, within 1% of the peak (measured: 0.74%, 0.36 dB at -18 dB).
    if scattering == "speckle":
        np.testing.assert_allclose(max_db.detach().numpy()[lit], reference.max_db[lit], atol=0.1)
    else:
        amplitude_error = 10 ** (max_db.detach().numpy() / 20) - 10 ** (reference.max_db / 20)
        assert np.abs(amplitude_error[lit]).max() < 0.01
    # The brightest voxel along z may jump between two near-equal peaks in a few pixels.
    depth_error = np.abs(depth_m.detach().numpy() - reference.peak_depth_m)[lit]
    assert np.mean(depth_error < 2e-4) > 0.97
    amplitude, _, _ = apply_dynamic_range(max_db, depth_m, settings.dynamic_range_db)
    amplitude.sum().backward()
    assert (
        shape.grad is not None and torch.isfinite(shape.grad).all() and shape.grad.abs().sum() > 0
    )
