"""Generic training loop: device and DDP setup, checkpoints with RNG state, logging, validation."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from radarface.eval.metrics import ParamMetric, evaluate_params
from radarface.io import atomic_path, provenance, write_json
from radarface.train.config import TrainConfig

CHECKPOINT = "checkpoint.pt"
Batch = list[torch.Tensor]
LossOutput = tuple[torch.Tensor, dict[str, torch.Tensor], tuple[torch.Tensor, torch.Tensor] | None]
LossFn = Callable[[nn.Module, Batch], LossOutput]
"""(model, batch) -> (loss, named loss parts, (pred params (B,26), true params (B,26)) or None)."""


#: What a run directory holds (`train_loop`); --overwrite removes exactly these.
RUN_FILES = (CHECKPOINT, "config.json", "metrics.json", "tensorboard")


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint written by `train_loop` (tensors and plain types: weights_only=True);
    a one-line ValueError naming the file when it is empty, truncated or holds anything else
    (never advice to load it unsafely)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # e.g. torch's note on a foreign pickle protocol
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types: EOFError, UnpicklingError, RuntimeError
        reason = "empty file" if path.stat().st_size == 0 else type(err).__name__
        raise ValueError(
            f"{path}: not a radarface checkpoint ({reason}); it is not loaded (only tensors and "
            "plain types are); retrain the run, or resume from an intact copy"
        ) from None


def check_run_dir(out_dir: Path, resume: bool, overwrite: bool) -> list[Path]:
    """Refuse, with a one-line ValueError, to train over an existing run without --resume or
    --overwrite, to resume where there is no checkpoint, or to write into a file or a folder
    that is not a run; returns the old run's files that `overwrite` replaces."""
    if resume and overwrite:
        raise ValueError("give --resume or --overwrite, not both")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} is a file, not a run directory")
    present = [n for n in RUN_FILES if (out_dir / n).exists()] if out_dir.is_dir() else []
    if resume:
        if CHECKPOINT not in present:
            raise ValueError(
                f"--resume: {out_dir} holds no {CHECKPOINT} to continue (a mistyped path, or a "
                "run stopped before its first epoch: start it without --resume)"
            )
        return []
    if present and not overwrite:
        raise ValueError(
            f"{out_dir} already holds a training run; continue it with --resume or replace it "
            "with --overwrite"
        )
    if out_dir.is_dir() and not present and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} is not empty and not a training run; choose another --out")
    return [out_dir / name for name in present]


