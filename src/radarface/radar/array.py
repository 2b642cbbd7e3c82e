"""MIMO antenna arrays, frequency sweeps and imaging grids (the radar frame).

Radar frame (right-handed, metres, hertz): the antennas lie in the plane z = 0 and look along +z;
y is up. For a viewer behind the array looking along +z, +x points to the viewer's LEFT, so images
drawn with column 0 at +x and row 0 at +y are not mirrored: that viewer sees the face as one sees a
person facing them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

SPEED_OF_LIGHT_M_S = 299_792_458.0


@dataclass(frozen=True)
class RadarArray:
    """TX and RX positions (metres, radar frame) and the stepped frequencies (hertz)."""

    tx_m: np.ndarray  # (n_tx, 3)
    rx_m: np.ndarray  # (n_rx, 3)
    freq_hz: np.ndarray  # (n_freq,)

    def __post_init__(self) -> None:
        for name in ("tx_m", "rx_m"):
            pos = np.asarray(getattr(self, name), dtype=np.float64)
            if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) == 0:
                raise ValueError(f"{name} must have shape (n, 3), got {pos.shape}")
            if not np.all(np.isfinite(pos)):
                raise ValueError(f"{name} contains NaN or infinite values")
            object.__setattr__(self, name, pos)
        freq = np.asarray(self.freq_hz, dtype=np.float64)
        if freq.ndim != 1 or len(freq) == 0 or not np.all(np.isfinite(freq)) or np.any(freq <= 0):
            raise ValueError("freq_hz must be a non-empty 1-D array of positive frequencies")
        object.__setattr__(self, "freq_hz", freq)

    @property
    def n_tx(self) -> int:
        return len(self.tx_m)

    @property
    def n_rx(self) -> int:
        return len(self.rx_m)

    @property
    def n_freq(self) -> int:
        return len(self.freq_hz)

    def is_uniform_sweep(self, rtol: float = 1e-6) -> bool:
        """True when the frequencies are equidistant and increasing (needed by the fast imager)."""
        if self.n_freq < 2:
            return True
        steps = np.diff(self.freq_hz)
        return bool(steps[0] > 0 and np.allclose(steps, steps[0], rtol=rtol, atol=0.0))


def linear_sweep(start_hz: float = 72e9, stop_hz: float = 82e9, n: int = 128) -> np.ndarray:
    """`n` equidistant frequencies from `start_hz` to `stop_hz`, both ends included."""
    return np.linspace(start_hz, stop_hz, n)


def qar50_array(freq_hz: np.ndarray | None = None) -> RadarArray:
    """The Rohde & Schwarz QAR50 submodule used in the paper (94 TX, 94 RX, 72-82 GHz, 128 steps).

    The measured geometry of MAROON's antenna files (`data/qar50sc/Tx.dat`, `Rx.dat`, rows 1..94):
    TX: two vertical columns of 47, y = -69 ... +69 mm at 3 mm pitch, at x = -70.5 and +70.5 mm
    except each column's end antennas (y = +-69 mm), which sit at x = -72.0 and +72.0 mm.
    RX: two horizontal rows at y = -70.5 and +70.5 mm, 47 each, x = -69 ... +69 mm at 3 mm pitch.
    Order as in those files: TX column x < 0 then x > 0, each by increasing y; RX row y < 0 then
    y > 0, each by increasing x. The TX-RX midpoints form a 94 x 94 grid at 1.5 mm pitch (up to the
    end antennas' 1.5 mm offsets).
    """
    # Millimetres divided by 1000 (not times 1e-3): the same doubles as the files' decimals.
    line_m = np.arange(-69.0, 69.0 + 1e-9, 3.0) / 1e3  # 47 positions
    end = np.abs(line_m) == 69.0 / 1e3  # the end antennas of each TX column
    tx = [
        (side * (72.0 if is_end else 70.5) / 1e3, y, 0.0)
        for side in (-1.0, 1.0)
        for y, is_end in zip(line_m, end, strict=True)
    ]
    rx = [(x, y, 0.0) for y in (-70.5 / 1e3, 70.5 / 1e3) for x in line_m]
    return RadarArray(np.array(tx), np.array(rx), linear_sweep() if freq_hz is None else freq_hz)


def read_positions_csv(path: str | Path) -> np.ndarray:
    """Antenna positions from a CSV with header `x,y,z` (metres); returns (n, 3)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"antenna position file not found: {path}")
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:3] != ["x", "y", "z"]:
            got = ",".join(header) or "nothing"
            raise ValueError(f"{path}: expected header 'x,y,z', got {got}")
        try:
            rows = [[float(v) for v in row[:3]] for row in reader if row]
        except ValueError as err:
            raise ValueError(f"{path}: non-numeric antenna position ({err})") from None
    pos = np.array(rows, dtype=np.float64).reshape(-1, 3)
    if len(pos) == 0:
        raise ValueError(f"{path}: no antenna positions")
    return pos


def array_from_files(
    tx_csv: str | Path, rx_csv: str | Path, freq_hz: np.ndarray | None = None
) -> RadarArray:
    """An arbitrary array from TX/RX CSV files and a frequency list (default: the QAR50 sweep)."""
    return RadarArray(
        read_positions_csv(tx_csv),
        read_positions_csv(rx_csv),
        linear_sweep() if freq_hz is None else np.asarray(freq_hz, dtype=np.float64),
    )


