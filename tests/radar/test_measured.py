"""Measured-data readers: MAROON QAR50 layout, radarface HDF5, malformed and malicious files."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest

from radarface.radar import RadarArray, simulate_points
from radarface.radar.measured import read_maroon, read_measurement, write_measurement


@pytest.fixture(scope="module")
def capture(qar50: RadarArray) -> np.ndarray:
    return simulate_points(qar50, np.array([[0.004, -0.01, 0.25]]), np.array([1.0]))


def _write_positions(path: Path, pos: np.ndarray) -> None:
    path.write_text("x,y,z\n" + "".join(f"{x},{y},{z}\n" for x, y, z in pos))


def write_maroon(folder: Path, s: np.ndarray, array: RadarArray) -> Path:
    """A capture in the MAROON layout: 96-row antenna files, xr (96, 96, n_freq) with RX first."""
    ref = np.array([[-0.08, -0.076, 0.0]])
    _write_positions(folder / "Tx.dat", np.concatenate([ref, array.tx_m, -ref]))
    _write_positions(folder / "Rx.dat", np.concatenate([ref, array.rx_m, -ref]))
    xr = np.zeros((96, 96, array.n_freq), dtype=np.complex128)
    xr[1:95, 1:95] = s.transpose(1, 0, 2)
    (folder / "calibrated_data").mkdir()
    path = folder / "calibrated_data" / "000000.npy"
    np.save(path, {"xr": xr, "fvec": array.freq_hz, "number_of_measurements": 1})
    return path


def test_maroon_round_trip(tmp_path: Path, qar50: RadarArray, capture: np.ndarray) -> None:
    path = write_maroon(tmp_path, capture, qar50)
    s, array = read_measurement(path)  # antenna files found in the parent folder
    np.testing.assert_allclose(s, capture, rtol=1e-6)
    np.testing.assert_allclose(array.tx_m, qar50.tx_m)
    np.testing.assert_allclose(array.rx_m, qar50.rx_m)
    np.testing.assert_allclose(array.freq_hz, qar50.freq_hz)


def test_h5_round_trip(tmp_path: Path, qar50: RadarArray, capture: np.ndarray) -> None:
    path = tmp_path / "capture.h5"
    write_measurement(path, capture, qar50, subject="plate")
    s, array = read_measurement(path)
    np.testing.assert_array_equal(s, capture)
    np.testing.assert_array_equal(array.freq_hz, qar50.freq_hz)
    assert [p.name for p in tmp_path.iterdir()] == ["capture.h5"]  # no temporary left behind


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_pickle_is_rejected_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = np.empty((), dtype=object)
    payload[()] = {"xr": _Evil(marker), "fvec": np.arange(3.0)}
    path = tmp_path / "evil.npy"
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|O", "fortran_order": False, "shape": ()}
        )
        pickle.dump(payload, f, protocol=3)
    with pytest.raises(ValueError, match="rejected pickle payload \\(forbidden object"):
        read_maroon(path, tmp_path / "Tx.dat", tmp_path / "Rx.dat")
    assert not marker.exists()


def test_malformed_maroon_files(tmp_path: Path, qar50: RadarArray, capture: np.ndarray) -> None:
    path = write_maroon(tmp_path, capture, qar50)
    np.save(path, {"fvec": qar50.freq_hz})
    with pytest.raises(ValueError, match="missing key 'xr'"):
        read_maroon(path)
    np.save(path, {"xr": np.zeros((96, 96, 5), complex), "fvec": qar50.freq_hz})
    with pytest.raises(ValueError, match="5 frequencies"):
        read_maroon(path)
    np.save(path, np.zeros(4))
    with pytest.raises(ValueError, match="plain float64 array"):
        read_maroon(path)
    path.write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match="not a .npy file"):
        read_maroon(path)
    (tmp_path / "Tx.dat").write_text("a,b,c\n1,2,3\n")
    np.save(path, {"xr": np.zeros((96, 96, 2), complex), "fvec": [1.0, 2.0]})
    with pytest.raises(ValueError, match="expected header 'x,y,z'"):
        read_maroon(path)
    with pytest.raises(FileNotFoundError, match="measurement file not found"):
        read_maroon(tmp_path / "missing.npy")


def test_malformed_h5_files(tmp_path: Path, qar50: RadarArray, capture: np.ndarray) -> None:
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "radarface-measurement"
        f["tx_m"] = qar50.tx_m
    with pytest.raises(ValueError, match="missing dataset 's'"):
        read_measurement(path)
    with h5py.File(path, "w") as f:
        f["s"] = capture
    with pytest.raises(ValueError, match="not a radarface measurement"):
        read_measurement(path)
    nan = capture.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_measurement(tmp_path / "nan.h5", nan, qar50)
    assert not (tmp_path / "nan.h5").exists()
    with pytest.raises(ValueError, match="expected \\(94, 94, 128\\)"):
        write_measurement(tmp_path / "shape.h5", capture[:, :3], qar50)
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        read_measurement(path)
    with pytest.raises(ValueError, match="unknown measurement format"):
        read_measurement(tmp_path / "capture.mat")
