"""The PNGs of a radar image: matplotlib's colour mapping, without its figure machinery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imsave

from radarface.plot import save_png
from radarface.radar import RadarImage


def test_save_png_writes_what_imsave_writes(tmp_path: Path) -> None:
    data = np.random.default_rng(0).uniform(0.3, 0.9, (12, 17))
    data[2, 3] = np.nan  # masked: transparent
    for cmap, vmin, vmax in (("gray", 0.0, 1.0), ("viridis_r", 0.4, 0.8)):
        ours = save_png(tmp_path / "ours.png", data, cmap, vmin, vmax)
        imsave(tmp_path / "imsave.png", data, cmap=cmap, vmin=vmin, vmax=vmax, format="png")
        assert ours.read_bytes() == (tmp_path / "imsave.png").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imsave.png", "ours.png"]


def _image(depth_m: np.ndarray) -> RadarImage:
    """A 6 x 8 image whose unmasked depths are `depth_m` (6, 8)."""
    max_db = np.linspace(-30, 0, depth_m.size).reshape(depth_m.shape).astype(np.float32)
    mask = max_db >= -20
    return RadarImage(
        amplitude=np.clip((max_db + 20) / 20, 0, 1),
        depth_m=np.where(mask, depth_m, np.nan),
        mask=mask,
        x_m=np.linspace(0.01, -0.01, 8),
        y_m=np.linspace(0.01, -0.01, 6),
        max_db=max_db,
        peak_depth_m=depth_m,
        dynamic_range_db=20.0,
    )


def test_depth_colours_are_fixed_by_the_grid_range(tmp_path: Path) -> None:
    """With the grid's depth range, a depth has one colour whatever the image's own spread."""
    from PIL import Image

    from radarface.plot import save_image_pngs

    near = np.full((6, 8), 0.30)
    near[-1, 0] = 0.28
    spread = near.copy()
    spread[-1, -1] = 0.34  # the brightest pixel, far away: stretches a per-image range
    colours = []
    for k, depth in enumerate((near, spread)):
        (tmp_path / str(k)).mkdir()
        save_image_pngs(tmp_path / str(k), _image(depth), (0.225, 0.36))
        colours.append(np.asarray(Image.open(tmp_path / str(k) / "depth.png"))[-1, -2])
    assert np.array_equal(colours[0], colours[1])


def test_image_figure_is_labelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Amplitude in dB down to the dynamic range, depth in mm over the grid's range, axes in mm."""
    import radarface.plot as plot

    drawn = []
    real_save = plot.save_figure

    def spy(fig, path):
        drawn.append(fig)
        return real_save(fig, path)

    monkeypatch.setattr(plot, "save_figure", spy)
    path = plot.image_figure(tmp_path / "f.png", _image(np.full((6, 8), 0.3)), (0.225, 0.36), "t")
    assert path.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]
    amplitude, depth, amplitude_bar, depth_bar = drawn[0].axes
    assert amplitude.images[0].get_clim() == (-20.0, 0.0)
    assert depth.images[0].get_clim() == pytest.approx((225.0, 360.0))
    assert amplitude_bar.get_ylabel() == "amplitude (dB re peak)"
    assert depth_bar.get_ylabel() == "depth z (mm)"
    assert {amplitude.get_xlabel(), amplitude.get_ylabel()} == {"-x (mm)", "y (mm)"}
    assert amplitude.images[0].get_extent() == pytest.approx([-10, 10, -10, 10])
