"""The simulator against the direct formulas, physics of the reflectance model, bad inputs."""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest
import torch
from common import rel_rms, sphere_cap

from radarface.radar import (
    SPEED_OF_LIGHT_M_S,
    MeshScatterers,
    RadarArray,
    Reflectance,
    SamplingConfig,
    add_noise,
    mesh_scatterers,
    scatterers_from_vertices,
    simulate,
    simulate_mesh,
    simulate_points,
    simulate_scatterers_reference,
    simulate_scatterers_torch,
)
from radarface.radar.nufft import OVERSAMPLE, node_window
from radarface.radar.reflectance import (
    facet_integral_np,
    facet_integral_torch,
    lambert_factor_np,
    lambert_factor_torch,
    specular_lobe,
    specular_lobe_np,
    specular_lobe_torch,
)
from radarface.radar.scene import visibility

FAST_SIMULATORS = ("numba", "torch")
FACETS = ("gaussian", "exact")  # SamplingConfig.facet_integral


def _fast(array: RadarArray, sc: MeshScatterers, refl: Reflectance, method: str) -> np.ndarray:
    s = simulate(array, sc, refl, 1e-12, method=method)
    return s.numpy() if isinstance(s, torch.Tensor) else s


def test_points_match_direct_formula(sparse_qar50: RadarArray) -> None:
    pts = np.array([[0.01, 0.02, 0.25], [-0.03, 0.0, 0.31]])
    amps = np.array([1.0, 0.5j])
    s = simulate_points(sparse_qar50, pts, amps)
    d_t = np.linalg.norm(sparse_qar50.tx_m[None] - pts[:, None], axis=2)[..., None]
    d_r = np.linalg.norm(sparse_qar50.rx_m[None] - pts[:, None], axis=2)[..., None]
    k = 2 * np.pi * sparse_qar50.freq_hz / SPEED_OF_LIGHT_M_S
    direct = np.einsum(
        "p,ptf,prf->trf", amps, np.exp(-1j * k * d_t) / d_t, np.exp(-1j * k * d_r) / d_r
    )
    assert s.shape == (sparse_qar50.n_tx, sparse_qar50.n_rx, sparse_qar50.n_freq)
    assert s.dtype == np.complex64
    assert rel_rms(s, direct) < 1e-4


@pytest.mark.parametrize("simulator", FAST_SIMULATORS)
@pytest.mark.parametrize("material", [0.0, 0.5, 1.0])
def test_fast_mesh_simulation_matches_exact_sum(
    sparse_qar50, make_plate, material, simulator
) -> None:
    vertices, faces = make_plate(0.06, (0.01, -0.01, 0.26), tilt_deg=8.0)
    sampling = SamplingConfig(spacing_m=4e-3, scattering="speckle")
    sc = mesh_scatterers(sparse_qar50, vertices, faces, sampling, np.random.default_rng(1))
    refl = Reflectance(material=material, antenna_size=0.25)
    exact = simulate_scatterers_reference(sparse_qar50, sc, refl)
    fast = _fast(sparse_qar50, sc, refl, simulator)
    assert fast.shape == exact.shape and fast.dtype == np.complex64
    assert rel_rms(fast, exact) < 1e-3


