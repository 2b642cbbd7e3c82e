"""Measured radar data: MAROON QAR50 captures and radarface's own HDF5 measurement format.

MAROON (Wirth et al., "MAROON: A Framework for the Joint Characterization of Near-Field
High-Resolution Radar and Optical Depth Imaging Techniques", 2024; code github.com/vwirth/maroon)
stores a calibrated QAR50 frame as a `.npy` file holding a pickled dict with `xr`
(n_rx, n_tx, n_freq) complex, `fvec` (hertz) and `number_of_measurements`. Its loader images
`xr[1:95, 1:95, :]` of a 96 x 96 array (its README says 94 x 94): both are read here, 96 x 96 with
the outlier rows 0 and 95 dropped, 94 x 94 as already cut. An `xr` with a leading axis holds
several frames, averaged here. Beside `000000.npy` lies `000000_emptyfiltered.npy`, the capture
with the empty room's response removed. The antenna positions are the QAR50's measured geometry
(`qar50_array`, MAROON's `data/qar50sc/Tx.dat` and `Rx.dat`); other antenna files in that layout
(CSV, header `x,y,z`, metres, the imaging antennas between one outlier row first and one last) can
be given instead. Pickles can run code, so the `.npy` is parsed by a restricted unpickler that
accepts only numpy arrays, dtypes and plain Python containers.

TX-RX pairs whose signal is zero at every frequency (switched off or failed) are masked: they
contribute nothing to the image and are left out of the mean range profile (`radar.zrange`).

MAROON reconstructs with the antennas mirrored in x (`initialize_reconstruction` in its
`radar_control.py`: "we reverse the antenna positions along the x-axis"), so its volumes, depth
maps, point clouds and the meshes registered to them have x_maroon = -x_radar (y and z agree):
`maroon_to_radar` maps them into the radar frame (its own inverse).

radarface HDF5 measurement (`format = "radarface-measurement"`, `format_version = 1`):
  s        (n_tx, n_rx, n_freq) complex64   the calibrated S-parameters
  tx_m     (n_tx, 3) float64                TX positions, radar frame, metres
  rx_m     (n_rx, 3) float64                RX positions, radar frame, metres
  freq_hz  (n_freq,) float64                frequencies in hertz
any further attributes are kept as metadata.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from radarface.io import atomic_path, open_hdf5
from radarface.radar.array import RadarArray, qar50_array, read_positions_csv

H5_FORMAT = "radarface-measurement"
H5_VERSION = 1
#: MAROON's empty-room-filtered capture beside STEM.npy: STEM_emptyfiltered.npy
EMPTY_FILTERED_SUFFIX = "_emptyfiltered"

_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # protocol-2 pickles encode raw array bytes through it
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden object {module}.{name} in pickle")


def _load_npy_dict(path: Path) -> dict:
    """The dict pickled inside a `.npy` object array, unpickled with only numpy types allowed."""
    with path.open("rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            _, _, dtype = read_header(f)
        except ValueError as err:
            raise ValueError(f"{path}: not a .npy file ({err})") from None
        if dtype.hasobject:
            try:
                obj = _RestrictedUnpickler(io.BytesIO(f.read())).load()
            except Exception as err:  # any malformed or malicious pickle ends here
                raise ValueError(f"{path}: rejected pickle payload ({err})") from None
        else:
            raise ValueError(f"{path}: expected a pickled dict, found a plain {dtype} array")
    if isinstance(obj, np.ndarray) and obj.shape == () and obj.dtype == object:
        obj = obj.item()
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict with 'xr' and 'fvec', got {type(obj).__name__}")
    return obj


@dataclass(frozen=True)
class Measurement:
    """A measured capture: S, its array, the usable TX-RX pairs and what the reader saw.

    s (n_tx, n_rx, n_freq) complex64, zero where a pair is masked; pairs (n_tx, n_rx) bool, False
    for pairs without signal; info: JSON-ready facts for the output's metadata (format, layout,
    frames averaged, empty-room filtering, masked pairs, antenna source).
    """

    s: np.ndarray
    array: RadarArray
    pairs: np.ndarray
    info: dict[str, Any]


def maroon_to_radar(points_m: np.ndarray) -> np.ndarray:
    """Points (..., 3) from MAROON's x-mirrored reconstruction frame to the radar frame, and
    back (x -> -x)."""
    return np.asarray(points_m, dtype=np.float64) * np.array([-1.0, 1.0, 1.0])


def empty_filtered_path(path: str | Path) -> Path:
    """MAROON's empty-room-filtered twin of a capture: 000000.npy -> 000000_emptyfiltered.npy."""
    path = Path(path)
    if path.stem.endswith(EMPTY_FILTERED_SUFFIX):
        return path
    return path.with_name(path.stem + EMPTY_FILTERED_SUFFIX + path.suffix)