def _rng_state() -> dict[str, Any]:
    """This process's torch, CUDA, numpy and python RNG states as tensors and plain types."""
    _, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (datasets may use it)
    version, state, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": version,
            "state": torch.tensor(state, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of `_rng_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            "MT19937",
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"].tolist()), p["gauss_next"]))


def _seed_everything(seed: int) -> None:
    """Seed torch, numpy and python's RNGs."""
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002
    random.seed(seed)


def _init_distributed() -> tuple[int, int, bool]:
    """Join a torchrun-style process group when WORLD_SIZE > 1: (rank, world size, we own it)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size(), True
    return 0, 1, False


def _device(cfg: TrainConfig) -> torch.device:
    """cfg.device, where "auto" is cuda:LOCAL_RANK when CUDA is present and cpu otherwise."""
    from radarface.render import check_device

    check_device(cfg.device, allow_auto=True)
    if cfg.device != "auto":
        return torch.device(cfg.device)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def _to_device(batch: Batch, device: torch.device, channels_last: bool) -> Batch:
    """Move a batch; 4-D tensors become channels_last when asked."""
    out = [t.to(device, non_blocking=True) for t in batch]
    if channels_last:
        out = [t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t for t in out]
    return out


def _mean_over_ranks(values: dict[str, float], world: int) -> dict[str, float]:
    """Average a dict of floats over all ranks."""
    if world == 1:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64)
    dist.all_reduce(t)
    return dict(zip(values, (t / world).tolist(), strict=True))


@torch.no_grad()
def validate(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: LossFn,
    device: torch.device,
    cfg: TrainConfig,
    metrics: Mapping[str, ParamMetric] | None = None,
) -> dict[str, float]:
    """Mean loss and its parts over `loader`, plus parameter errors and `metrics` if the stage
    predicts parameters."""
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    preds, trues = [], []
    channels_last = cfg.channels_last and device.type == "cpu"
    for raw in loader:
        batch = _to_device(list(raw), device, channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            loss, parts, params = loss_fn(model, batch)
        b = batch[0].shape[0]
        n += b
        for k, v in {"loss": loss, **parts}.items():
            sums[k] = sums.get(k, 0.0) + v.item() * b
        if params is not None:
            preds.append(params[0].float().cpu())
            trues.append(params[1].float().cpu())
    means = {k: v / n for k, v in sums.items()}
    if preds:
        means |= evaluate_params(torch.cat(preds), torch.cat(trues), metrics)
    return means


def _train_epoch(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    cfg: TrainConfig,
    desc: str,
    show: bool,
) -> dict[str, float]:
    """One pass over `loader` with optimizer steps: mean loss and loss parts over the steps."""
    model.train()
    channels_last = cfg.channels_last and device.type == "cpu"
    sums: dict[str, float] = {}
    steps = 0
    bar = tqdm(loader, desc=desc, leave=False, disable=not show)
    for raw in bar:
        batch = _to_device(list(raw), device, channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            loss, parts, _ = loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps += 1
        for k, v in {"loss": loss, **parts}.items():
            sums[k] = sums.get(k, 0.0) + v.item()
        bar.set_postfix(loss=f"{loss.item():.4g}")
    return {k: v / max(steps, 1) for k, v in sums.items()}


@contextlib.contextmanager
def _summary_writer(log_dir: Path, enabled: bool) -> Iterator[Any]:
    """A TensorBoard SummaryWriter on the writing rank, None elsewhere."""
    if not enabled:
        yield None
        return
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        yield writer
    finally:
        writer.close()


def train_loop(
    build_model: Callable[[], nn.Module],
    loss_fn: LossFn,
    train_ds: Dataset,
    val_ds: Dataset,
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    stage: str,
    resume: bool = False,
    overwrite: bool = False,
    metrics: Mapping[str, ParamMetric] | None = None,
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Seed, build the model and train it with AdamW (trainable parameters); checkpoint each epoch.

    out_dir must be new or empty, or hold a run to continue (`resume`) or to replace
    (`overwrite`): see `check_run_dir`.

    Works single-process and under torchrun (DDP, DistributedSampler, rank 0 writes). Returns
    {"epoch", "train": mean loss parts, "val": validation metrics} of the last epoch; `metrics`
    (name -> per-sample metric of predicted and true parameters) join the validation metrics.
    """
    out_dir = Path(out_dir)
    replaced = check_run_dir(out_dir, resume, overwrite)
    rank, world, own_group = _init_distributed()
    for path in replaced if rank == 0 else []:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    device = _device(cfg)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    _seed_everything(cfg.seed + rank)
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(cfg.deterministic or was_deterministic)
    channels_last = cfg.channels_last and device.type == "cpu"
    model = build_model().to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: cfg.lr_factor(e))

    start_epoch, history = 0, []
    ckpt_path = out_dir / CHECKPOINT
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        _set_rng_state(ckpt["rng"][rank])
        start_epoch, history = ckpt["epoch"] + 1, ckpt["history"]

    ddp = (
        DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if world > 1
        else model
    )
    sampler = DistributedSampler(
        train_ds, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed
    )
    train_loader = DataLoader(
        train_ds,
        cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        pin_memory=device.type == "cuda",
    )
    val_loader = DataLoader(val_ds, cfg.batch_size, num_workers=cfg.num_workers)
    if rank == 0:
        write_json(
            out_dir / "config.json",
            provenance(
                stage=stage, config=cfg, seed=cfg.seed, world_size=world, **(run_info or {})
            ),
        )

    with _summary_writer(out_dir / "tensorboard", rank == 0) as writer:
        for epoch in range(start_epoch, cfg.epochs):
            sampler.set_epoch(epoch)
            if hasattr(train_ds, "set_epoch"):  # per-epoch draws, e.g. sampled dynamic ranges
                train_ds.set_epoch(epoch)
            train = _train_epoch(
                ddp,
                train_loader,
                loss_fn,
                optimizer,
                device,
                cfg,
                f"{stage} {epoch + 1}/{cfg.epochs}",
                show=cfg.progress and rank == 0,
            )
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            train = _mean_over_ranks(train, world)
            val = [
                validate(model, val_loader, loss_fn, device, cfg, metrics) if rank == 0 else None
            ]
            if world > 1:
                dist.broadcast_object_list(val, src=0)
            history.append({"epoch": epoch, "lr": lr, "train": train, "val": val[0]})
            rng = [_rng_state()]
            if world > 1:
                rng = [None] * world
                dist.all_gather_object(rng, _rng_state())
            if rank == 0:
                for k, v in train.items():
                    writer.add_scalar(f"train/{k}", v, epoch)
                for k, v in val[0].items():
                    writer.add_scalar(f"val/{k}", v, epoch)
                writer.add_scalar("lr", lr, epoch)
                state = {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": epoch,
                    "rng": rng,
                    "data_order": {"sampler_seed": cfg.seed, "next_epoch": epoch + 1},
                    "history": history,
                }
                with atomic_path(ckpt_path) as tmp:
                    torch.save(state, tmp)
                if cfg.progress:
                    tqdm.write(
                        f"{stage} epoch {epoch + 1}/{cfg.epochs}: train {train['loss']:.4g}, "
                        f"val {val[0]['loss']:.4g}"
                    )
            if world > 1:
                dist.barrier()

    result = {**history[-1]} if history else {}
    if rank == 0:
        write_json(out_dir / "metrics.json", {"final": result, "history": history})
    torch.use_deterministic_algorithms(was_deterministic)
    if own_group:
        dist.destroy_process_group()
    return result