@pytest.mark.parametrize("simulator", FAST_SIMULATORS)
@pytest.mark.parametrize("n_freq", [128, 20])
def test_fast_simulation_with_and_without_wrapping_grids(
    sparse_qar50, make_plate, n_freq, simulator
) -> None:
    # 128 steps: the plate's path lengths (0.52-0.59 m) fill a window of the kernel's periodic
    # grid; 20 steps over the same band: the grid's period c / df is 0.57 m, so the paths wrap.
    array = RadarArray(sparse_qar50.tx_m, sparse_qar50.rx_m, np.linspace(72e9, 82e9, n_freq))
    vertices, faces = make_plate(0.06, (0.01, -0.01, 0.26), tilt_deg=8.0)
    sc = mesh_scatterers(
        array, vertices, faces, SamplingConfig(spacing_m=4e-3), np.random.default_rng(1)
    )
    d_tx = np.linalg.norm(array.tx_m[:, None] - sc.points_m[None], axis=2)
    d_rx = np.linalg.norm(sc.points_m[:, None] - array.rx_m[None], axis=2)
    tau_lo, tau_hi = (d_tx.min(axis=0) + d_rx.min(axis=1)).min(), (d_tx + d_rx.T).max()
    dk = 2 * np.pi * (array.freq_hz[1] - array.freq_hz[0]) / SPEED_OF_LIGHT_M_S
    _, n_nodes = node_window(tau_lo, tau_hi, dk, OVERSAMPLE * n_freq)
    assert (n_nodes > OVERSAMPLE * n_freq) == (n_freq == 20)
    refl = Reflectance(material=0.5, antenna_size=0.25)
    exact = simulate_scatterers_reference(array, sc, refl)
    fast = _fast(array, sc, refl, simulator)
    assert rel_rms(fast, exact) < 1e-3


def test_torch_simulation_gradient_matches_finite_differences(sparse_qar50, make_plate) -> None:
    # d/dpoints of Re <y, S> by autograd through the torch NUFFT against central differences of
    # the exact triple sum: the gradient a fit through the physics would follow.
    vertices, faces = make_plate(0.03, (0.01, -0.01, 0.26), tilt_deg=8.0)
    sc = mesh_scatterers(
        sparse_qar50, vertices, faces, SamplingConfig(spacing_m=6e-3), np.random.default_rng(1)
    )
    refl = Reflectance(material=0.5, antenna_size=0.25)
    rng = np.random.default_rng(0)
    shape = (sparse_qar50.n_tx, sparse_qar50.n_rx, sparse_qar50.n_freq)
    y = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    def exact_loss(points_m: np.ndarray) -> float:
        moved = dataclasses.replace(sc, points_m=points_m)
        return float(np.real(np.vdot(y, simulate_scatterers_reference(sparse_qar50, moved, refl))))

    points = torch.tensor(sc.points_m, requires_grad=True)
    s = simulate_scatterers_torch(
        sparse_qar50, dataclasses.replace(sc, points_m=points), refl, 1e-12
    )
    torch.real(torch.sum(torch.from_numpy(y.conj()).to(s.dtype) * s)).backward()
    step = 1e-7
    numeric = np.zeros_like(sc.points_m)
    for index in np.ndindex(*numeric.shape):
        plus, minus = sc.points_m.copy(), sc.points_m.copy()
        plus[index] += step
        minus[index] -= step
        numeric[index] = (exact_loss(plus) - exact_loss(minus)) / (2 * step)
    assert rel_rms(points.grad.numpy(), numeric) < 1e-2


def test_no_scatterers_give_zero_signal(sparse_qar50: RadarArray) -> None:
    empty = MeshScatterers(
        np.zeros((0, 3)),
        np.zeros((0, 3)),
        np.zeros(0),
        np.zeros(0),
        np.zeros((0, sparse_qar50.n_tx), np.float32),
        np.zeros((0, sparse_qar50.n_rx), np.float32),
        np.zeros(0, np.int64),
        np.zeros((0, 3)),
        0,
    )
    for method in FAST_SIMULATORS:
        s = _fast(sparse_qar50, empty, Reflectance(), method)
        assert s.shape == (sparse_qar50.n_tx, sparse_qar50.n_rx, sparse_qar50.n_freq)
        assert s.dtype == np.complex64 and not np.any(s)


