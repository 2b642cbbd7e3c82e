"""The numba simulator's hand-written adjoint against autograd and finite differences."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from common import rel_rms, sphere_cap

from radarface.radar import (
    Reflectance,
    SamplingConfig,
    mesh_scatterers,
    scatterers_from_vertices,
    simulate_scatterers_adjoint,
    simulate_scatterers_reference,
    simulate_scatterers_torch,
)

REFLECTANCE = Reflectance(material=0.5, antenna_size=0.25)
GAUSSIAN = "gaussian"  # the facet integral the adjoint differentiates


def _probe(array, seed: int = 0) -> torch.Tensor:
    """A random complex weight y (n_tx, n_rx, n_freq): the loss is Re <y, S>."""
    rng = np.random.default_rng(seed)
    shape = (array.n_tx, array.n_rx, array.n_freq)
    return torch.from_numpy(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def _loss(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.real(torch.sum(y.conj().to(s.dtype) * s))


@pytest.mark.parametrize("scattering", ["coherent", "speckle"])
def test_adjoint_matches_autograd_of_the_torch_simulator(sparse_qar50, scattering) -> None:
    # The same model, gradients through points, normals, areas and facet moments (all of which
    # move with the vertices of a curved cap) by the numba adjoint and by torch's autograd.
    vertices, faces = sphere_cap(7)
    sampling = SamplingConfig(spacing_m=4e-3, scattering=scattering, facet_integral=GAUSSIAN)
    sc = mesh_scatterers(sparse_qar50, vertices, faces, sampling, np.random.default_rng(3))
    y = _probe(sparse_qar50)
    results = []
    for simulate in (simulate_scatterers_adjoint, simulate_scatterers_torch):
        v = torch.tensor(vertices, requires_grad=True)
        s = simulate(sparse_qar50, scatterers_from_vertices(v, faces, sc), REFLECTANCE, 1e-3)
        _loss(s, y).backward()
        results.append((s.detach().numpy(), v.grad.numpy()))
    (s_adjoint, g_adjoint), (s_torch, g_torch) = results
    assert rel_rms(s_adjoint, s_torch) < 1e-3
    assert np.abs(g_torch).max() > 0
    assert rel_rms(g_adjoint, g_torch) < 1e-3


@pytest.mark.parametrize("scattering", ["coherent", "speckle"])
def test_adjoint_matches_finite_differences_of_the_exact_sum(
    sparse_qar50, make_plate, scattering
) -> None:
    # d Re <y, S> / d(points, normals, areas, moments) against central differences of the
    # float64 triple sum, on a tilted plate (specular and diffuse terms both lit).
    vertices, faces = make_plate(0.03, (0.01, -0.01, 0.26), tilt_deg=8.0)
    sampling = SamplingConfig(
        spacing_m=6e-3, scattering=scattering, facet_edge_m=8e-3, facet_integral=GAUSSIAN
    )
    sc = mesh_scatterers(sparse_qar50, vertices, faces, sampling, np.random.default_rng(1))
    y = _probe(sparse_qar50)
    names = ["points_m", "normals", "area_m2"] + (["facet_moment_m2"] * (scattering == "coherent"))
    tensors = {name: torch.tensor(getattr(sc, name), requires_grad=True) for name in names}
    moved = dataclasses.replace(sc, **tensors)
    s = simulate_scatterers_adjoint(sparse_qar50, moved, REFLECTANCE, 1e-12)
    _loss(s, y).backward()

    def exact(name: str, value: np.ndarray) -> float:
        moved = dataclasses.replace(sc, **{name: value})
        s = simulate_scatterers_reference(sparse_qar50, moved, REFLECTANCE)
        return float(np.real(np.vdot(y.numpy(), s)))

    rng = np.random.default_rng(2)
    for name in names:
        value = getattr(sc, name)
        step = 1e-7 * max(1.0, float(np.abs(value).max()) / 1e-3)
        picks = rng.choice(value.size, size=min(value.size, 12), replace=False)
        numeric, analytic = [], []
        for flat in picks:
            index = np.unravel_index(flat, value.shape)
            plus, minus = value.copy(), value.copy()
            plus[index] += step
            minus[index] -= step
            numeric.append((exact(name, plus) - exact(name, minus)) / (2 * step))
            analytic.append(float(tensors[name].grad[index]))
        assert rel_rms(np.array(analytic), np.array(numeric)) < 2e-2, name


@pytest.mark.parametrize("scattering", ["coherent", "speckle"])
def test_material_and_antenna_size_gradients(sparse_qar50, make_plate, scattering) -> None:
    # d Re <y, S> / d(material, antenna size) by the adjoint, by torch's autograd, and by
    # central differences of the float64 triple sum, on a tilted plate (lobe partly lit).
    vertices, faces = make_plate(0.03, (0.01, -0.01, 0.26), tilt_deg=8.0)
    sampling = SamplingConfig(
        spacing_m=6e-3, scattering=scattering, facet_edge_m=8e-3, facet_integral=GAUSSIAN
    )
    sc = mesh_scatterers(sparse_qar50, vertices, faces, sampling, np.random.default_rng(1))
    y = _probe(sparse_qar50)
    found = []
    for simulate in (simulate_scatterers_adjoint, simulate_scatterers_torch):
        values = torch.tensor([0.5, 0.25], dtype=torch.float64, requires_grad=True)
        reflectance = Reflectance(*values)
        _loss(simulate(sparse_qar50, sc, reflectance, 1e-12), y).backward()
        found.append(values.grad.numpy())

    def exact(material: float, antenna_size: float) -> float:
        s = simulate_scatterers_reference(sparse_qar50, sc, Reflectance(material, antenna_size))
        return float(np.real(np.vdot(y.numpy(), s)))

    step = 1e-4  # the reference sum is complex64: a smaller step drowns in its rounding
    numeric = [
        (exact(0.5 + step, 0.25) - exact(0.5 - step, 0.25)) / (2 * step),
        (exact(0.5, 0.25 + step) - exact(0.5, 0.25 - step)) / (2 * step),
    ]
    assert abs(numeric[1]) > 1e-3 * abs(numeric[0])  # the lobe's width matters here
    for analytic in found:
        np.testing.assert_allclose(analytic, numeric, rtol=5e-3)


def test_adjoint_declines_exact_facets(sparse_qar50) -> None:
    vertices, faces = sphere_cap(5)
    sampling = SamplingConfig(facet_edge_m=8e-3, facet_integral="exact")
    sc = mesh_scatterers(sparse_qar50, vertices, faces, sampling, np.random.default_rng(0))
    with pytest.raises(ValueError, match="second order only.*method='torch'"):
        simulate_scatterers_adjoint(sparse_qar50, sc, REFLECTANCE, 1e-3)
