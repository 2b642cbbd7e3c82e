"""Test-time optimisation through the learned renderer (paper Sec. 3.4, Fig. 4).

With encoder and renderer frozen, the encoder's estimate p0 (B, 26) is refined on the image loss

    L(p) = mean (D(p) - I_15)^2 + w * mean(p_face^2),

D the learned renderer, I_15 the input image at the renderer's 15 dB, p_face the 17 shape and
expression coefficients (an optional Gaussian prior of weight w, 0 in the paper). The dynamic
range entry does not enter D (it renders at 15 dB) and stays as estimated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from radarface import params as P


@dataclass(frozen=True)
class RefineConfig:
    """Steps, learning rate (Adam) and prior weight of a test-time optimisation."""

    steps: int = 100
    lr: float = 0.01
    prior_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.steps < 0 or not self.lr > 0 or self.prior_weight < 0:
            raise ValueError(
                f"refinement needs steps >= 0, lr > 0 and prior weight >= 0, got {self}"
            )


def coefficient_prior(vector: torch.Tensor) -> torch.Tensor:
    """(B,) mean square of the shape and expression coefficients of (B, 26) vectors."""
    return vector[:, : P.POSE.start].square().mean(1)


def refine_learned(
    decoder: nn.Module, start: torch.Tensor, target: torch.Tensor, config: RefineConfig
) -> tuple[torch.Tensor, list[float]]:
    """Refined (B, 26) vectors from `start` against the 15 dB images `target` (B, 1, S, S);
    returns them with the mean loss before each step and after the last."""
    vector = start.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([vector], lr=config.lr)
    history = []

    def loss() -> torch.Tensor:
        image = (decoder(vector) - target).square().mean((1, 2, 3))
        return (image + config.prior_weight * coefficient_prior(vector)).mean()

    for _ in range(config.steps):
        optimiser.zero_grad()
        value = loss()
        value.backward()
        optimiser.step()
        history.append(float(value.detach()))
    with torch.no_grad():
        history.append(float(loss()))
    return vector.detach(), history