def test_simulate_methods_and_their_errors(sparse_qar50, make_plate) -> None:
    vertices, faces = make_plate(0.04, (0.0, 0.01, 0.26), tilt_deg=5.0)
    sc = mesh_scatterers(
        sparse_qar50, vertices, faces, SamplingConfig(spacing_m=4e-3), np.random.default_rng(2)
    )
    refl = Reflectance(material=0.7, antenna_size=0.25)
    auto = simulate(sparse_qar50, sc, refl, 1e-3)
    assert isinstance(auto, np.ndarray)
    np.testing.assert_array_equal(auto, simulate(sparse_qar50, sc, refl, 1e-3, method="numba"))
    on_cpu = simulate(sparse_qar50, sc, refl, 1e-3, method="torch", device="cpu")
    assert isinstance(on_cpu, torch.Tensor) and on_cpu.device.type == "cpu"
    exact = simulate(sparse_qar50, sc, refl, 1e-3, method="reference")
    np.testing.assert_array_equal(exact, simulate_scatterers_reference(sparse_qar50, sc, refl))
    assert rel_rms(auto, exact) < 1e-3 and rel_rms(on_cpu.numpy(), exact) < 1e-3
    with pytest.raises(ValueError, match="unknown method 'fft'; use 'auto' or one of numba, torch"):
        simulate(sparse_qar50, sc, refl, 1e-3, method="fft")
    # A non-uniform sweep: the NUFFT methods say so, the exact sum takes it.
    freq_hz = np.sort(np.random.default_rng(0).uniform(72e9, 82e9, 16))
    uneven = RadarArray(sparse_qar50.tx_m, sparse_qar50.rx_m, freq_hz)
    for method in FAST_SIMULATORS:
        with pytest.raises(ValueError, match="uniform frequency sweep; use method='reference'"):
            simulate(uneven, sc, refl, 1e-3, method=method)
    assert simulate(uneven, sc, refl, 1e-3, method="reference").shape == (12, 12, 16)


@numba.njit
def _lobes_f32(n_dot_h, h_norm, tau_m, inv_rho2, log_threshold, facing):  # pragma: no cover
    """`specular_lobe` of float32 arrays in float32 arithmetic, as the numba kernel inlines it."""
    out = np.empty_like(n_dot_h)
    for i in range(len(out)):
        out[i] = specular_lobe(n_dot_h[i], h_norm[i], tau_m[i], inv_rho2, log_threshold, facing[i])
    return out


def test_reflectance_functions_agree_between_numba_and_torch() -> None:
    # The numba scalars (as float64 ufuncs, as the exact sum evaluates them, and in float32, as
    # the kernel does) against their torch twins, on physical half-vectors.
    rng = np.random.default_rng(0)
    h_norm = rng.uniform(0.2, 2.0, 4000)
    n_dot_h = h_norm * np.concatenate([rng.uniform(-1, 1, 1000), 1 - rng.exponential(0.01, 3000)])
    tau, facing = rng.uniform(0.4, 0.7, 4000), rng.random(4000) < 0.9
    inv_rho2, log_thr = 1 / 0.0625**2, np.log(1e-3)
    for log_threshold in (-np.inf, log_thr):
        lobe = specular_lobe_np(n_dot_h, h_norm, tau, inv_rho2, log_threshold, facing)
        tensors = map(torch.from_numpy, (n_dot_h, h_norm, tau))
        twin = specular_lobe_torch(*tensors, inv_rho2, log_threshold, torch.from_numpy(facing))
        np.testing.assert_allclose(lobe, twin.numpy(), rtol=1e-12, atol=0)
    assert 0 < np.mean(lobe > 0) < 1  # both sides of the threshold, of n.h = 0 and of facing
    args32 = [x.astype(np.float32) for x in (n_dot_h, h_norm, tau)]
    lobe32 = _lobes_f32(*args32, np.float32(inv_rho2), np.float32(log_thr), facing)
    tensors = map(torch.from_numpy, args32)
    twin32 = specular_lobe_torch(*tensors, inv_rho2, log_thr, torch.from_numpy(facing)).numpy()
    near_cut = np.abs(np.log(np.maximum(twin32, 1e-30)) - log_thr) < 1e-4
    np.testing.assert_allclose(lobe32[~near_cut], twin32[~near_cut], rtol=1e-5, atol=0)
    cos_theta = np.concatenate([rng.uniform(-1, 1, 1000), [0.0, 1.0]])
    lambert = lambert_factor_torch(torch.from_numpy(cos_theta)).numpy()
    np.testing.assert_allclose(lambert_factor_np(cos_theta), lambert, rtol=1e-15, atol=0)


