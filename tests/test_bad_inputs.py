"""Bad inputs to every command: a one-line error on stderr, a non-zero exit, no traceback and
no partial output (nothing written or changed), in-process with typer's CliRunner on tiny
inputs. The README's reliability section promises what this table checks."""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from radarface.cli import app
from radarface.data import build_config, generate_dataset
from radarface.facemodel import load_face_model, save_model
from radarface.io import provenance
from radarface.radar import ImagingGrid, RadarArray, linear_sweep, qar50_array
from radarface.radar.imaging import backprojection_bytes
from radarface.render import MESH_UNITS_M
from radarface.resources import available_memory_bytes
from radarface.train import TrainConfig

FREQ = "72:82:16"
SMALL = ["--pixels", "8", "--pitch-mm", "8", "--freq-ghz", FREQ]


class _Payload:
    """A pickle that would create `marker` when loaded (it must never be)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _face_mesh(vertices_m: np.ndarray, path: Path, scale: float) -> Path:
    """A 6 x 6 cm bumped sheet 25 cm in front of the array, written in units of `scale` m."""
    faces = trimesh.creation.box().faces  # any closed triangle list over 8 vertices
    trimesh.Trimesh(vertices_m / scale, faces, process=False).export(path)
    return path


@pytest.fixture(scope="module")
def inputs(bump_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every bad (and the few good) input files the table needs, in one folder."""
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "empty.npz").write_bytes(b"")
    (root / "truncated.npz").write_bytes(bump_model_path.read_bytes()[:3000])
    (root / "model.txt").write_text("not a model\n")
    model = load_face_model(bump_model_path)
    arrays = dict(np.load(bump_model_path))
    arrays["mean_m"] = arrays["mean_m"].copy()
    arrays["mean_m"][0, 0] = np.inf
    np.savez(root / "inf_model.npz", **arrays)
    box = trimesh.creation.box(extents=(0.06, 0.06, 0.03)).vertices + [0, 0, 0.28]
    _face_mesh(box, root / "mm_as_m.ply", MESH_UNITS_M["mm"])  # a mm file, read in m
    _face_mesh(box, root / "m_as_mm.ply", MESH_UNITS_M["m"])  # a m file, read in mm
    (root / "garbage.ply").write_bytes(b"ply\nformat nonsense\n\x00\x01")
    for name, mesh in (("units", "mm_as_m.ply"), ("unreadable", "garbage.ply")):
        (root / f"meshes-{name}").mkdir()
        (root / f"meshes-{name}" / "scan1.ply").write_bytes((root / mesh).read_bytes())
    (root / "no-meshes").mkdir()
    (root / "points-text.csv").write_text("x_m,y_m,z_m,amplitude\n0,0,abc,1\n")
    (root / "points-far.csv").write_text("x_m,y_m,z_m,amplitude\n0,0,5.0,1\n")
    (root / "points.csv").write_text("x_m,y_m,z_m,amplitude\n0,0,0.3,1\n")
    (root / "capture.txt").write_text("0\n")
    (root / "marker-dir").mkdir()
    np.save(root / "hostile.npy", np.array(_Payload(root / "marker-dir" / "pwned"), dtype=object))
    np.save(root / "bad-shape.npy", {"xr": np.zeros((4, 4, 2), complex), "fvec": [1e9, 2e9]})
    _huge_capture(root / "huge.h5")
    (root / "a-file").write_text("a file where a folder must be\n")
    # Runs: a finished-looking run, a hostile and an empty checkpoint with valid configs.
    dataset = _tiny_dataset(root / "dataset", bump_model_path)
    record = provenance(
        stage="encoder",
        config=TrainConfig.preset("cpu", "encoder"),
        input="amplitude",
        dataset_config=json.loads((dataset / "zarr.json").read_text())["attributes"]["config"],
        face_model_hash=model.content_hash,
    )
    for name, checkpoint in (
        ("run-hostile", pickle.dumps(_Payload(root / "marker-dir" / "pwned"))),
        ("run-empty", b""),
    ):
        (root / name).mkdir()
        (root / name / "config.json").write_text(json.dumps(record))
        (root / name / "checkpoint.pt").write_bytes(checkpoint)
    (root / "run-empty-dir").mkdir()
    return root