def _maroon_antennas(
    tx_file: str | Path | None, rx_file: str | Path | None, freq_hz: np.ndarray
) -> tuple[RadarArray, str]:
    """The imaging antennas: the built-in QAR50 or those of MAROON-layout files (outlier rows
    first and last dropped), and a description for the metadata."""
    if tx_file is None and rx_file is None:
        return qar50_array(freq_hz), "qar50 (built in: MAROON data/qar50sc/Tx.dat, Rx.dat)"
    if tx_file is None or rx_file is None:
        raise ValueError("give both antenna files (TX and RX), or neither (the QAR50)")
    positions = []
    for label, file in (("TX", tx_file), ("RX", rx_file)):
        pos = read_positions_csv(file)
        if len(pos) < 3:
            raise ValueError(
                f"{file}: {len(pos)} {label} rows; a MAROON antenna file holds the imaging "
                "antennas between an outlier row first and one last"
            )
        positions.append(pos[1:-1])
    return RadarArray(positions[0], positions[1], freq_hz), f"{tx_file}, {rx_file}"


def _cut_layout(xr: np.ndarray, array: RadarArray, path: Path) -> tuple[np.ndarray, str]:
    """xr (n_frames, rows, cols, n_freq) -> (n_frames, n_rx, n_tx, n_freq) imaging antennas and
    the layout seen: outlier rows first and last (MAROON's 96 x 96) or already cut (94 x 94)."""
    rows, cols = xr.shape[1:3]
    if (rows, cols) == (array.n_rx + 2, array.n_tx + 2):
        return xr[:, 1:-1, 1:-1], f"{rows} x {cols} (outlier rows 0 and {rows - 1} dropped)"
    if (rows, cols) == (array.n_rx, array.n_tx):
        return xr, f"{rows} x {cols} (already cut)"
    raise ValueError(
        f"{path}: 'xr' has {rows} x {cols} antenna pairs, expected {array.n_rx + 2} x "
        f"{array.n_tx + 2} (MAROON, outlier rows included) or {array.n_rx} x {array.n_tx} (cut)"
    )


