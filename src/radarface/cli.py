"""Command-line interface: parses arguments and calls the library; no logic of its own."""

from __future__ import annotations

import atexit
import contextlib
import enum
import gc
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from radarface import facemodel
from radarface.data.config import KINDS, POSES
from radarface.facemodel.loaders import ICT_REGIONS
from radarface.fit import REFINEMENTS
from radarface.params import INPUTS
from radarface.radar.array import SCATTERING_MODELS
from radarface.render import MESH_UNITS_M
from radarface.train.config import PRESETS, STAGE_NAMES

app = typer.Typer(
    help="radarface: 3D faces from near-field mmWave MIMO radar images.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main() -> None:
    """radarface command groups."""
    # On exit the interpreter's last garbage collections would walk every object that numba,
    # trimesh and matplotlib made (half a second of `radarface simulate`). This handler runs
    # after those registered later (thread pools, numba), when the outputs are closed: frozen,
    # the objects go to the operating system as they are.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def _choices(name: str, values: Iterable[str]) -> type[enum.StrEnum]:
    """A choice type (typer shows and checks its values) of a library constant's values."""
    return enum.StrEnum(name, {value: value for value in values})


Region = _choices("Region", (r.replace(" ", "-") for r in ICT_REGIONS))
MeshFormat = _choices("MeshFormat", ("ply", "obj"))
MeshUnits = _choices("MeshUnits", MESH_UNITS_M)
DatasetKind = _choices("DatasetKind", (k for k in KINDS if k != "mesh-dir"))  # see --mesh-dir
PoseMode = _choices("PoseMode", POSES)
Scattering = _choices("Scattering", SCATTERING_MODELS)
TrainStage = _choices("TrainStage", STAGE_NAMES)
NetInput = _choices("NetInput", INPUTS)
TrainPreset = _choices("TrainPreset", PRESETS)


facemodel_app = typer.Typer(
    help="Face models: fetch, import, inspect, sample.", no_args_is_help=True
)
app.add_typer(facemodel_app, name="facemodel")

FaceModelOption = Annotated[
    Path | None,
    typer.Option(
        "--face-model",
        help="Face model file or ICT-FaceKit directory "
        "(default: $RADARFACE_FACE_MODEL, then the user cache).",
    ),
]


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Report our errors as their message on stderr and exit 1, without a traceback."""
    try:
        yield
    except (ValueError, FileNotFoundError) as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from None


def _load(face_model: Path | None) -> facemodel.MorphableModel:
    """The face model of --face-model, the environment or the cache."""
    return facemodel.load_face_model(facemodel.resolve_face_model_path(face_model))


@facemodel_app.command("fetch")
def facemodel_fetch(
    source: Annotated[str, typer.Argument(help="What to fetch: 'ict' (ICT-FaceKit, MIT).")],
    url: Annotated[str, typer.Option(help="Archive URL.")] = facemodel.ICT_ARCHIVE_URL,
) -> None:
    """Download a public face model and store it in the user cache."""
    with _user_errors():
        if source != "ict":
            raise ValueError(f"unknown source {source!r}; only 'ict' can be fetched")
        typer.echo(f"saved {facemodel.fetch_ict(url=url)}")


@facemodel_app.command("import")
def facemodel_import(
    path: Annotated[Path, typer.Argument(help="BFM 2019 .h5, ICT .npz or ICT-FaceKit checkout.")],
    out: Annotated[Path | None, typer.Option(help="Output .npz (default: the cache).")] = None,
    region: Annotated[
        Region | None, typer.Option(help="ICT-FaceKit region (default: face).")
    ] = None,
) -> None:
    """Convert a face model to radarface's npz (default: into the user cache)."""
    with _user_errors():
        saved = facemodel.import_face_model(path, out, region.value if region else None)
        typer.echo(f"saved {saved}")


@facemodel_app.command("info")
def facemodel_info(face_model: FaceModelOption = None) -> None:
    """Print the face model's name, sizes, hash and explained variances."""
    with _user_errors():
        for key, value in _load(face_model).summary().items():
            typer.echo(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")


@facemodel_app.command("sample")
def facemodel_sample(
    out: Annotated[Path, typer.Option(help="Output directory.")],
    n: Annotated[int, typer.Option(min=1, help="Number of faces.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    face_model: FaceModelOption = None,
    mesh_format: Annotated[MeshFormat, typer.Option("--format")] = "ply",
) -> None:
    """Write posed random faces (radar frame) and params.json."""
    with _user_errors():
        paths = facemodel.write_samples(_load(face_model), out, n, seed, mesh_format.value)
        typer.echo(f"wrote {len(paths)} files to {out}")


# --- radar -----------------------------------------------------------------------------------

DeviceOption = Annotated[
    str | None,
    typer.Option(
        help="Device for simulation and imaging: cpu (numba) or cuda[:N] (torch). Default: cpu."
    ),
]
ScatteringOption = Annotated[
    Scattering,
    typer.Option(
        help="coherent: physical optics, phases from the geometry; speckle: a random phase per "
        "surface point (rough surface; the model of datasets before renderer revision 3)."
    ),
]
DynamicRangeOption = Annotated[
    float, typer.Option("--dynamic-range-db", min=0.1, help="Amplitude image dynamic range.")
]
PixelsOption = Annotated[int, typer.Option(min=2, help="Image width and height in pixels.")]
TxOption = Annotated[Path | None, typer.Option(help="TX positions CSV (x,y,z in m).")]
RxOption = Annotated[Path | None, typer.Option(help="RX positions CSV (x,y,z in m).")]
PitchOption = Annotated[float, typer.Option("--pitch-mm", min=0.1, help="Pixel pitch in mm.")]
FreqOption = Annotated[str, typer.Option(help="Sweep START:STOP:N in GHz.")]


def _array(tx: Path | None, rx: Path | None, freq_ghz: str):
    """The QAR50, or the array of --tx/--rx, with the sweep START:STOP:N in GHz."""
    from radarface.radar import array_from_files, linear_sweep, qar50_array

    try:
        start, stop, n = freq_ghz.split(":")
        freq_hz = linear_sweep(float(start) * 1e9, float(stop) * 1e9, int(n))
    except ValueError:
        raise ValueError(f"--freq-ghz must be START:STOP:N, got {freq_ghz!r}") from None
    if (tx is None) != (rx is None):
        raise ValueError("give both --tx and --rx, or neither (the QAR50)")
    return qar50_array(freq_hz) if tx is None else array_from_files(tx, rx, freq_hz)


def _settings(
    dynamic_range_db: float,
    device: str | None,
    pixels: int,
    pitch_mm: float,
    snr_db: float | None = None,
    scattering: str = "coherent",
):
    from radarface.radar import ImagingGrid, SamplingConfig
    from radarface.render import RenderSettings

    grid = ImagingGrid(n_x=pixels, n_y=pixels, pitch_m=pitch_mm * 1e-3)
    return RenderSettings(
        grid=grid,
        sampling=SamplingConfig(scattering=scattering),
        dynamic_range_db=dynamic_range_db,
        snr_db=snr_db,
        device=device,
    )


@app.command("simulate")
def simulate(
    out: Annotated[Path, typer.Option(help="Output directory.")],
    seed: Annotated[int, typer.Option(help="Random face and speckle seed.")] = 0,
    mesh: Annotated[
        Path | None, typer.Option(help="Simulate this mesh (radar frame) instead of a face.")
    ] = None,
    mesh_units: Annotated[MeshUnits, typer.Option(help="Units of --mesh.")] = "m",
    points: Annotated[
        Path | None, typer.Option(help="Simulate point scatterers: CSV x_m,y_m,z_m,amplitude.")
    ] = None,
    material: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="0 diffuse .. 1 specular (default: sampled)."),
    ] = None,
    antenna_size: Annotated[
        float | None, typer.Option(min=0.01, help="Paper's antenna size (default: sampled).")
    ] = None,
    dynamic_range_db: DynamicRangeOption = 20.0,
    snr_db: Annotated[float | None, typer.Option(help="Add complex noise at this SNR.")] = None,
    scattering: ScatteringOption = "coherent",
    pixels: PixelsOption = 128,
    pitch_mm: PitchOption = 2.0,
    tx: TxOption = None,
    rx: RxOption = None,
    freq_ghz: FreqOption = "72:82:128",
    device: DeviceOption = None,
    face_model: FaceModelOption = None,
) -> None:
    """Simulate a radar capture (random face, mesh or points) and image it into DIR."""
    from radarface.render import build_scene, render_to_dir

    with _user_errors():
        array = _array(tx, rx, freq_ghz)
        settings = _settings(dynamic_range_db, device, pixels, pitch_mm, snr_db, scattering.value)
        scene, model = build_scene(
            seed,
            face_model_path=face_model,
            mesh=mesh,
            mesh_units=mesh_units.value,
            points=points,
            material=material,
            antenna_size=antenna_size,
        )
        inputs = {"mesh": mesh, "mesh_units": mesh_units.value if mesh else None, "points": points}
        array_meta = {"tx": tx or "qar50", "rx": rx or "qar50", "freq_ghz": freq_ghz}
        meta = {**{k: v for k, v in inputs.items() if v is not None}, "array": array_meta}
        render_to_dir(out, scene, array, settings, seed=seed, model=model, meta=meta)
        typer.echo(f"wrote {out}/image.npz, amplitude.png, depth.png, params.json")


@app.command("image")
def image(
    measured: Annotated[Path, typer.Option(help="Capture: MAROON .npy or radarface .h5.")],
    out: Annotated[Path, typer.Option(help="Output directory.")],
    tx: Annotated[
        Path | None, typer.Option(help="MAROON TX file (default: Tx.dat nearby).")
    ] = None,
    rx: Annotated[
        Path | None, typer.Option(help="MAROON RX file (default: Rx.dat nearby).")
    ] = None,
    dynamic_range_db: DynamicRangeOption = 20.0,
    pixels: PixelsOption = 128,
    pitch_mm: PitchOption = 2.0,
    device: DeviceOption = None,
) -> None:
    """Image a measured capture with the same back-projection as simulated data."""
    from radarface.radar import read_measurement
    from radarface.render import image_signal, write_image_outputs

    with _user_errors():
        settings = _settings(dynamic_range_db, device, pixels, pitch_mm)
        s, array = read_measurement(measured, tx, rx)
        image = image_signal(s, array, settings)
        write_image_outputs(out, image, {"measured": measured, "settings": settings})
        typer.echo(f"wrote {out}/image.npz, amplitude.png, depth.png, params.json")


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("radarface-demo"),
    n: Annotated[int, typer.Option(min=1, help="Number of random faces.")] = 4,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    dynamic_range_db: DynamicRangeOption = 20.0,
    pixels: PixelsOption = 128,
    pitch_mm: PitchOption = 2.0,
    device: DeviceOption = None,
    face_model: FaceModelOption = None,
) -> None:
    """Simulate random faces and write a figure per face (mesh, amplitude, depth) and a summary."""
    from radarface.demo import run_demo
    from radarface.radar import qar50_array

    with _user_errors():
        settings = _settings(dynamic_range_db, device, pixels, pitch_mm)
        rows = run_demo(_load(face_model), out, n, seed, qar50_array(), settings)
        for i, row in enumerate(rows):
            typer.echo(f"face {i}: {row['seconds']:.2f} s -> {out}/face_{i:03d}.png")
        typer.echo(f"summary: {out}/summary.json")


# --- dataset ---------------------------------------------------------------------------------

dataset_app = typer.Typer(
    help="Synthetic radar-face datasets: generate (resumable, local or dask), info, show.",
    no_args_is_help=True,
)
app.add_typer(dataset_app, name="dataset")


DatasetPathArgument = Annotated[Path, typer.Argument(help="Dataset directory.")]


@dataset_app.command("generate")
def dataset_generate(
    out: Annotated[Path, typer.Option(help="Dataset directory: created, or resumed if it exists.")],
    n: Annotated[
        int | None,
        typer.Option(min=1, help="Samples (default 10000; eval and mesh-dir sets: fixed)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of every sample's parameters.")] = 0,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local processes (default: all cores).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="dask.distributed scheduler address instead of --workers.")
    ] = None,
    kind: Annotated[
        DatasetKind,
        typer.Option(help="random: training set; eval: 10 identities x 5 expressions."),
    ] = "random",
    pose: Annotated[
        PoseMode, typer.Option(help="Face poses: sampled (paper 3.2) or neutral.")
    ] = "sampled",
    mesh_dir: Annotated[
        Path | None,
        typer.Option(help="Image every mesh file (PLY, OBJ, STL; radar frame) in this folder."),
    ] = None,
    mesh_units: Annotated[MeshUnits, typer.Option(help="Units of --mesh-dir meshes.")] = "m",
    n_val: Annotated[
        int | None,
        typer.Option(min=0, help="Validation samples (default: 15% of a random set, else 0)."),
    ] = None,
    split_seed: Annotated[
        int | None, typer.Option(help="Seed of the train/val split (default: --seed).")
    ] = None,
    n_shape: Annotated[
        int | None, typer.Option(min=0, help="Shape coefficients drawn (default: all).")
    ] = None,
    n_expr: Annotated[
        int | None, typer.Option(min=0, help="Expression coefficients drawn (default: all).")
    ] = None,
    pixels: PixelsOption = 128,
    pitch_mm: PitchOption = 2.0,
    tx: TxOption = None,
    rx: RxOption = None,
    freq_ghz: FreqOption = "72:82:128",
    face_model: FaceModelOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    device: DeviceOption = None,
    scattering: ScatteringOption = "coherent",
) -> None:
    """Generate a dataset into DIR, or finish an interrupted one (run the same command again)."""
    from radarface import data
    from radarface.radar import ImagingGrid, SamplingConfig

    with _user_errors():
        config = data.build_config(
            array=_array(tx, rx, freq_ghz),
            grid=ImagingGrid(n_x=pixels, n_y=pixels, pitch_m=pitch_mm * 1e-3),
            kind=kind.value,
            n=n,
            seed=seed,
            face_model_path=face_model,
            pose=pose.value,
            n_shape=n_shape,
            n_expr=n_expr,
            n_val=n_val,
            split_seed=split_seed,
            mesh_dir=mesh_dir,
            mesh_units=mesh_units.value,
            sampling=SamplingConfig(scattering=scattering.value),
        )
        report = data.generate_dataset(
            out, config, face_model, workers, scheduler, progress, device
        )
        typer.echo(report.summary())


