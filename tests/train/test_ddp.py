"""The DistributedDataParallel path on CPU: gloo backend, 2 processes, tiny model, 1 epoch."""

import json
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
from synthetic import SyntheticFaces

from radarface.nn import NetConfig
from radarface.train import TrainConfig, load_checkpoint, train_stage


def _worker(rank: int, out_dir: str, port: int) -> None:
    os.environ |= {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": "2",
    }
    torch.set_num_threads(1)
    cfg = TrainConfig.preset(
        "cpu",
        "encoder",
        net=NetConfig(width=1 / 16, blocks=(1, 1, 1, 1)),
        epochs=1,
        batch_size=4,
        progress=False,
    )
    result = train_stage("encoder", SyntheticFaces(16), SyntheticFaces(8, seed=1), cfg, out_dir)
    Path(out_dir, f"result{rank}.json").write_text(json.dumps(result))


def test_ddp_gloo_two_processes(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(str(tmp_path), port), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"result{r}.json").read_text()) for r in (0, 1))
    assert r0 == r1 and r0["epoch"] == 0
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert len(ckpt["rng"]) == 2
    assert json.loads((tmp_path / "config.json").read_text())["world_size"] == 2