def _huge_capture(path: Path) -> None:
    """A 3-frequency capture with its antenna positions in mm (read as m): its back-projection
    would need more memory than this machine has."""
    qar50 = qar50_array(linear_sweep(10e9, 290e9, 3))
    array = RadarArray(qar50.tx_m * 1e3, qar50.rx_m * 1e3, qar50.freq_hz)
    assert backprojection_bytes(array, ImagingGrid()) > available_memory_bytes()
    with h5py.File(path, "w") as f:
        f.attrs["format"], f.attrs["format_version"] = "radarface-measurement", 1
        f["s"] = np.ones((array.n_tx, array.n_rx, array.n_freq), np.complex64)
        f["tx_m"], f["rx_m"], f["freq_hz"] = array.tx_m, array.rx_m, array.freq_hz


def _tiny_dataset(out: Path, model_path: Path) -> Path:
    """4 samples of 8 x 8 pixels; sample 2's max_db chunk damaged afterwards."""
    qar50 = qar50_array(linear_sweep(72e9, 82e9, 16))
    array = RadarArray(qar50.tx_m[::8], qar50.rx_m[::8], qar50.freq_hz)
    grid = ImagingGrid(n_x=8, n_y=8, pitch_m=8e-3)
    config = build_config(array=array, grid=grid, face_model_path=model_path, n=4, n_val=1)
    generate_dataset(out, config, model_path, 1, progress=False)
    chunk = out / "images" / "max_db" / "c" / "2" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[8:16] = b"x" * 8
    chunk.write_bytes(bytes(data))
    return out


