"""The scattering model: how a surface point scatters from a TX to an RX antenna.

A mesh becomes scatterers (`radarface.radar.scene`), under one of two models
(`SamplingConfig.scattering`):

* "coherent" (default): regular sub-facets, one scatterer at each centroid. Human skin at
  72-82 GHz is smooth on the scale of the 4 mm wavelength (roughness well below lambda / 8), so
  its echo is a coherent physical-optics (PO) integral over the surface, with phases fixed by the
  geometry (Knott, "Radar Cross Section", ch. 5). Both terms below are PO terms: field amplitude
  per unit area sqrt(4 pi) / lambda times an angular factor (diffuse: sqrt(cos cos); specular:
  the lobe L), no random phase, and each sub-facet carries the facet factor F below, the
  closed-form integral of the linearised phase over its area. The sum converges with the facet
  size (docs/radar.md).
* "speckle": area-weighted random points with interpolated normals, and a random phase per
  point in the diffuse term (a surface rough on the wavelength scale).

Each scatterer p of area a_p, normal n, scatters from TX t to RX r with unit vectors u_t, u_r
from the point to the antennas, cos(theta) = n.u, path length tau = d_t + d_r, through

* a diffuse term: Lambertian, field amplitude sqrt(a_p cos(theta_t) cos(theta_r)) e^(j phi_p)
  under "speckle" (incoherent: a random phase phi_p per point; a bistatic Lambertian patch of RCS
  a_p cos cos, albedo 1/4), so that the scattered power grows with area and does not depend on
  the sampling density; under "coherent" sqrt(4 pi) a_p / lambda sqrt(cos(theta_t) cos(theta_r)),
  no random phase (a PO integrand with a broad, Lambertian angular factor);
* a specular term: coherent, amplitude sqrt(4 pi) a_p / lambda (a flat plate of area A at normal
  incidence has RCS 4 pi A^2 / lambda^2, Knott, "Radar Cross Section", ch. 5), times a bistatic lobe
  around the half-vector h = u_t + u_r,
  L = exp(-(1 - n.h / |h|) / sigma^2)  (a Gaussian lobe in the angle between n and h for small
  angles), where sigma follows from the paper's antenna size: a specular ray that misses the mirror
  direction by 2 theta passes an antenna about theta tau off its centre; it is still
  received within the capture radius rho = antenna_size * ANTENNA_SIZE_UNIT_M, hence
  sigma = rho / tau, about antenna_size / 2 radians at the nominal range.

The material factor m mixes the two linearly: w = (1 - m) w_diffuse + m w_specular. Both terms
count only where the point faces both antennas (cos(theta_t), cos(theta_r) > 0).

Facet factor (coherent model): over a flat sub-facet with centroid c and corners c + e_i, the
path length is linear to first order, tau(p) = tau(c) - q.(p - c) with q = u_t + u_r, and

    int exp(-j k tau(p)) dA = A exp(-j k tau(c)) (1 - k^2 q^T Sigma q / 2 + O(k^3)),

Sigma = (1/12) sum_i e_i e_i^T the covariance of a uniform triangle; F = exp(-k_c^2 q^T M q / 24),
M = sum_i e_i e_i^T, k_c the centre wavenumber, matches it to second order and, unlike one point
per facet, decays instead of aliasing where the phase turns fast across a facet (away from the
specular points, where neighbouring facets cancel). q^T M q splits into u_t^T M u_t and
u_r^T M u_r (per antenna, in the carriers) and the cross term 2 (M u_t).u_r (per pair).

The exact facet integral (`SamplingConfig(facet_integral="exact")`, the default): with the phases
x_i = k_c q.e_i at the corners (sum x_i = 0), the mean of exp(j x) over the triangle is

    F = (1/A) int exp(j k_c q.(p - c)) dA = 2 g[x_0, x_1, x_2],   g(x) = -exp(j x),

the second divided difference of g (Hermite-Genocchi: the mean of g'' over the simplex; the
closed form of the integral over a flat triangle, e.g. Gordon, IEEE Trans. AP 23(4), 1975, in
its edge-sum form). `facet_integral` evaluates it stably: the first divided differences as
-(e_a - e_b) / (x_a - x_b) (their midpoint derivative where x_a ~ x_b), the second divided by
the largest corner difference, and a Taylor series 1 - s2/24 - j p/60 + s2^2/1440 + j p s2/2520
(s2 = sum x_i^2, p = x_0 x_1 x_2) where all corners lie within 0.5 rad. To second order it is the
Gaussian factor above; beyond, it keeps the sinc-like side lobes that the Gaussian drops. Since
q = u_t + u_r, every x_i and e_i = exp(j x_i) split into a TX and an RX part (per antenna), so a
pair costs a few complex products and no exp.

The simulators evaluate, per point, TX and RX (carrier c = vis e^(-j k d) / d per antenna,
times exp(-k_c^2 u^T M u / 24) under "coherent"),

    v = c_t c_r (w_d g(cos theta_t) g(cos theta_r) + w_s L) exp(-k_c^2 (M u_t).u_r / 12),

with the per-point weights w_d, w_s of `point_weights`, the diffuse factor g = `lambert_factor`
(separable: computed once per antenna and point) and the lobe L = `specular_lobe` (per pair);
`may_glint` bounds the lobe to skip points that cannot glint. Each is written once here: as a
scalar numba function (called by the numba kernel in float32, and as a ufunc in float64 by the
exact reference) and as its torch twin, which must compute the same formula. numba checks its
cache of a kernel against the kernel's own file only: after changing a numba function here,
delete the cached kernels (radarface/radar/__pycache__/*.nbi and *.nbc).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from numba import types
from numba.extending import overload

from radarface.radar.array import SPEED_OF_LIGHT_M_S, RadarArray
from radarface.radar.profiles import bits_as_float32

if TYPE_CHECKING:
    import torch

# The paper's antenna size (0.2-0.3) is a capture radius in units of the nominal 25 cm range: 5 to
# 7.5 cm, far wider than the real antennas, standing in for the spread of real waves off skin
# (paper 3.2). The lobes (5.7-8.6 degrees) then cover a glint's Fresnel zone on a head-sized
# curvature (about sqrt(lambda R / 2) = 11 mm for R = 6 cm, 0.14 rad of normal at 8 cm radius).
ANTENNA_SIZE_UNIT_M = 0.25


@dataclass(frozen=True)
class Reflectance:
    """The paper's rendering parameters: material (0 diffuse ... 1 specular) and antenna size;
    floats, or 0-d tensors where a fit takes their gradients (the torch and adjoint paths)."""

    material: Any = 0.5
    antenna_size: Any = 0.25

    def __post_init__(self) -> None:
        material, antenna_size = (_value(x) for x in (self.material, self.antenna_size))
        if not 0.0 <= material <= 1.0:
            raise ValueError(f"material must lie in [0, 1], got {material}")
        if not antenna_size > 0.0:
            raise ValueError(f"antenna_size must be positive, got {antenna_size}")

    @property
    def capture_radius_m(self) -> Any:
        return self.antenna_size * ANTENNA_SIZE_UNIT_M


def _value(x: Any) -> float:
    """A float or 0-d tensor's value (without its gradient)."""
    return float(x.detach()) if hasattr(x, "detach") else float(x)


