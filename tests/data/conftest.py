"""Fixtures: a small synthetic face model, a sparse array and tiny grid, a generated dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from radarface.data import DatasetConfig, build_config, generate_dataset
from radarface.radar import ImagingGrid, RadarArray, linear_sweep, qar50_array

FREQ_GHZ = "72:82:32"
PIXELS, PITCH_MM = 16, 4.0


@dataclass(frozen=True)
class Tiny:
    """A sparse QAR50 (every 6th TX and RX, 32 frequencies), a 16 x 16 grid, the bump model."""

    model_path: Path
    tx_csv: Path
    rx_csv: Path
    array: RadarArray
    grid: ImagingGrid

    def config(self, **kwargs) -> DatasetConfig:
        """A dataset configuration on this setup."""
        return build_config(
            array=self.array, grid=self.grid, face_model_path=self.model_path, **kwargs
        )

    def cli_args(self) -> list[str]:
        """The same setup as command-line options."""
        return [
            *("--pixels", str(PIXELS), "--pitch-mm", str(PITCH_MM), "--freq-ghz", FREQ_GHZ),
            *("--tx", str(self.tx_csv), "--rx", str(self.rx_csv)),
            *("--face-model", str(self.model_path)),
        ]


@pytest.fixture(scope="session")
def tiny(bump_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    root = tmp_path_factory.mktemp("tiny")
    qar50 = qar50_array(linear_sweep(72e9, 82e9, 32))
    array = RadarArray(qar50.tx_m[::6], qar50.rx_m[::6], qar50.freq_hz)
    csvs = []
    for name, pos in (("tx.csv", array.tx_m), ("rx.csv", array.rx_m)):
        (root / name).write_text(
            "x,y,z\n" + "".join(f"{x!r},{y!r},{z!r}\n" for x, y, z in pos.tolist())
        )
        csvs.append(root / name)
    grid = ImagingGrid(n_x=PIXELS, n_y=PIXELS, pitch_m=PITCH_MM * 1e-3)
    return Tiny(bump_model_path, csvs[0], csvs[1], array, grid)


@pytest.fixture(scope="session")
def tiny_dataset(tiny: Tiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete random dataset of 12 samples (3 validation), rendered in this process."""
    out = tmp_path_factory.mktemp("datasets") / "tiny"
    generate_dataset(out, tiny.config(n=12, seed=5, n_val=3), tiny.model_path, 1, progress=False)
    return out
