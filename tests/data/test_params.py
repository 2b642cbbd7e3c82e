"""Parameter vector layout and rendering-parameter scaling."""

import torch

from radarface.data import params as P


def test_layout_covers_26_values_once() -> None:
    covered = sorted(i for s in P.GROUPS.values() for i in range(P.N_PARAMS)[s])
    assert covered == list(range(P.N_PARAMS))
    assert [P.DYNAMIC_RANGE, P.MATERIAL, P.ANTENNA_SIZE] == list(range(P.N_PARAMS)[P.RENDERING])


def test_rendering_scaling_round_trip() -> None:
    phys = torch.tensor([[15.0, 0.0, 0.2], [30.0, 1.0, 0.3], [22.5, 0.5, 0.25]])
    scaled = P.scale_rendering(phys)
    assert torch.allclose(scaled, torch.tensor([[-1.0] * 3, [1.0] * 3, [0.0] * 3]), atol=1e-6)
    assert torch.allclose(P.unscale_rendering(scaled), phys, atol=1e-5)
    assert P.DECODER_DYNAMIC_RANGE_SCALED == -1.0


def test_prior_ranges() -> None:
    x = P.sample_prior(4000, torch.Generator().manual_seed(0))
    assert x.shape == (4000, 26)
    assert abs(x[:, P.SHAPE].std().item() - 1) < 0.05
    assert x[:, P.POSE].abs().max() <= 1 and x[:, P.RENDERING].abs().max() <= 1