SPECKLE = SamplingConfig(scattering="speckle")


def _power(
    array: RadarArray, make_plate, tilt_deg: float, material: float, scattering: str
) -> float:
    vertices, faces = make_plate(0.08, (0.0, 0.0, 0.25), tilt_deg)
    sampling = SamplingConfig(scattering=scattering)
    s = simulate_mesh(array, vertices, faces, Reflectance(material, 0.25), sampling, seed=3)
    return float(np.mean(np.abs(s) ** 2))


@pytest.mark.parametrize("scattering", ["speckle", "coherent"])
def test_tilted_plate_darkens_much_faster_when_specular(sparse_qar50, make_plate, scattering):
    diffuse, specular = (
        [_power(sparse_qar50, make_plate, tilt, material, scattering) for tilt in (0.0, 45.0)]
        for material in (0.0, 1.0)
    )
    assert specular[1] < specular[0] / 1000  # the half-vector lobe no longer reaches the array
    if scattering == "speckle":  # incoherent Lambertian: cos^2(45 deg) is -3 dB; allow -6 dB
        assert diffuse[1] > diffuse[0] / 4
    else:  # coherent: a flat plate tilted beyond the aperture keeps only its edges' echo, but
        # the broad Lambertian factor keeps far more of it than the lobe does
        assert specular[1] / specular[0] < 1e-3 * diffuse[1] / diffuse[0]


def test_wider_antenna_keeps_more_of_a_tilted_specular_plate(sparse_qar50, make_plate) -> None:
    vertices, faces = make_plate(0.08, (0.0, 0.0, 0.25), 35.0)
    narrow, wide = (
        np.mean(np.abs(simulate_mesh(sparse_qar50, vertices, faces, Reflectance(1.0, a), SPECKLE)))
        ** 2
        for a in (0.2, 0.3)
    )
    assert wide > 10 * narrow


def test_coherent_model_does_not_depend_on_the_seed(sparse_qar50) -> None:
    # No random phase and no random points: every seed gives the same signal (noise aside).
    vertices, faces = sphere_cap(9)
    a, b = (simulate_mesh(sparse_qar50, vertices, faces, seed=s) for s in (7, 8))
    np.testing.assert_array_equal(a, b)
    c, d = (simulate_mesh(sparse_qar50, vertices, faces, sampling=SPECKLE, seed=s) for s in (7, 8))
    assert rel_rms(c, d) > 0.1


def test_coherent_model_converges_to_the_dense_quadrature(sparse_qar50) -> None:
    # The PO integral over a curved cap: one point per sub-facet with edges <= 1 mm is the
    # reference; coarser sub-facets with the facet factor approach it, and the factor beats one
    # plain point per facet (measured: 1.6% against 6.3% at 4 mm, 0.2% against 0.6% at 2 mm).
    vertices, faces = sphere_cap(13)
    refl = Reflectance(0.5, 0.25)

    def signal(edge_m: float, factor: bool = True) -> np.ndarray:
        sampling = SamplingConfig(facet_edge_m=edge_m, facet_integral="gaussian")
        sc = mesh_scatterers(sparse_qar50, vertices, faces, sampling, np.random.default_rng(0))
        sc = sc if factor else dataclasses.replace(sc, facet_moment_m2=None)
        return simulate(sparse_qar50, sc, refl, 1e-3)

    dense = signal(1e-3, factor=False)
    error = {edge: rel_rms(signal(edge), dense) for edge in (4e-3, 2e-3)}
    assert error[4e-3] < 0.03 and error[2e-3] < error[4e-3] / 3
    assert rel_rms(signal(4e-3, factor=False), dense) > 2 * error[4e-3]


