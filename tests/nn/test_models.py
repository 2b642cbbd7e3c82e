"""Encoder, decoder and autoencoder: shapes, ranges, frozen decoder, ability to overfit."""

from dataclasses import replace

import pytest
import torch

from radarface import params as P
from radarface.nn import Autoencoder, Decoder, Encoder, NetConfig

TINY = NetConfig(width=1 / 16, blocks=(1, 1, 1, 1), dropout=0.0)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("size", [64, 128])
def test_encoder_shapes_and_ranges(channels: int, size: int) -> None:
    torch.manual_seed(0)
    enc = Encoder(replace(TINY, in_channels=channels)).eval()
    out = enc(10 * torch.randn(3, channels, size, size))
    assert out.shape == (3, 26)
    assert out[:, : P.N_SHAPE + P.N_EXPRESSION].abs().max() <= 3
    assert out[:, P.POSE].abs().max() <= 1 and out[:, P.RENDERING].abs().max() <= 1


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("target", ["amplitude", "depth"])
def test_decoder_shapes_and_ranges(size: int, target: str) -> None:
    dec = Decoder(replace(TINY, image_size=size, decoder_target=target))
    img = dec(P.sample_prior(3)).detach()
    assert img.shape == (3, 1, size, size)
    if target == "amplitude":
        assert img.min() >= 0 and img.max() <= 1


def test_decoder_ignores_dynamic_range() -> None:
    dec = Decoder(TINY).eval()
    p = P.sample_prior(2)
    q = p.clone()
    q[:, P.DYNAMIC_RANGE] = 0.7
    assert torch.equal(dec(p), dec(q))


def test_autoencoder_keeps_decoder_frozen() -> None:
    torch.manual_seed(0)
    ae = Autoencoder(Encoder(TINY), Decoder(replace(TINY, image_size=64)))
    before = {k: v.clone() for k, v in ae.decoder.state_dict().items()}
    enc_before = ae.encoder.shape.fc.weight.clone()
    opt = torch.optim.Adam([p for p in ae.parameters() if p.requires_grad], lr=1e-2)
    ae.train()
    assert not ae.decoder.training and ae.encoder.training
    x = torch.rand(4, 1, 64, 64)
    for _ in range(3):
        params, recon = ae(x)
        loss = (recon - x).square().mean() + params.square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = ae.decoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(enc_before, ae.encoder.shape.fc.weight)
    assert all(not p.requires_grad for p in ae.decoder.parameters())


def test_encoder_overfits_tiny_batch() -> None:
    torch.manual_seed(0)
    enc = Encoder(TINY)
    x = torch.rand(4, 1, 64, 64)
    y = P.sample_prior(4, torch.Generator().manual_seed(1)).clamp(-2.5, 2.5) * 0.9
    opt = torch.optim.Adam(enc.parameters(), lr=3e-3)
    for _ in range(150):
        loss = (enc(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3
