"""numpy-or-torch helpers that do not import torch (code accepting either stays light)."""

from __future__ import annotations

import sys
from typing import Any


def is_tensor(x: Any) -> bool:
    """True when `x` is a torch tensor; never imports torch (a tensor implies it is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_cuda(device: Any) -> bool:
    """True when `device` (a string, torch.device or None) names a CUDA device; imports torch
    only when a device is given."""
    if device is None:
        return False
    import torch

    return torch.device(device).type == "cuda"