def centre_wavelength_m(array: RadarArray) -> float:
    """The wavelength at the sweep's mean frequency, lambda of the specular amplitude."""
    return SPEED_OF_LIGHT_M_S / float(np.mean(array.freq_hz))


def facet_scale_m2(array: RadarArray) -> float:
    """k_c^2 / 24 (1/m^2): the facet factor is F = exp(-k_c^2 q^T M q / 24), see the module."""
    return (2 * math.pi / centre_wavelength_m(array)) ** 2 / 24


def point_weights(
    array: RadarArray,
    area_m2: torch.Tensor,
    phase_rad: torch.Tensor,
    reflectance: Reflectance,
    scattering: str = "speckle",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Diffuse (complex64) and specular (float32) amplitudes per point (P,), material-mixed;
    differentiable in the areas and phases (which "coherent" ignores)."""
    import torch

    # Specular: sqrt(4 pi) a_p / lambda, the square root of a plate's RCS (the lobe is L).
    po = math.sqrt(4 * math.pi) * area_m2 / centre_wavelength_m(array)
    if scattering == "coherent":  # diffuse: the same PO amplitude, no phase of its own
        diffuse = ((1 - reflectance.material) * po).to(torch.complex64)
    else:  # diffuse: sqrt(a_p) e^(j phi_p) (the cosines are the antennas' lambert_factor)
        unit = torch.polar(torch.ones_like(phase_rad), phase_rad)
        diffuse = (1 - reflectance.material) * area_m2.sqrt() * unit
    return diffuse.to(torch.complex64), (reflectance.material * po).float()


def point_weights_np(
    array: RadarArray,
    area_m2: np.ndarray,
    phase_rad: np.ndarray,
    reflectance: Reflectance,
    scattering: str = "speckle",
) -> tuple[np.ndarray, np.ndarray]:
    """`point_weights` of numpy areas and phases, as numpy arrays (the same formula in numpy)."""
    area_m2, phase_rad = np.asarray(area_m2), np.asarray(phase_rad)
    po = math.sqrt(4 * math.pi) * area_m2 / centre_wavelength_m(array)
    if scattering == "coherent":
        diffuse = (1 - reflectance.material) * po
    else:
        unit = np.empty(phase_rad.shape, dtype=np.result_type(phase_rad, np.complex64))
        unit.real, unit.imag = np.cos(phase_rad), np.sin(phase_rad)  # torch.polar(1, phase)
        diffuse = (1 - reflectance.material) * np.sqrt(area_m2) * unit
    return diffuse.astype(np.complex64), (reflectance.material * po).astype(np.float32)


@numba.njit(inline="always")
def lambert_factor(cos_theta: float) -> float:  # pragma: no cover - compiled
    """g = sqrt(cos theta) towards an antenna, 0 behind the surface: the diffuse amplitude is
    sqrt(a_p) g(cos theta_t) g(cos theta_r)."""
    return np.sqrt(max(cos_theta, 0.0))


def lambert_factor_torch(cos_theta: torch.Tensor) -> torch.Tensor:
    """`lambert_factor` in torch (finite gradient at cos theta = 0)."""
    import torch

    return torch.where(cos_theta > 0, cos_theta.clamp(min=1e-12).sqrt(), 0.0)


@numba.njit(fastmath=True, inline="always")
def exp_f32(x: np.float32) -> np.float32:  # pragma: no cover - compiled
    """exp(x) for -87 < x <= 0 in float32 arithmetic (vectorisable; relative error ~2e-6).

    exp(x) = 2^n 2^f with n = floor(x log2 e), f in [0, 1): 2^f by its Taylor series to degree 7,
    2^n by writing n + 127 into the float32 exponent bits.
    """
    y = x * np.float32(1.4426950408889634)
    n = np.float32(math.floor(y))
    a = (y - n) * np.float32(0.6931471805599453)
    poly = np.float32(1.0) + a * (np.float32(1.0) + a * (np.float32(1 / 2) + a * (
        np.float32(1 / 6) + a * (np.float32(1 / 24) + a * (np.float32(1 / 120) + a * (
            np.float32(1 / 720) + a * np.float32(1 / 5040)))))))  # fmt: skip
    return poly * bits_as_float32(np.int32((np.int32(n) + 127) << 23))


def _exp(x: float) -> float:
    """exp in x's arithmetic, for numba: `exp_f32` in float32 (the kernel), libm in float64."""
    raise NotImplementedError("numba only")


@overload(_exp, inline="always")
def _exp_numba(x):  # pragma: no cover - compiled
    if x == types.float32:
        return lambda x: exp_f32(x)
    return lambda x: math.exp(x)


@numba.njit(inline="always")
def specular_lobe(
    n_dot_h: float,
    h_norm: float,
    tau_m: float,
    inv_rho2: float,
    log_threshold: float,
    facing: bool,
) -> float:  # pragma: no cover - compiled
    """L = exp(-(1 - n.h / |h|) tau^2 / rho^2) for the half-vector h = u_t + u_r; 0 unless the
    point is `facing` both antennas and n.h > 0 and ln L > log_threshold.

    n.h, |h|, the path length tau and 1 / rho^2 in one float type (float32 in the kernel).
    """
    log_lobe = (n_dot_h / h_norm - np.float32(1.0)) * tau_m * tau_m * inv_rho2
    seen = (n_dot_h > 0) & facing & (log_lobe > log_threshold)
    return _exp(log_lobe) if seen else np.float32(0.0)


def specular_lobe_torch(
    n_dot_h: torch.Tensor,
    h_norm: torch.Tensor,
    tau_m: torch.Tensor,
    inv_rho2: float,
    log_threshold: float,
    facing: torch.Tensor,
) -> torch.Tensor:
    """`specular_lobe` in torch, elementwise."""
    import torch

    log_lobe = (n_dot_h / h_norm - 1.0) * tau_m * tau_m * inv_rho2
    seen = (n_dot_h > 0) & facing & (log_lobe > log_threshold)
    return torch.where(seen, torch.exp(log_lobe.clamp(max=0.0)), 0.0)


_TAYLOR_RAD = 0.5  # corners within this phase of each other: the Taylor series (error < 1e-6)
_MIDPOINT_RAD = 1e-2  # a corner pair this close: the derivative at its midpoint (error < 1e-5)


@numba.njit(fastmath=True, inline="always")
def facet_integral(x0, x1, x2, c0, s0, c1, s1, c2, s2):  # pragma: no cover - compiled
    """(Re F, Im F) of F = 2 g[x0, x1, x2], g = -exp(j x): the mean of exp(j x) over a triangle
    whose corner phases x_i sum to 0, with c_i + j s_i = exp(j x_i) (module docstring).

    Real arithmetic with every branch computed and blended by 0/1 masks, and divisions by
    d / (d^2 + tiny), so that the loop over receivers vectorises (with error_model="numpy":
    no zero-division checks). x, c, s in one float type (float32 in the kernel, float64 in the
    exact sum).
    """
    f32 = np.float32  # constants in float32: they stay float32 in the kernel, widen in float64
    one, half, tiny = f32(1.0), f32(0.5), f32(1e-12)  # d / (d^2 + tiny) = 1 / d to 1e-8 here
    d01, d12, d02 = x0 - x1, x1 - x2, x0 - x2
    q01, q12, q02 = d01 * d01, d12 * d12, d02 * d02
    near = f32(_MIDPOINT_RAD**2)
    # First divided differences -(e_a - e_b) / (x_a - x_b), or -j (e_a + e_b) / 2 for a near pair.
    m01, m12, m02 = f32(q01 > near), f32(q12 > near), f32(q02 > near)
    i01, i12, i02 = d01 / (q01 + tiny), d12 / (q12 + tiny), d02 / (q02 + tiny)
    g01r = m01 * (c1 - c0) * i01 + (one - m01) * half * (s0 + s1)
    g01i = m01 * (s1 - s0) * i01 - (one - m01) * half * (c0 + c1)
    g12r = m12 * (c2 - c1) * i12 + (one - m12) * half * (s1 + s2)
    g12i = m12 * (s2 - s1) * i12 - (one - m12) * half * (c1 + c2)
    g02r = m02 * (c2 - c0) * i02 + (one - m02) * half * (s0 + s2)
    g02i = m02 * (s2 - s0) * i02 - (one - m02) * half * (c0 + c2)
    # Divide by the largest corner difference: g[x0, x1, x2] = (g[x0, x1] - g[x1, x2]) / (x0 - x2)
    # and its permutations.
    u02 = f32((q02 >= q01) & (q02 >= q12))
    u01 = (one - u02) * f32(q01 >= q12)
    u12 = one - u02 - u01
    num_r = u02 * (g01r - g12r) + u01 * (g02r - g12r) + u12 * (g01r - g02r)
    num_i = u02 * (g01i - g12i) + u01 * (g02i - g12i) + u12 * (g01i - g02i)
    den = u02 * d02 + u01 * d01 + u12 * d12
    inv = f32(2.0) * den / (den * den + tiny)
    # The Taylor series where all corners lie within _TAYLOR_RAD of each other.
    t = f32(max(q01, max(q12, q02)) < f32(_TAYLOR_RAD**2))
    sq, p = x0 * x0 + x1 * x1 + x2 * x2, x0 * x1 * x2
    series_r = one - sq / f32(24.0) + sq * sq / f32(1440.0)
    series_i = p * sq / f32(2520.0) - p / f32(60.0)
    return t * series_r + (one - t) * num_r * inv, t * series_i + (one - t) * num_i * inv


@numba.njit(inline="always")
def _facet_integral_complex(x0, x1, x2, e0, e1, e2):  # pragma: no cover - compiled
    """`facet_integral` as a complex number, from complex phasors e_i (for the exact sum)."""
    re, im = facet_integral(x0, x1, x2, e0.real, e0.imag, e1.real, e1.imag, e2.real, e2.imag)
    return re + 1j * im


def facet_integral_torch(x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """`facet_integral` in torch: corner phases x (..., 3) real, e = exp(j x) (..., 3)."""
    import torch

    x0, x1, x2 = x.unbind(-1)
    e0, e1, e2 = e.unbind(-1)

    def first(ea: torch.Tensor, eb: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        far = d.abs() > _MIDPOINT_RAD
        return torch.where(far, -(ea - eb) / torch.where(far, d, 1.0), -0.5j * (ea + eb))

    d01, d12, d02 = x0 - x1, x1 - x2, x0 - x2
    a01, a12, a02 = d01.abs(), d12.abs(), d02.abs()
    g01, g12, g02 = first(e0, e1, d01), first(e1, e2, d12), first(e0, e2, d02)
    use02 = (a02 >= a01) & (a02 >= a12)
    use01 = ~use02 & (a01 >= a12)
    num = torch.where(use02, g01 - g12, torch.where(use01, g02 - g12, g01 - g02))
    den = torch.where(use02, d02, torch.where(use01, d01, d12))
    taylor = torch.maximum(a01, torch.maximum(a12, a02)) < _TAYLOR_RAD
    exact = 2 * num / torch.where(taylor, 1.0, den)
    s2 = x0 * x0 + x1 * x1 + x2 * x2
    p = x0 * x1 * x2
    series = torch.complex(1 - s2 / 24 + s2 * s2 / 1440, p * s2 / 2520 - p / 60)
    return torch.where(taylor, series.to(exact.dtype), exact)


# The numba scalars as numpy ufuncs, for the exact sum (compiled for float64 on its first call).
lambert_factor_np = numba.vectorize(cache=True)(lambert_factor.py_func)
specular_lobe_np = numba.vectorize(cache=True)(specular_lobe.py_func)
facet_integral_np = numba.vectorize(cache=True)(_facet_integral_complex.py_func)


def may_glint(
    array: RadarArray,
    points_m: np.ndarray,
    normals: np.ndarray,
    reflectance: Reflectance,
    threshold: float,
) -> np.ndarray:
    """(P,) bool: False where no TX-RX half-vector can come within the specular lobe of n.

    Every half-vector lies within the cone of directions from the point to the antennas, of
    half-angle alpha around the direction to the array centre; `specular_lobe` is below
    `threshold` beyond angle(n, h) = arccos(1 + ln(threshold) (rho / tau_min)^2), its inverse.
    """
    antennas = np.concatenate([array.tx_m, array.rx_m])
    centre = antennas.mean(axis=0)
    to_centre = centre - points_m
    dist = np.linalg.norm(to_centre, axis=1)
    spread = np.linalg.norm(antennas[None, :, :] - centre, axis=2).max()
    alpha = np.arcsin(np.clip(spread / dist, 0.0, 1.0))
    normal_angle = np.arccos(np.clip(np.einsum("pd,pd->p", normals, to_centre) / dist, -1, 1))
    tau_min = 2 * np.maximum(dist - spread, 1e-6)
    cos_cut = 1 + math.log(threshold) * (_value(reflectance.capture_radius_m) / tau_min) ** 2
    lobe_angle = np.arccos(np.clip(cos_cut, -1.0, 1.0))
    return normal_angle - alpha < lobe_angle