# (id, arguments with {i}: the inputs folder, {o}: a fresh folder per case, {m}: the model;
# a piece of the expected message)
CASES = [
    # facemodel
    ("fetch-unknown", "facemodel fetch bfm", "only 'ict' can be fetched"),
    ("fetch-offline", "facemodel fetch ict --url http://127.0.0.1:9/x.zip", "facemodel import"),
    ("import-empty", "facemodel import {i}/empty.npz --out {o}/m.npz", "empty file"),
    ("import-truncated", "facemodel import {i}/truncated.npz --out {o}/m.npz", "not a readable"),
    ("import-inf", "facemodel import {i}/inf_model.npz --out {o}/m.npz", "NaN or infinite"),
    ("import-missing", "facemodel import {i}/none.npz --out {o}/m.npz", "not found"),
    ("import-unknown", "facemodel import {i}/model.txt --out {o}/m.npz", "unsupported face model"),
    ("import-out-file", "facemodel import {m} --out {i}/a-file/m.npz", "is a file"),
    ("info-empty", "facemodel info --face-model {i}/empty.npz", "empty file"),
    ("sample-zero", "facemodel sample --out {o}/s --n 0 --face-model {m}", "--n"),
    ("sample-format", "facemodel sample --out {o}/s --format fbx --face-model {m}", "--format"),
    # simulate
    ("mesh-mm-as-m", "simulate --out {o}/s --mesh {i}/mm_as_m.ply", "--mesh-units mm"),
    ("mesh-m-as-mm", "simulate --out {o}/s --mesh {i}/m_as_mm.ply --mesh-units mm", "units m"),
    ("mesh-missing", "simulate --out {o}/s --mesh {i}/none.ply", "not found"),
    ("mesh-garbage", "simulate --out {o}/s --mesh {i}/garbage.ply", "cannot read mesh"),
    ("mesh-and-points", "simulate --out {o}/s --mesh {i}/m.ply --points {i}/p.csv", "either"),
    ("points-text", "simulate --out {o}/s --points {i}/points-text.csv", "non-numeric"),
    ("points-far", "simulate --out {o}/s --points {i}/points-far.csv", "outside the imaging"),
    ("pixels-huge", "simulate --out {o}/s --pixels 20000 --face-model {m}", "needs about"),
    ("pixels-one", "simulate --out {o}/s --pixels 1", "--pixels"),
    ("freq-text", "simulate --out {o}/s --freq-ghz abc --face-model {m}", "START:STOP:N"),
    ("freq-one", "simulate --out {o}/s --freq-ghz 72:82:1 --face-model {m}", "N >= 2"),
    ("freq-none", "simulate --out {o}/s --freq-ghz 72:82:0", "N >= 2"),
    ("freq-reversed", "dataset generate --out {o}/d --freq-ghz 82:72:16", "START < STOP"),
    ("tx-alone", "simulate --out {o}/s --tx {i}/model.txt --face-model {m}", "both --tx"),
    ("material", "simulate --out {o}/s --material 2", "--material"),
    ("device-gpu", "simulate --out {o}/s --device gpu", "unknown device 'gpu'"),
    ("device-cuda", "simulate --out {o}/s --device cuda:7", "CUDA device"),
    ("out-is-file", "simulate --out {i}/a-file --points {i}/points.csv " + " ".join(SMALL),
     "is a file"),
    ("model-missing", "simulate --out {o}/s --face-model {i}/none.npz", "not found"),
    # image
    ("capture-missing", "image --measured {i}/none.npy --out {o}/s", "not found"),
    ("capture-format", "image --measured {i}/capture.txt --out {o}/s", "unknown measurement"),
    ("capture-hostile", "image --measured {i}/hostile.npy --out {o}/s", "rejected pickle"),
    ("capture-antennas", "image --measured {i}/bad-shape.npy --out {o}/s", "expected 96 x 96"),
    ("capture-huge", "image --measured {i}/huge.h5 --out {o}/s", "needs about"),
    ("image-device", "image --measured {i}/huge.h5 --out {o}/s --device gpu", "unknown device"),
    # demo
    ("demo-zero", "demo --out {o}/d --n 0", "--n"),
    ("demo-model", "demo --out {o}/d --face-model {i}/truncated.npz", "not a readable"),
    # dataset
    ("generate-n", "dataset generate --out {o}/d --n 0", "--n"),
    ("generate-eval-n", "dataset generate --out {o}/d --kind eval --n 5 --face-model {m}",
     "an eval set has 50"),
    ("generate-no-meshes", "dataset generate --out {o}/d --mesh-dir {i}/no-meshes", "no mesh"),
    ("generate-mesh-units", "dataset generate --out {o}/d --mesh-dir {i}/meshes-units "
     + " ".join(SMALL), "--mesh-units mm"),
    ("generate-mesh-garbage", "dataset generate --out {o}/d --mesh-dir {i}/meshes-unreadable "
     + " ".join(SMALL), "cannot read mesh"),
    ("generate-pixels", "dataset generate --out {o}/d --pixels 20000 --n 4 --face-model {m}",
     "needs about"),
    ("generate-device", "dataset generate --out {o}/d --device cuda", "CUDA device"),
    ("generate-into-file", "dataset generate --out {i}/a-file --n 4 --face-model {m} "
     + " ".join(SMALL), "a-file"),
    ("info-missing", "dataset info {o}/none", "no such dataset"),
    ("show-damaged", "dataset show {i}/dataset --index 2 --out {o}/s.png --face-model {m}",
     "sample 2 is damaged"),
    ("show-index", "dataset show {i}/dataset --index 99 --out {o}/s.png --face-model {m}", "99"),
    # train
    ("train-set-text", "train encoder --data {i}/dataset --out {o}/r --set epochs=abc",
     "epochs must be"),
    ("train-width-0", "train encoder --data {i}/dataset --out {o}/r --set net.width=0",
     "net.width"),
    ("train-blocks-0", "train encoder --data {i}/dataset --out {o}/r --set net.blocks=[0,0,0,0]",
     "net.blocks"),
    ("train-set-key", "train encoder --data {i}/dataset --out {o}/r --set epoch=3", "epoch'"),
    ("train-device-gpu", "train encoder --data {i}/dataset --out {o}/r --device gpu",
     "unknown device"),
    ("train-device-cuda", "train encoder --data {i}/dataset --out {o}/r --device cuda",
     "CUDA device"),
    ("train-resume-empty", "train encoder --data {i}/dataset --out {i}/run-empty-dir --resume",
     "--resume"),
    ("train-resume-typo", "train encoder --data {i}/dataset --out {o}/typo --resume", "--resume"),
    ("train-over-run", "train encoder --data {i}/dataset --out {i}/run-hostile", "--overwrite"),
    ("train-both", "train encoder --data {i}/dataset --out {o}/r --resume --overwrite", "not both"),
    ("train-into-file", "train encoder --data {i}/dataset --out {i}/a-file", "is a file"),
    ("train-data", "train encoder --data {o}/none --out {o}/r", "no such dataset"),
    ("train-ae-runs", "train autoencoder --data {i}/dataset --out {o}/r", "--encoder RUN"),
    # reconstruct
    ("rec-hostile", "reconstruct {i}/capture.txt --encoder {i}/run-hostile --out {o}/r "
     "--face-model {m}", "not a radarface checkpoint"),
    ("rec-empty-ckpt", "reconstruct {i}/capture.txt --encoder {i}/run-empty --out {o}/r "
     "--face-model {m}", "empty file"),
    ("rec-not-run", "reconstruct {i}/capture.txt --encoder {i}/run-empty-dir --out {o}/r "
     "--face-model {m}", "not a training run"),
    ("rec-out-file", "reconstruct {i}/capture.txt --encoder {i}/run-empty --out {i}/a-file",
     "is a file"),
    ("rec-device", "reconstruct {i}/capture.txt --encoder {i}/run-empty --out {o}/r "
     "--device gpu", "unknown device"),
]  # fmt: skip


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folders` with its size and modification time."""
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for folder in folders
        for p in folder.rglob("*")
    }


def test_the_table_covers_every_command() -> None:
    commands = {case[1].split()[0] for case in CASES}
    commands |= {" ".join(case[1].split()[:2]) for case in CASES}
    assert len(CASES) >= 40
    for command in ("simulate", "image", "demo", "train", "reconstruct", "facemodel import",
                    "facemodel fetch", "facemodel info", "facemodel sample", "dataset generate",
                    "dataset info", "dataset show"):  # fmt: skip
        assert command in commands, command


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(
    args: str, message: str, inputs: Path, bump_model_path: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    argv = args.format(i=inputs, o=work, m=bump_model_path).split()
    before = _snapshot(inputs, work)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "RADARFACE_FACE_MODEL": None}
    result = CliRunner().invoke(app, argv, env=env)
    assert result.exit_code != 0, result.output
    stderr = result.stderr
    assert "Traceback" not in result.output and "weights_only" not in result.output
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert message in stderr, stderr
    assert _snapshot(inputs, work) == before  # nothing written, nothing changed
    assert not (inputs / "marker-dir" / "pwned").exists()
    assert result.stdout == ""


def test_the_damaged_sample_renders_again_as_the_error_says(
    inputs: Path, bump_model_path: Path, tmp_path: Path
) -> None:
    """Following the message of a damaged chunk repairs the dataset."""
    import shutil

    from radarface.data import open_dataset
    from radarface.data.dataset import read_images

    dataset = tmp_path / "dataset"
    shutil.copytree(inputs / "dataset", dataset)
    with pytest.raises(ValueError, match="sample 2 is damaged") as caught:
        read_images(open_dataset(dataset), np.arange(4))
    done_chunk = Path(str(caught.value).split("delete ")[1].split(" and run")[0])
    done_chunk.unlink()
    config = open_dataset(dataset).attrs["config"]
    from radarface.data import DatasetConfig

    report = generate_dataset(
        dataset, DatasetConfig.from_json(config), bump_model_path, 1, progress=False
    )
    assert report.rendered == 1
    max_db, _ = read_images(open_dataset(dataset), np.arange(4))
    assert np.isfinite(max_db).all()


def test_save_model_round_trip_is_not_refused(bump_model_path: Path, tmp_path: Path) -> None:
    """The checks refuse only bad models: a good one imports and loads unchanged."""
    model = load_face_model(bump_model_path)
    saved = save_model(model, tmp_path / "copy.npz")
    assert load_face_model(saved).content_hash == model.content_hash
    assert asdict(TrainConfig.preset("cpu", "encoder"))["epochs"] == 40


PROCESS_CASES = [
    ("simulate --out {o}/s --device gpu", 2, "Error: Invalid value for '--device'"),
    ("train encoder --data {o}/none --out {o}/r --device cuda", 2, "CUDA device"),
    ("simulate --out {o}/s --mesh {i}/mm_as_m.ply", 1, "use --mesh-units mm"),
    ("simulate --out {o}/s --pixels 20000", 1, "needs about"),
]


@pytest.mark.parametrize(("args", "code", "message"), PROCESS_CASES)
def test_bad_input_in_a_real_process(
    args: str, code: int, message: str, inputs: Path, bump_model_path: Path, tmp_path: Path
) -> None:
    """The installed entry point behaves as the in-process table: exit code, one stderr line."""
    import subprocess
    import sys

    argv = args.format(i=inputs, o=tmp_path, m=bump_model_path).split()
    env = {**os.environ, "RADARFACE_FACE_MODEL": str(bump_model_path)}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.run(
        [sys.executable, "-m", "radarface.cli", *argv],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert proc.stdout == "" and not any(tmp_path.iterdir())
