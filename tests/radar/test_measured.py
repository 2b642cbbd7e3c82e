"""Measured-data readers: MAROON captures as they ship, radarface HDF5, bad and malicious files."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest

from radarface.radar import (
    RadarArray,
    linear_sweep,
    qar50_array,
    read_positions_csv,
    simulate_points,
)
from radarface.radar.measured import (
    empty_filtered_path,
    maroon_to_radar,
    read_maroon,
    read_measurement,
    write_measurement,
)

FIXTURES = Path(__file__).parent / "fixtures"
MAROON_TX, MAROON_RX = FIXTURES / "maroon_qar50sc_Tx.dat", FIXTURES / "maroon_qar50sc_Rx.dat"


@pytest.fixture(scope="module")
def coarse() -> RadarArray:
    """The QAR50 with 8 frequencies: MAROON-layout files stay small."""
    return qar50_array(linear_sweep(72e9, 82e9, 8))


@pytest.fixture(scope="module")
def capture(coarse: RadarArray) -> np.ndarray:
    return simulate_points(coarse, np.array([[0.004, -0.01, 0.25]]), np.array([1.0]))


def maroon_xr(s: np.ndarray, rows: int = 96) -> np.ndarray:
    """S (n_tx, n_rx, n_freq) as MAROON's xr (rows, rows, n_freq), RX first; the outlier rows 0
    and 95 of a 96 x 96 array hold a constant that must not reach the image."""
    if rows == s.shape[0]:
        return s.transpose(1, 0, 2).astype(np.complex128)
    xr = np.full((rows, rows, s.shape[2]), 1e3 + 0j)
    xr[1:-1, 1:-1] = s.transpose(1, 0, 2)
    return xr


def write_maroon(
    folder: Path, s: np.ndarray, array: RadarArray, rows: int = 96, name: str = "000000"
) -> Path:
    """A capture as MAROON ships it: calibrated_data/NAME.npy (xr, fvec, number_of_measurements)."""
    (folder / "calibrated_data").mkdir(exist_ok=True)
    path = folder / "calibrated_data" / f"{name}.npy"
    xr = maroon_xr(s, rows) if s.ndim == 3 else np.stack([maroon_xr(f, rows) for f in s])
    np.save(path, {"xr": xr, "fvec": array.freq_hz, "number_of_measurements": 1})
    return path


def test_qar50_is_maroons_published_geometry() -> None:
    tx, rx = read_positions_csv(MAROON_TX), read_positions_csv(MAROON_RX)
    assert tx.shape == rx.shape == (96, 3)
    array = qar50_array()
    np.testing.assert_array_equal(array.tx_m, tx[1:95])
    np.testing.assert_array_equal(array.rx_m, rx[1:95])
    # The end antennas of the TX columns (file rows 1, 47, 48, 94) sit 1.5 mm further out.
    assert np.allclose(np.abs(tx[[1, 47, 48, 94], 0]), 72.0e-3)
    assert np.allclose(np.abs(np.delete(tx[1:95], [0, 46, 47, 93], axis=0)[:, 0]), 70.5e-3)


@pytest.mark.parametrize(
    ("rows", "layout"),
    [(96, "96 x 96 (outlier rows 0 and 95 dropped)"), (94, "94 x 94 (already cut)")],
)
def test_maroon_layouts_96_and_94(
    tmp_path: Path, coarse: RadarArray, capture: np.ndarray, rows: int, layout: str
) -> None:
    path = write_maroon(tmp_path, capture, coarse, rows)
    m = read_measurement(path)  # the built-in QAR50 geometry: no antenna files needed
    np.testing.assert_allclose(m.s, capture, rtol=1e-6)
    np.testing.assert_array_equal(m.array.tx_m, qar50_array().tx_m)
    np.testing.assert_array_equal(m.array.freq_hz, coarse.freq_hz)
    assert m.info["layout"] == layout and m.info["frames_averaged"] == 1
    assert m.info["masked_pairs"] == 0 and m.pairs.all()
    assert m.info["number_of_measurements"] == 1 and not m.info["empty_filtered"]


def test_maroon_antenna_files(tmp_path: Path, coarse: RadarArray, capture: np.ndarray) -> None:
    path = write_maroon(tmp_path, capture, coarse)
    m = read_maroon(path, MAROON_TX, MAROON_RX)  # MAROON's own files give the same array
    np.testing.assert_array_equal(m.array.tx_m, coarse.tx_m)
    np.testing.assert_array_equal(m.array.rx_m, coarse.rx_m)
    assert str(MAROON_TX) in m.info["antennas"]
    np.save(path, {"xr": np.ones((95, 95, 8), complex), "fvec": coarse.freq_hz})
    with pytest.raises(ValueError, match="95 x 95 antenna pairs, expected 96 x 96 .* or 94 x 94"):
        read_maroon(path)
    with pytest.raises(ValueError, match="give both antenna files"):
        read_maroon(path, MAROON_TX)


def test_frames_are_averaged(tmp_path: Path, coarse: RadarArray, capture: np.ndarray) -> None:
    frames = np.stack([capture, 2 * capture, 3 * capture])
    frames[1, 3, 5] = 0  # pair (3, 5) missed one frame: the mean of the other two
    m = read_maroon(write_maroon(tmp_path, frames, coarse))
    expected = 2 * capture
    expected[3, 5] = 2 * capture[3, 5]  # (1 + 3) / 2
    np.testing.assert_allclose(m.s, expected, rtol=1e-6)
    assert m.info["frames_averaged"] == 3 and m.info["pairs_missing_in_some_frames"] == 1
    assert m.pairs.all()


def test_zero_pairs_are_masked_and_reported(
    tmp_path: Path, coarse: RadarArray, capture: np.ndarray
) -> None:
    s = capture.copy()
    s[5] = 0  # TX 5 switched off
    s[2, 7] = 0  # one failed pair
    m = read_maroon(write_maroon(tmp_path, s, coarse))
    assert m.info["masked_pairs"] == 95 and m.info["masked_tx"] == [5] and m.info["masked_rx"] == []
    expected = np.ones((94, 94), bool)
    expected[5], expected[2, 7] = False, False
    np.testing.assert_array_equal(m.pairs, expected)
    np.save(
        write_maroon(tmp_path, s, coarse),
        {"xr": np.zeros((96, 96, 8), complex), "fvec": coarse.freq_hz},
    )
    with pytest.raises(ValueError, match="no signal"):
        read_maroon(tmp_path / "calibrated_data" / "000000.npy")


def test_empty_filtered_twin(tmp_path: Path, coarse: RadarArray, capture: np.ndarray) -> None:
    path = write_maroon(tmp_path, capture, coarse)
    with pytest.raises(FileNotFoundError, match="empty-room-filtered capture not found"):
        read_measurement(path, empty_filtered=True)
    twin = write_maroon(tmp_path, 0.5 * capture, coarse, name="000000_emptyfiltered")
    assert empty_filtered_path(path) == twin == empty_filtered_path(twin)
    m = read_measurement(path, empty_filtered=True)
    np.testing.assert_allclose(m.s, 0.5 * capture, rtol=1e-6)
    assert m.info["empty_filtered"] and m.info["file"] == str(twin)
    assert not read_measurement(path).info["empty_filtered"]


def test_maroon_frame_is_x_mirrored() -> None:
    points = np.array([[0.01, -0.02, 0.3], [-0.03, 0.04, 0.25]])
    np.testing.assert_array_equal(maroon_to_radar(points), points * [-1, 1, 1])
    np.testing.assert_array_equal(maroon_to_radar(maroon_to_radar(points)), points)


def test_h5_round_trip(tmp_path: Path, coarse: RadarArray, capture: np.ndarray) -> None:
    path = tmp_path / "capture.h5"
    write_measurement(path, capture, coarse, subject="plate")
    m = read_measurement(path)
    np.testing.assert_array_equal(m.s, capture)
    np.testing.assert_array_equal(m.array.freq_hz, coarse.freq_hz)
    assert m.info["format_version"] == 1 and m.info["masked_pairs"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["capture.h5"]  # no temporary left behind


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_h5_unknown_format_version(
    tmp_path: Path, coarse: RadarArray, capture: np.ndarray, version
) -> None:
    path = tmp_path / "capture.h5"
    write_measurement(path, capture, coarse)
    with h5py.File(path, "r+") as f:
        if version is None:
            del f.attrs["format_version"]
        else:
            f.attrs["format_version"] = version
    with pytest.raises(ValueError, match="format_version .* is not supported") as err:
        read_measurement(path)
    assert "\n" not in str(err.value)


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


def test_malformed_maroon_files(tmp_path: Path, coarse: RadarArray, capture: np.ndarray) -> None:
    path = write_maroon(tmp_path, capture, coarse)
    np.save(path, {"fvec": coarse.freq_hz})
    with pytest.raises(ValueError, match="missing key 'xr'"):
        read_maroon(path)
    np.save(path, {"xr": np.zeros((96, 96, 5), complex), "fvec": coarse.freq_hz})
    with pytest.raises(ValueError, match="5 frequencies"):
        read_maroon(path)
    np.save(path, {"xr": np.zeros((96, 96), complex), "fvec": coarse.freq_hz})
    with pytest.raises(ValueError, match="expected \\(96, 96, n_freq\\)"):
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
        read_maroon(path, tmp_path / "Tx.dat", MAROON_RX)
    with pytest.raises(FileNotFoundError, match="measurement file not found"):
        read_maroon(tmp_path / "missing.npy")


def test_malformed_h5_files(tmp_path: Path, coarse: RadarArray, capture: np.ndarray) -> None:
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "radarface-measurement"
        f.attrs["format_version"] = 1
        f["tx_m"] = coarse.tx_m
    with pytest.raises(ValueError, match="missing dataset 's'"):
        read_measurement(path)
    with h5py.File(path, "w") as f:
        f["s"] = capture
    with pytest.raises(ValueError, match="not a radarface measurement"):
        read_measurement(path)
    nan = capture.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_measurement(tmp_path / "nan.h5", nan, coarse)
    assert not (tmp_path / "nan.h5").exists()
    with pytest.raises(ValueError, match="expected \\(94, 94, 8\\)"):
        write_measurement(tmp_path / "shape.h5", capture[:, :3], coarse)
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        read_measurement(path)
    with pytest.raises(ValueError, match="unknown measurement format"):
        read_measurement(tmp_path / "capture.mat")
