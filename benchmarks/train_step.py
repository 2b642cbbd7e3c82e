"""CPU/GPU time per training step of encoder, decoder and autoencoder (fp32 vs bf16 autocast).

python benchmarks/train_step.py --preset cpu --size 128 --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch

from radarface import params as P
from radarface.nn import Autoencoder, Decoder, Encoder, NetConfig


def step_seconds(
    model: torch.nn.Module, inputs: torch.Tensor, bf16: bool, channels_last: bool, repeats: int
) -> float:
    """Median seconds of forward + MSE-style loss + backward + Adam step."""
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        if inputs.ndim == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(inputs)
        outs = out if isinstance(out, tuple) else (out,)
        loss = sum(o.float().square().mean() for o in outs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[repeats // 2]


def main() -> None:
    """Print seconds per step for each stage and precision."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", choices=["paper", "cpu"], default="cpu")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-channels-last", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    make = NetConfig.paper if args.preset == "paper" else NetConfig.cpu
    cfg = make(in_channels=args.channels, image_size=args.size)
    images = torch.rand(50, args.channels, args.size, args.size)
    cases = {
        "encoder (batch 50)": (lambda: Encoder(cfg), images),
        "decoder (batch 150)": (lambda: Decoder(cfg), P.sample_prior(150)),
        "autoencoder (batch 50)": (lambda: Autoencoder(Encoder(cfg), Decoder(cfg)), images),
    }
    for name, (build, inputs) in cases.items():
        for bf16 in (False, True):
            s = step_seconds(build(), inputs, bf16, not args.no_channels_last, args.repeats)
            print(f"{name:24s} {'bf16' if bf16 else 'fp32'}: {s:.3f} s/step", flush=True)


if __name__ == "__main__":
    main()