@dataset_app.command("info")
def dataset_info(path: DatasetPathArgument) -> None:
    """Print a dataset's counts, settings, split sizes and disk size."""
    from radarface import data

    with _user_errors():
        for key, value in data.dataset_info(path).items():
            typer.echo(f"{key}: {value}")


@dataset_app.command("show")
def dataset_show(
    path: DatasetPathArgument,
    out: Annotated[Path, typer.Option(help="Output PNG.")],
    index: Annotated[int, typer.Option(min=0, help="Sample index.")] = 0,
    dynamic_range_db: DynamicRangeOption = 20.0,
    face_model: FaceModelOption = None,
) -> None:
    """Draw one sample: mesh, amplitude, depth and its parameters."""
    from radarface import data

    with _user_errors():
        shown = data.show_sample(path, index, out, face_model, dynamic_range_db)
        typer.echo(f"wrote {shown}")


@app.command("train")
def train(
    stage: Annotated[TrainStage, typer.Argument(help="encoder, decoder or autoencoder.")],
    data_dir: Annotated[Path, typer.Option("--data", help="Dataset directory.")],
    out: Annotated[Path, typer.Option(help="Run directory (checkpoint, logs, metrics).")],
    input: Annotated[
        NetInput, typer.Option(help="Encoder input; the decoder renders --decoder-target.")
    ] = "amplitude",
    preset: Annotated[TrainPreset, typer.Option(help="paper: the paper's; cpu: reduced.")] = "cpu",
    resume: Annotated[bool, typer.Option(help="Continue from RUN_DIR's checkpoint.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    encoder: Annotated[Path | None, typer.Option(help="Autoencoder: encoder run.")] = None,
    decoder: Annotated[Path | None, typer.Option(help="Autoencoder: decoder run.")] = None,
    decoder_target: Annotated[
        str | None, typer.Option(help="Decoder: amplitude (default) or depth.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Override the epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Override the batch.")] = None,
    lr: Annotated[float | None, typer.Option(help="Override the learning rate.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    bf16: Annotated[bool | None, typer.Option(help="bfloat16 autocast.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Any other field: KEY=VALUE (TrainConfig) or net.KEY=VALUE (NetConfig)."
        ),
    ] = None,
    face_model: FaceModelOption = None,
) -> None:
    """Train one stage of the paper's model on a dataset (resumable, CPU or CUDA, torchrun)."""
    from radarface.train import parse_overrides, run_stage

    with _user_errors():
        overrides = parse_overrides(set_ or [])
        named = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "bf16": bf16}
        overrides.update({k: v for k, v in named.items() if v is not None})
        if decoder_target is not None:
            overrides.setdefault("net_overrides", {})["decoder_target"] = decoder_target
        result = run_stage(
            stage.value, data_dir, out, input=input.value, preset=preset.value, resume=resume,
            encoder_run=encoder, decoder_run=decoder, face_model=face_model, device=device,
            **overrides,
        )  # fmt: skip
        val = ", ".join(f"{k} {v:.4g}" for k, v in (result.get("val") or {}).items())
        typer.echo(f"{stage.value} in {out}: {result.get('epoch', -1) + 1} epochs; val: {val}")


Refinement = _choices("Refinement", REFINEMENTS)


@app.command("reconstruct")
def reconstruct(
    input: Annotated[
        Path,
        typer.Argument(
            help="An image (simulate/image output or its image.npz), a capture (.npy, .h5) or "
            "a dataset directory."
        ),
    ],
    encoder: Annotated[Path, typer.Option(help="Encoder or autoencoder run.")],
    out: Annotated[Path, typer.Option(help="Output directory (new or empty).")],
    decoder: Annotated[
        Path | None,
        typer.Option(help="Learned renderer run (default: the autoencoder run's own)."),
    ] = None,
    refine: Annotated[Refinement, typer.Option(help="Test-time optimisation.")] = "none",
    steps: Annotated[
        int | None, typer.Option(min=0, help="Refinement steps (learned 100, physics 20).")
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(min=0.0, help="Adam learning rate (learned 0.01, physics 0.05)."),
    ] = None,
    prior: Annotated[
        float, typer.Option(min=0.0, help="Weight of a Gaussian prior on the coefficients.")
    ] = 0.0,
    split: Annotated[str, typer.Option(help="Dataset input: train, val or all.")] = "val",
    index: Annotated[
        list[int] | None, typer.Option(help="Dataset input: indices into the split.")
    ] = None,
    device: DeviceOption = None,
    face_model: FaceModelOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Reconstruct faces from radar images: the encoder's estimate, optionally refined."""
    from radarface.fit import reconstruct_to_dir

    with _user_errors():
        report = reconstruct_to_dir(
            input, out, encoder, decoder_run=decoder, refine=refine.value, steps=steps, lr=lr,
            prior=prior, face_model_path=face_model,
            split=split, indices=index, device=device, progress=progress,
        )  # fmt: skip
        line = f"reconstructed {report['n']} image(s) into {out}"
        if report.get("with_truth"):
            line += f"; point distance {report['refined']['point_dist_mm']:.2f} mm"
        typer.echo(line)


if __name__ == "__main__":
    app()