def _average_frames(frames: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Frames (n_frames, n_tx, n_rx, n_freq) -> (S, pairs, info): each pair averaged over the
    frames in which it holds signal; pairs zero in every frame masked."""
    if not np.iscomplexobj(frames):
        raise ValueError(f"{path}: S must be complex, got {frames.dtype}")
    if not np.all(np.isfinite(frames)):
        raise ValueError(f"{path}: S contains NaN or infinite values")
    live = np.any(frames != 0, axis=-1)  # (n_frames, n_tx, n_rx)
    count = live.sum(axis=0)
    pairs = count > 0
    if not pairs.any():
        raise ValueError(f"{path}: no signal (every TX-RX pair is zero at every frequency)")
    s = (frames.sum(axis=0) / np.maximum(count, 1)[..., None]).astype(np.complex64)
    info = {
        "frames_averaged": len(frames),
        "masked_pairs": int((~pairs).sum()),
        "masked_tx": np.flatnonzero(~pairs.any(axis=1)).tolist(),
        "masked_rx": np.flatnonzero(~pairs.any(axis=0)).tolist(),
    }
    if len(frames) > 1:
        info["pairs_missing_in_some_frames"] = int((pairs & (count < len(frames))).sum())
    return s, pairs, info


def read_maroon(
    path: str | Path,
    tx_file: str | Path | None = None,
    rx_file: str | Path | None = None,
    *,
    empty_filtered: bool = False,
) -> Measurement:
    """A MAROON QAR50 capture (see the module docstring) as a Measurement.

    The antennas default to the built-in QAR50 geometry; `empty_filtered` reads the capture's
    `_emptyfiltered` twin instead.
    """
    path = Path(path)
    if empty_filtered:
        filtered = empty_filtered_path(path)
        if not filtered.is_file():
            raise FileNotFoundError(f"empty-room-filtered capture not found: {filtered}")
        path = filtered
    if not path.is_file():
        raise FileNotFoundError(f"measurement file not found: {path}")
    data = _load_npy_dict(path)
    for key in ("xr", "fvec"):
        if key not in data:
            raise ValueError(f"{path}: missing key '{key}'")
    xr = np.asarray(data["xr"])
    freq = np.asarray(data["fvec"], dtype=np.float64).ravel()
    if xr.ndim not in (3, 4):
        raise ValueError(
            f"{path}: 'xr' has shape {xr.shape}, expected (96, 96, n_freq) or "
            "(n_frames, 96, 96, n_freq)"
        )
    frames = xr if xr.ndim == 4 else xr[None]
    if frames.shape[-1] != len(freq):
        raise ValueError(f"{path}: 'xr' has {frames.shape[-1]} frequencies but 'fvec' {len(freq)}")
    array, antennas = _maroon_antennas(tx_file, rx_file, freq)
    frames, layout = _cut_layout(frames, array, path)
    s, pairs, info = _average_frames(frames.transpose(0, 2, 1, 3), path)
    info = {
        "format": "maroon-npy",
        "file": str(path),
        "layout": layout,
        "empty_filtered": path.stem.endswith(EMPTY_FILTERED_SUFFIX),
        **info,
        "antennas": antennas,
    }
    if "number_of_measurements" in data:
        info["number_of_measurements"] = int(np.asarray(data["number_of_measurements"]).ravel()[0])
    return Measurement(s, array, pairs, info)


def write_measurement(path: str | Path, s: np.ndarray, array: RadarArray, **attrs: Any) -> None:
    """Write S and its array in radarface's HDF5 measurement format (atomic)."""
    s = _checked(np.asarray(s), array, Path(path))
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = H5_FORMAT
        f.attrs["format_version"] = H5_VERSION
        for key, value in attrs.items():
            f.attrs[key] = value
        f.create_dataset("s", data=s, compression="gzip")
        f.create_dataset("tx_m", data=array.tx_m)
        f.create_dataset("rx_m", data=array.rx_m)
        f.create_dataset("freq_hz", data=array.freq_hz)


def read_measurement_h5(path: str | Path) -> Measurement:
    """Read radarface's HDF5 measurement format (version 1 only) as a Measurement."""
    path = Path(path)
    with open_hdf5(path, "measurement") as f:
        if f.attrs.get("format") != H5_FORMAT:
            raise ValueError(f"{path}: not a radarface measurement (attribute 'format' missing)")
        version = f.attrs.get("format_version")
        if version is None or np.ndim(version) != 0 or version != H5_VERSION:
            raise ValueError(
                f"{path}: measurement format_version {version} is not supported "
                f"(this radarface reads version {H5_VERSION})"
            )
        for key in ("s", "tx_m", "rx_m", "freq_hz"):
            if key not in f:
                raise ValueError(f"{path}: missing dataset '{key}'")
        array = RadarArray(f["tx_m"][()], f["rx_m"][()], f["freq_hz"][()])
        s = _checked(f["s"][()], array, path)
    s, pairs, info = _average_frames(s[None], path)
    del info["frames_averaged"]
    return Measurement(
        s,
        array,
        pairs,
        {"format": H5_FORMAT, "format_version": H5_VERSION, "file": str(path), **info},
    )


def read_measurement(
    path: str | Path,
    tx_file: str | Path | None = None,
    rx_file: str | Path | None = None,
    *,
    empty_filtered: bool = False,
) -> Measurement:
    """Read a measured capture: `.npy` (MAROON QAR50) or `.h5` / `.hdf5` (radarface format)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        return read_maroon(path, tx_file, rx_file, empty_filtered=empty_filtered)
    if suffix in (".h5", ".hdf5"):
        if tx_file is not None or rx_file is not None or empty_filtered:
            raise ValueError(
                f"{path}: an HDF5 capture carries its own antennas and is not empty-room "
                "filtered by radarface; drop the antenna files and the empty-filtered option"
            )
        return read_measurement_h5(path)
    raise ValueError(f"{path}: unknown measurement format (expected .npy or .h5)")


def _checked(s: np.ndarray, array: RadarArray, path: Path) -> np.ndarray:
    expected = (array.n_tx, array.n_rx, array.n_freq)
    if s.shape != expected:
        raise ValueError(f"{path}: S has shape {s.shape}, expected {expected} (n_tx, n_rx, n_freq)")
    if not np.iscomplexobj(s):
        raise ValueError(f"{path}: S must be complex, got {s.dtype}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{path}: S contains NaN or infinite values")
    return s.astype(np.complex64)
