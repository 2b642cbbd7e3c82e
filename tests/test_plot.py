"""The PNGs of a radar image: matplotlib's colour mapping, without its figure machinery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.image import imsave

from radarface.plot import save_png


def test_save_png_writes_what_imsave_writes(tmp_path: Path) -> None:
    data = np.random.default_rng(0).uniform(0.3, 0.9, (12, 17))
    data[2, 3] = np.nan  # masked: transparent
    for cmap, vmin, vmax in (("gray", 0.0, 1.0), ("viridis_r", 0.4, 0.8)):
        ours = save_png(tmp_path / "ours.png", data, cmap, vmin, vmax)
        imsave(tmp_path / "imsave.png", data, cmap=cmap, vmin=vmin, vmax=vmax, format="png")
        assert ours.read_bytes() == (tmp_path / "imsave.png").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imsave.png", "ours.png"]