@dataclass(frozen=True)
class ImagingGrid:
    """Voxel grid for back-projection; image row 0 is +y, column 0 is +x (unmirrored, see above).

    The default covers 128 x 128 pixels at 2 mm pitch and z from 22.5 to 36.0 cm in 3 mm steps
    (46 slices): the face from 2.5 cm before its nose tip (at 25 cm; poses rotate about it) to the
    chin and the front of the neck, with room for +-5 cm of translation.
    """

    n_x: int = 128
    n_y: int = 128
    pitch_m: float = 2e-3
    z_min_m: float = 0.225
    z_max_m: float = 0.36
    z_step_m: float = 3e-3
    center_xy_m: tuple[float, float] = field(default=(0.0, 0.0))

    def __post_init__(self) -> None:
        if self.n_x < 1 or self.n_y < 1 or self.pitch_m <= 0 or self.z_step_m <= 0:
            raise ValueError("imaging grid sizes and steps must be positive")
        if not 0 < self.z_min_m <= self.z_max_m:
            raise ValueError("imaging grid needs 0 < z_min_m <= z_max_m (the half-space z > 0)")

    @property
    def x_m(self) -> np.ndarray:
        """(n_x,) pixel-centre x coordinates, decreasing: column 0 is +x (the viewer's left)."""
        return self.center_xy_m[0] - (np.arange(self.n_x) - (self.n_x - 1) / 2) * self.pitch_m

    @property
    def y_m(self) -> np.ndarray:
        """(n_y,) pixel-centre y coordinates, decreasing: row 0 is the top of the image (+y)."""
        return self.center_xy_m[1] - (np.arange(self.n_y) - (self.n_y - 1) / 2) * self.pitch_m

    def strided(self, stride: int) -> ImagingGrid:
        """The grid of every stride-th pixel in x and y (x_m[::stride], y_m[::stride]), same z."""
        n_x, n_y = len(range(0, self.n_x, stride)), len(range(0, self.n_y, stride))
        # Pixel 0 stays put: c' = c + ((n - 1) - (n' - 1) s) / 2 * pitch along each axis.
        shift_x = ((self.n_x - 1) - (n_x - 1) * stride) / 2 * self.pitch_m
        shift_y = ((self.n_y - 1) - (n_y - 1) * stride) / 2 * self.pitch_m
        return replace(
            self,
            n_x=n_x,
            n_y=n_y,
            pitch_m=self.pitch_m * stride,
            center_xy_m=(self.center_xy_m[0] + shift_x, self.center_xy_m[1] + shift_y),
        )

    @property
    def z_m(self) -> np.ndarray:
        """(n_z,) slice depths, increasing, spaced by z_step_m, covering [z_min_m, z_max_m]."""
        n = int(np.floor((self.z_max_m - self.z_min_m) / self.z_step_m + 1e-9)) + 1
        return self.z_min_m + np.arange(n) * self.z_step_m


#: The scattering models of `SamplingConfig.scattering`; datasets made before the setting existed
#: were made with "speckle".
SCATTERING_MODELS = ("coherent", "speckle")
#: How the coherent model integrates the phase over a facet: "exact", the closed-form integral
#: over the flat triangle; "gaussian", exp(-k^2 q^T M q / 24), exact to second order (the model
#: of renderer revisions 3-4, and the one the CPU adjoint differentiates).
FACET_INTEGRALS = ("exact", "gaussian")
#: Default longest sub-facet edge of the coherent model per facet integral (chosen by
#: convergence and speed, see docs/radar.md).
FACET_EDGE_M = {"exact": 8e-3, "gaussian": 4e-3}


@dataclass(frozen=True)
class SamplingConfig:
    """How a mesh becomes point scatterers, and which scattering model sums them.

    scattering "coherent" (default): physical optics with phases fixed by the geometry; every
    triangle is cut into regular sub-facets with edges <= facet_edge_m, each one scatterer at its
    centroid with its area and a facet factor (`radarface.radar.reflectance`; facet_integral
    "exact", the closed form over the flat facet, or "gaussian", to second order). "speckle": area-
    weighted random points, one per spacing_m^2, with a random phase per point in the diffuse
    term (a surface rough on the wavelength scale; the model of datasets before revision 3).
    """

    spacing_m: float = 2e-3  # speckle: one point per spacing^2 of surface, about lambda / 2
    visibility_stride: int = 6  # cast occlusion rays to every n-th antenna (1 = all)
    specular_threshold: float = 1e-3  # lobe values below this are dropped
    scattering: str = "coherent"  # "coherent" or "speckle"
    facet_edge_m: float | None = None  # coherent: longest sub-facet edge (None: FACET_EDGE_M)
    facet_integral: str = "exact"  # coherent: one of FACET_INTEGRALS

    def __post_init__(self) -> None:
        if self.scattering not in SCATTERING_MODELS:
            raise ValueError(
                f"unknown scattering {self.scattering!r}; use {' or '.join(SCATTERING_MODELS)}"
            )
        if self.facet_integral not in FACET_INTEGRALS:
            raise ValueError(
                f"unknown facet integral {self.facet_integral!r}; use "
                f"{' or '.join(FACET_INTEGRALS)}"
            )
        if not (self.spacing_m > 0 and self.facet_edge_used_m > 0):
            raise ValueError("spacing_m and facet_edge_m must be positive")

    @property
    def facet_edge_used_m(self) -> float:
        """The longest sub-facet edge: facet_edge_m, or the facet integral's default."""
        return self.facet_edge_m or FACET_EDGE_M[self.facet_integral]
