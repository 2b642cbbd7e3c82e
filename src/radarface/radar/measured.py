"""Measured radar data: MAROON QAR50 captures and radarface's own HDF5 measurement format.

MAROON (Wirth et al., "MAROON: A Framework for the Joint Characterization of Near-Field
High-Resolution Radar and Optical Depth Imaging Techniques", 2024) stores a calibrated QAR50 frame
as a `.npy` file holding a pickled dict with `xr` (n_rx, n_tx, n_freq) complex and `fvec` (hertz),
and the antenna positions as `Tx.dat` / `Rx.dat` (CSV, header `x,y,z`, metres) with 96 rows of
which rows 1..94 (0-based, the same rows of `xr`) are the imaging antennas. Pickles can run code, so
the `.npy` is parsed here by a restricted unpickler that accepts only numpy arrays, dtypes and plain
Python containers.

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
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from radarface.io import atomic_path, open_hdf5
from radarface.radar.array import RadarArray, read_positions_csv

H5_FORMAT = "radarface-measurement"
H5_VERSION = 1
MAROON_ROWS = slice(1, 95)  # the 94 imaging antennas of a 96-row QAR50 antenna file

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


def _find_antenna_file(start: Path, name: str) -> Path:
    for folder in [start, *start.parents]:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{name} not found beside {start} or in its parents; pass the antenna files explicitly"
    )


def read_maroon(
    path: str | Path, tx_file: str | Path | None = None, rx_file: str | Path | None = None
) -> tuple[np.ndarray, RadarArray]:
    """A MAROON QAR50 capture -> (S (n_tx, n_rx, n_freq) complex64, its RadarArray).

    The antenna files default to `Tx.dat` / `Rx.dat` beside the capture or in a parent folder.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"measurement file not found: {path}")
    data = _load_npy_dict(path)
    for key in ("xr", "fvec"):
        if key not in data:
            raise ValueError(f"{path}: missing key '{key}'")
    xr = np.asarray(data["xr"])
    freq = np.asarray(data["fvec"], dtype=np.float64).ravel()
    tx_all = read_positions_csv(tx_file or _find_antenna_file(path.parent, "Tx.dat"))
    rx_all = read_positions_csv(rx_file or _find_antenna_file(path.parent, "Rx.dat"))
    for label, pos in (("Tx", tx_all), ("Rx", rx_all)):
        if len(pos) < MAROON_ROWS.stop:
            raise ValueError(f"{label} antenna file has {len(pos)} rows, expected 96 (QAR50)")
    if xr.ndim != 3 or xr.shape[0] < MAROON_ROWS.stop or xr.shape[1] < MAROON_ROWS.stop:
        raise ValueError(f"{path}: 'xr' has shape {xr.shape}, expected (96, 96, n_freq)")
    if xr.shape[2] != len(freq):
        raise ValueError(f"{path}: 'xr' has {xr.shape[2]} frequencies but 'fvec' {len(freq)}")
    s = np.ascontiguousarray(xr[MAROON_ROWS, MAROON_ROWS, :].transpose(1, 0, 2))
    array = RadarArray(tx_all[MAROON_ROWS], rx_all[MAROON_ROWS], freq)
    return _checked(s, array, path), array


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


def read_measurement_h5(path: str | Path) -> tuple[np.ndarray, RadarArray]:
    """Read radarface's HDF5 measurement format -> (S, RadarArray)."""
    path = Path(path)
    with open_hdf5(path, "measurement") as f:
        if f.attrs.get("format") != H5_FORMAT:
            raise ValueError(f"{path}: not a radarface measurement (attribute 'format' missing)")
        for key in ("s", "tx_m", "rx_m", "freq_hz"):
            if key not in f:
                raise ValueError(f"{path}: missing dataset '{key}'")
        array = RadarArray(f["tx_m"][()], f["rx_m"][()], f["freq_hz"][()])
        return _checked(f["s"][()], array, path), array


def read_measurement(
    path: str | Path, tx_file: str | Path | None = None, rx_file: str | Path | None = None
) -> tuple[np.ndarray, RadarArray]:
    """Read a measured capture: `.npy` (MAROON QAR50) or `.h5` / `.hdf5` (radarface format)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        return read_maroon(path, tx_file, rx_file)
    if suffix in (".h5", ".hdf5"):
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
