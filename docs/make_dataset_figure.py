"""docs/figures/dataset_grid.png: a grid of samples of a generated dataset (default ict-small).

radarface dataset generate --out /work/data/ict-small --n 240 --seed 0
python docs/make_dataset_figure.py /work/data/ict-small
"""

from __future__ import annotations

import sys
from pathlib import Path

from radarface.data import grid_figure

OUT = Path(__file__).parent / "figures" / "dataset_grid.png"


def main(path: str = "/work/data/ict-small") -> None:
    """The first 24 samples: amplitude at 20 dB above depth, 8 a row."""
    print(f"wrote {grid_figure(path, OUT, list(range(24)), columns=8)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