def _triangle_mean_phasor(x: np.ndarray, n: int = 200) -> complex:
    """Mean of exp(j x) over a triangle with corner phases x (3,), x linear inside it: the
    midpoint rule on its n^2 congruent sub-triangles (error O(1/n^2))."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    up = i + j < n
    down = i + j < n - 1
    centres = [(i[up] + 1 / 3, j[up] + 1 / 3), (i[down] + 2 / 3, j[down] + 2 / 3)]
    l1, l2 = (np.concatenate(c) / n for c in zip(*centres, strict=True))
    return complex(np.mean(np.exp(1j * ((1 - l1 - l2) * x[0] + l1 * x[1] + l2 * x[2]))))


@pytest.mark.parametrize("scale", [0.01, 0.3, 1.0, 4.0, 12.0])
def test_exact_facet_integral_matches_a_dense_quadrature(scale) -> None:
    rng = np.random.default_rng(int(scale * 100))
    x = rng.normal(size=(4, 3)) * scale
    x[0, 1] = x[0, 0] + 1e-4  # two corners at nearly one phase, the third far
    x -= x.mean(axis=1, keepdims=True)  # phases about the centroid
    e = np.exp(1j * x)
    truth = np.array([_triangle_mean_phasor(row) for row in x])
    numpy_f = facet_integral_np(*x.T, *e.T)
    torch_f = facet_integral_torch(torch.from_numpy(x), torch.from_numpy(e)).numpy()
    np.testing.assert_allclose(numpy_f, truth, atol=2e-5 * max(1.0, scale**2))
    np.testing.assert_allclose(torch_f, numpy_f, atol=1e-12)
    # To second order it is the Gaussian factor exp(-sum x_i^2 / 24).
    small = x * 1e-2 / scale
    gauss = np.exp(-(small**2).sum(axis=1) / 24)
    np.testing.assert_allclose(facet_integral_np(*small.T, *np.exp(1j * small).T), gauss, atol=1e-9)


def test_exact_facets_converge_faster_than_gaussian_ones(sparse_qar50) -> None:
    # The cap's own triangles (edges ~5-7 mm) and 4 mm sub-facets against the 1 mm quadrature
    # (measured: 0.150 -> 0.031 and 0.016 -> 0.006).
    vertices, faces = sphere_cap(13)
    refl = Reflectance(0.5, 0.25)

    def signal(edge_m: float, integral: str = "gaussian") -> np.ndarray:
        sampling = SamplingConfig(facet_edge_m=edge_m, facet_integral=integral)
        sc = mesh_scatterers(sparse_qar50, vertices, faces, sampling, np.random.default_rng(0))
        return simulate(sparse_qar50, sc, refl, 1e-3)

    dense = signal(1e-3)
    for edge in (1.0, 4e-3):
        gaussian, exact = (rel_rms(signal(edge, integral), dense) for integral in FACETS)
        assert exact < gaussian / 2


@pytest.mark.parametrize("simulator", FAST_SIMULATORS)
@pytest.mark.parametrize("facets", FACETS)
def test_fast_coherent_simulation_matches_exact_sum(sparse_qar50, simulator, facets) -> None:
    vertices, faces = sphere_cap(5)
    sampling = SamplingConfig(facet_edge_m=8e-3, facet_integral=facets)
    sc = mesh_scatterers(sparse_qar50, vertices, faces, sampling, np.random.default_rng(1))
    assert sc.scattering == "coherent"
    facet_field = sc.facet_moment_m2 if facets == "gaussian" else sc.facet_offsets_m
    assert facet_field.shape == (len(sc.points_m), 3, 3)
    refl = Reflectance(material=0.5, antenna_size=0.25)
    exact = simulate_scatterers_reference(sparse_qar50, sc, refl)
    assert rel_rms(_fast(sparse_qar50, sc, refl, simulator), exact) < 1e-3


def test_occluded_points_are_invisible(make_plate) -> None:
    import trimesh

    blocker_v, blocker_f = make_plate(0.02, (0.0, 0.0, 0.2))
    mesh = trimesh.Trimesh(blocker_v, blocker_f, process=False)
    antenna = np.zeros((1, 3))
    points = np.array([[0.0, 0.0, 0.3], [0.05, 0.0, 0.3]])
    normals = np.tile([0.0, 0.0, -1.0], (2, 1))
    vis = visibility(mesh, points, normals, antenna, stride=1)
    np.testing.assert_array_equal(vis[:, 0], [0.0, 1.0])


def test_visibility_interpolates_between_cast_antennas(make_plate) -> None:
    import trimesh

    blocker_v, blocker_f = make_plate(0.02, (0.0, 0.0, 0.2))
    mesh = trimesh.Trimesh(blocker_v, blocker_f, process=False)
    line = np.stack([np.linspace(-0.1, 0.1, 21), np.zeros(21), np.zeros(21)], axis=1)
    point, normal = np.array([[0.0, 0.0, 0.3]]), np.array([[0.0, 0.0, -1.0]])
    exact = visibility(mesh, point, normal, line, stride=1)[0]
    strided = visibility(mesh, point, normal, line, stride=4)[0]
    assert exact[10] == 0.0 and exact[0] == 1.0
    assert np.all((strided >= 0) & (strided <= 1))
    np.testing.assert_array_equal(strided[::4], exact[::4])


def test_threaded_ray_casting_equals_one_thread(make_plate) -> None:
    import numba
    import trimesh

    blocker_v, blocker_f = make_plate(0.03, (0.0, 0.0, 0.2))
    mesh = trimesh.Trimesh(blocker_v, blocker_f, process=False)
    grid = np.linspace(-0.04, 0.04, 9)
    points = np.stack([*np.meshgrid(grid, grid), np.full((9, 9), 0.3)], -1).reshape(-1, 3)
    normals = np.tile([0.0, 0.0, -1.0], (len(points), 1))
    line = np.stack([np.linspace(-0.1, 0.1, 15), np.zeros(15), np.zeros(15)], axis=1)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = visibility(mesh, points, normals, line, stride=1)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = visibility(mesh, points, normals, line, stride=1)
    finally:
        numba.set_num_threads(threads)
    assert 0 < one.mean() < 1  # some rays blocked, some free
    np.testing.assert_array_equal(many, one)


@pytest.mark.parametrize(
    ("flip", "scattering", "facets"),
    [
        (False, "speckle", "gaussian"),
        (True, "speckle", "gaussian"),
        (True, "coherent", "gaussian"),
        (False, "coherent", "exact"),
    ],
)
def test_scatterers_from_vertex_tensors_repeat_the_sampling(
    sparse_qar50, make_plate, flip, scattering, facets
) -> None:
    cap_v, cap_f = sphere_cap(7, flip)
    hidden_v, hidden_f = make_plate(0.01, (0.0, 0.0, 0.3))  # behind the cap: all its points drop
    vertices, faces = np.concatenate([cap_v, hidden_v]), np.concatenate([cap_f, hidden_f + 49])
    sampling = SamplingConfig(spacing_m=3e-3, scattering=scattering, facet_integral=facets)
    sc = mesh_scatterers(sparse_qar50, vertices, faces, sampling, np.random.default_rng(4))
    assert sc.triangle.dtype == np.int64 and sc.barycentric.shape == (len(sc.points_m), 3)
    assert sc.n_sampled > len(sc.points_m) > 100
    v = torch.tensor(vertices, requires_grad=True)
    again = scatterers_from_vertices(v, faces, sc)
    np.testing.assert_allclose(again.points_m.detach(), sc.points_m, rtol=0, atol=1e-9)
    np.testing.assert_allclose(again.normals.detach(), sc.normals, rtol=0, atol=1e-9)
    np.testing.assert_allclose(again.area_m2.detach(), sc.area_m2, rtol=1e-9)
    for field in ("facet_moment_m2", "facet_offsets_m"):
        kept, recomputed = getattr(sc, field), getattr(again, field)
        if kept is None:
            assert recomputed is None
        else:
            np.testing.assert_allclose(recomputed.detach(), kept, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(again.vis_tx, sc.vis_tx)
    refl = Reflectance(0.5, 0.25)
    # auto for CPU tensors: the adjoint, or torch for exact facets (the adjoint has none)
    s = simulate(sparse_qar50, again, refl, 1e-3)
    assert rel_rms(s.detach().numpy(), simulate(sparse_qar50, sc, refl, 1e-3)) < 1e-4
    s.abs().square().sum().backward()
    assert torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0


def test_scatterer_geometry_gradients_are_exact(sparse_qar50) -> None:
    vertices, faces = sphere_cap(4, flip=False)
    sc = mesh_scatterers(
        sparse_qar50, vertices, faces, SamplingConfig(spacing_m=1e-2), np.random.default_rng(4)
    )

    def geometry(v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        again = scatterers_from_vertices(v, faces, sc)
        return again.points_m, again.normals, again.area_m2

    assert torch.autograd.gradcheck(geometry, (torch.tensor(vertices, requires_grad=True),))


def test_same_seed_same_signal_other_seed_other_speckle(sparse_qar50, make_plate) -> None:
    vertices, faces = make_plate(0.05, (0.0, 0.0, 0.25))
    a, b, c = (
        simulate_mesh(sparse_qar50, vertices, faces, sampling=SPECKLE, seed=s) for s in (7, 7, 8)
    )
    np.testing.assert_array_equal(a, b)
    assert rel_rms(a, c) > 0.1


def test_noise_reaches_requested_snr() -> None:
    rng = np.random.default_rng(0)
    s = (rng.standard_normal((20, 20, 64)) + 1j * rng.standard_normal((20, 20, 64))).astype(
        np.complex64
    )
    noisy = add_noise(s, snr_db=10.0, rng=np.random.default_rng(1))
    snr = 10 * np.log10(np.mean(np.abs(s) ** 2) / np.mean(np.abs(noisy - s) ** 2))
    assert abs(snr - 10.0) < 0.2


@pytest.mark.parametrize(
    ("vertices", "faces", "message"),
    [
        (np.zeros((4, 2)), np.array([[0, 1, 2]]), "shape \\(V, 3\\)"),
        (np.full((3, 3), np.nan), np.array([[0, 1, 2]]), "NaN"),
        (np.array([[0, 0, 0.2], [1, 0, 0.2], [0, 1, -0.1]]), np.array([[0, 1, 2]]), "z > 0"),
        (np.array([[0, 0, 0.2], [1, 0, 0.2], [0, 1, 0.2]]), np.array([[0, 1, 5]]), "index"),
    ],
)
def test_bad_meshes_are_rejected(sparse_qar50, vertices, faces, message) -> None:
    with pytest.raises(ValueError, match=message):
        simulate_mesh(sparse_qar50, vertices, faces)


def test_bad_points_and_reflectance_are_rejected(sparse_qar50: RadarArray) -> None:
    with pytest.raises(ValueError, match="z > 0"):
        simulate_points(sparse_qar50, np.array([[0.0, 0.0, -0.1]]), np.array([1.0]))
    with pytest.raises(ValueError, match="amplitudes"):
        simulate_points(sparse_qar50, np.array([[0.0, 0.0, 0.1]]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="material"):
        Reflectance(material=1.5)
    with pytest.raises(ValueError, match="antenna_size"):
        Reflectance(antenna_size=0.0)


def test_facet_edge_follows_the_facet_integral() -> None:
    assert SamplingConfig().facet_integral == "exact"
    assert SamplingConfig().facet_edge_used_m == 8e-3
    assert SamplingConfig(facet_integral="gaussian").facet_edge_used_m == 4e-3
    assert SamplingConfig(facet_integral="gaussian", facet_edge_m=2e-3).facet_edge_used_m == 2e-3
    with pytest.raises(ValueError, match="unknown facet integral 'sinc'; use exact or gaussian"):
        SamplingConfig(facet_integral="sinc")
    with pytest.raises(ValueError, match="must be positive"):
        SamplingConfig(facet_edge_m=-1e-3)
