"""Small synthetic datasets whose images are smooth functions of the 26 parameters."""

import torch
from torch.utils.data import Dataset

from radarface import params as P


class SyntheticFaces(Dataset):
    """n items: (image (C,S,S), params (26,)), or (params, amplitude (1,S,S)) if `decoder`."""

    def __init__(
        self, n: int, size: int = 64, channels: int = 1, decoder: bool = False, seed: int = 0
    ) -> None:
        g = torch.Generator().manual_seed(seed)
        basis_g = torch.Generator().manual_seed(1234)  # the same image model for every split
        self.params = P.sample_prior(n, g)
        if decoder:  # the learned renderer works at a fixed dynamic range
            self.params[:, P.DYNAMIC_RANGE] = P.DECODER_DYNAMIC_RANGE_SCALED
        ax = torch.linspace(-1, 1, size)
        yy, xx = torch.meshgrid(ax, ax, indexing="ij")
        freq = torch.randint(0, 3, (2, P.N_PARAMS, 2), generator=basis_g).float()
        phase = torch.rand(2, P.N_PARAMS, 1, 1, generator=basis_g) * 6.28
        basis = torch.cos(
            torch.pi * (freq[..., 0, None, None] * xx + freq[..., 1, None, None] * yy) + phase
        )  # (2, 26, S, S)
        z = torch.einsum("nk,ckhw->nchw", self.params, basis) / P.N_PARAMS**0.5
        self.images = torch.cat([torch.sigmoid(z[:, :1]), torch.tanh(z[:, 1:])], 1)[:, :channels]
        self.decoder = decoder

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.decoder:
            return self.params[i], self.images[i, :1]
        return self.images[i], self.params[i]
