"""Command-line interface: parses arguments and calls the library; no logic of its own."""

from __future__ import annotations

import atexit
import contextlib
import enum
import gc
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from radarface import facemodel
from radarface.data.config import KINDS, POSES
from radarface.facemodel.loaders import ICT_REGIONS
from radarface.fit import REFINEMENTS
from radarface.params import INPUTS
from radarface.radar.array import FACET_INTEGRALS, SCATTERING_MODELS
from radarface.radar.images import DEPTH_ESTIMATORS
from radarface.render import MESH_FRAMES, MESH_UNITS_M
from radarface.train.config import PRESETS, STAGE_NAMES


class _OneLineErrors(TyperGroup):
    """The command group, whose usage errors (a bad option value, a missing argument) are one
    line on stderr and exit code 2, like every other error of the CLI (see `_user_errors`)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run the command; errors as one line `Error: ...` on stderr."""
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as err:  # click's ClickException (typer vendors click)
            if type(err).__name__ == "NoArgsIsHelpError":  # a bare group: its help
                typer.echo(err.ctx.get_help())
            else:
                typer.echo(f"Error: {err.format_message()}", err=True)
            code = err.exit_code
        except typer.Abort:  # an EOF or interrupt at a prompt
            typer.echo("Error: aborted", err=True)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
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
MeshFrame = _choices("MeshFrame", MESH_FRAMES)
DepthEstimator = _choices("DepthEstimator", DEPTH_ESTIMATORS)
SimulatedDepth = _choices("SimulatedDepth", ("auto", *DEPTH_ESTIMATORS))
DatasetKind = _choices("DatasetKind", (k for k in KINDS if k != "mesh-dir"))  # see --mesh-dir
PoseMode = _choices("PoseMode", POSES)
Scattering = _choices("Scattering", SCATTERING_MODELS)
FacetIntegral = _choices("FacetIntegral", FACET_INTEGRALS)
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
    except (FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as err:
        typer.echo(f"{err.filename}: {err.strerror.lower()}", err=True)
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


def _device_checked(device: str | None, allow_auto: bool) -> str | None:
    """`device`, checked by the one device check (render.check_device); else a usage error."""
    from radarface.render import check_device

    try:
        check_device(device, allow_auto)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    return device


def _checked_device(device: str | None) -> str | None:
    """The --device of the radar and reconstruction commands, checked before any work."""
    return _device_checked(device, allow_auto=False)


def _checked_train_device(device: str) -> str:
    """train's --device, where auto (CUDA where present, else the CPU) passes too."""
    return _device_checked(device, allow_auto=True)


DeviceOption = Annotated[
    str | None,
    typer.Option(
        help="Device for simulation and imaging: cpu (numba) or cuda[:N] (torch). Default: cpu.",
        callback=_checked_device,
    ),
]
StepsOption = Annotated[
    int | None, typer.Option(min=0, help="Refinement steps (learned 100, geometry 25, physics 20).")
]
LrOption = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help="Adam learning rate (learned 0.01; physics: face 0.1, pose 0.02; "
        "geometry, Gauss-Newton, has none).",
    ),
]
SimulatedDepthOption = Annotated[
    SimulatedDepth,
    typer.Option(
        help="auto: phase under coherent scattering, else parabola; parabola: the brightest "
        "voxel (the paper's); phase: its carrier phase; maroon: MAROON's parabola on dB."
    ),
]
ScatteringOption = Annotated[
    Scattering,
    typer.Option(
        help="coherent: physical optics, phases from the geometry; speckle: a random phase per "
        "surface point (rough surface; the model of datasets before renderer revision 3)."
    ),
]
FacetIntegralOption = Annotated[
    FacetIntegral,
    typer.Option(
        help="Coherent scattering's phase integral over a facet: exact (the closed form over "
        "the flat triangle, facets up to 8 mm) or gaussian (second order, up to 4 mm; renderer "
        "revisions 3-4)."
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
MeshFrameOption = Annotated[
    MeshFrame,
    typer.Option(help="Frame of the mesh coordinates: radar, or maroon (MAROON's, x mirrored)."),
]


def _announce_compilation(device: str | None) -> None:
    """Say so on stderr when this run compiles the CPU kernels first (once per machine)."""
    from radarface.radar import render_kernels_cached

    if device in (None, "cpu") and not render_kernels_cached():
        typer.echo(
            "compiling the radar kernels for this machine (once: about a minute on two cores; "
            "later runs load them in half a second)...",
            err=True,
        )


def _array(tx: Path | None, rx: Path | None, freq_ghz: str):
    """The QAR50, or the array of --tx/--rx, with the sweep START:STOP:N in GHz."""
    from radarface.radar import array_from_files, linear_sweep, qar50_array

    try:
        start, stop, n = freq_ghz.split(":")
        freq_hz = linear_sweep(float(start) * 1e9, float(stop) * 1e9, int(n))
    except ValueError:
        raise ValueError(f"--freq-ghz must be START:STOP:N, got {freq_ghz!r}") from None
    if len(freq_hz) < 2 or not 0 < freq_hz[0] < freq_hz[-1]:
        raise ValueError(f"--freq-ghz needs 0 < START < STOP and N >= 2, got {freq_ghz!r}")
    if (tx is None) != (rx is None):
        raise ValueError("give both --tx and --rx, or neither (the QAR50)")
    return qar50_array(freq_hz) if tx is None else array_from_files(tx, rx, freq_hz)


def _z_range(text: str) -> tuple[float, float]:
    """--z-range-cm MIN:MAX -> (z_min_m, z_max_m)."""
    try:
        lo, hi = (float(v) * 1e-2 for v in text.split(":"))
    except ValueError:
        raise ValueError(
            f"--z-range-cm must be MIN:MAX in cm (e.g. 22.5:36), got {text!r}"
        ) from None
    if not 0 < lo <= hi:
        raise ValueError(f"--z-range-cm needs 0 < MIN <= MAX, got {text!r}")
    return lo, hi


def _settings(
    dynamic_range_db: float,
    device: str | None,
    pixels: int,
    pitch_mm: float,
    snr_db: float | None = None,
    z_range_m: tuple[float, float] | None = None,
    depth_estimator: str = "auto",
    scattering: str = "coherent",
    facet_integral: str = "exact",
):
    from radarface.radar import ImagingGrid, SamplingConfig
    from radarface.render import RenderSettings

    depth = {} if z_range_m is None else {"z_min_m": z_range_m[0], "z_max_m": z_range_m[1]}
    grid = ImagingGrid(n_x=pixels, n_y=pixels, pitch_m=pitch_mm * 1e-3, **depth)
    return RenderSettings(
        grid=grid,
        sampling=SamplingConfig(scattering=scattering, facet_integral=facet_integral),
        dynamic_range_db=dynamic_range_db,
        snr_db=snr_db,
        device=device,
        depth_estimator=depth_estimator,
    )


@app.command("simulate")
def simulate(
    out: Annotated[Path, typer.Option(help="Output directory.")],
    seed: Annotated[int, typer.Option(help="Random face and speckle seed.")] = 0,
    mesh: Annotated[
        Path | None, typer.Option(help="Simulate this mesh (radar frame) instead of a face.")
    ] = None,
    mesh_units: Annotated[MeshUnits, typer.Option(help="Units of --mesh.")] = "m",
    mesh_frame: MeshFrameOption = "radar",
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
    z_range_cm: Annotated[
        str | None, typer.Option(help="Imaged depths MIN:MAX in cm (default 22.5:36).")
    ] = None,
    scattering: ScatteringOption = "coherent",
    facet_integral: FacetIntegralOption = "exact",
    depth_estimator: SimulatedDepthOption = "auto",
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
        z_range_m = None if z_range_cm is None else _z_range(z_range_cm)
        settings = _settings(
            dynamic_range_db,
            device,
            pixels,
            pitch_mm,
            snr_db,
            z_range_m,
            depth_estimator.value,
            scattering=scattering.value,
            facet_integral=facet_integral.value,
        )
        scene, model = build_scene(
            seed,
            face_model_path=face_model,
            mesh=mesh,
            mesh_units=mesh_units.value,
            mesh_frame=mesh_frame.value,
            points=points,
            material=material,
            antenna_size=antenna_size,
        )
        inputs = {"mesh": mesh, "points": points}
        if mesh:
            inputs.update(mesh_units=mesh_units.value, mesh_frame=mesh_frame.value)
        _announce_compilation(device)
        array_meta = {"tx": tx or "qar50", "rx": rx or "qar50", "freq_ghz": freq_ghz}
        meta = {**{k: v for k, v in inputs.items() if v is not None}, "array": array_meta}
        for warning in render_to_dir(
            out, scene, array, settings, seed=seed, model=model, meta=meta
        ):
            typer.echo(warning, err=True)
        typer.echo(f"wrote {out}/image.npz, amplitude.png, depth.png, figure.png, params.json")


@app.command("image")
def image(
    measured: Annotated[Path, typer.Option(help="Capture: MAROON .npy or radarface .h5.")],
    out: Annotated[Path, typer.Option(help="Output directory.")],
    tx: Annotated[
        Path | None,
        typer.Option(
            help="MAROON capture of another array: its TX file (x,y,z in m; outlier rows first "
            "and last, as MAROON's Tx.dat). Default: the built-in QAR50 geometry."
        ),
    ] = None,
    rx: Annotated[
        Path | None, typer.Option(help="The RX file to --tx (as MAROON's Rx.dat).")
    ] = None,
    empty_filtered: Annotated[
        bool,
        typer.Option(
            "--empty-filtered",
            help="Read MAROON's empty-room-filtered twin (STEM_emptyfiltered.npy).",
        ),
    ] = False,
    z_range_cm: Annotated[
        str,
        typer.Option(help="Imaged depths MIN:MAX in cm, or auto: around the strongest echoes."),
    ] = "auto",
    depth_estimator: Annotated[
        DepthEstimator,
        typer.Option(
            help="parabola: the brightest voxel on |V| (the paper's); maroon: on dB (MAROON's); "
            "phase: the carrier phase (needs a known reflection phase: simulated, coherent)."
        ),
    ] = "parabola",
    dynamic_range_db: DynamicRangeOption = 20.0,
    pixels: PixelsOption = 128,
    pitch_mm: PitchOption = 2.0,
    device: DeviceOption = None,
) -> None:
    """Image a measured capture with the same back-projection as simulated data."""
    from radarface.radar import read_measurement
    from radarface.render import image_capture_to_dir

    with _user_errors():
        auto = z_range_cm == "auto"
        z_range_m = None if auto else _z_range(z_range_cm)
        settings = _settings(
            dynamic_range_db, device, pixels, pitch_mm, None, z_range_m, depth_estimator.value
        )
        capture = read_measurement(measured, tx, rx, empty_filtered=empty_filtered)
        meta = {"measured": measured}
        _announce_compilation(device)
        for message in image_capture_to_dir(out, capture, settings, choose_z=auto, meta=meta):
            typer.echo(message, err=True)
        typer.echo(f"wrote {out}/image.npz, amplitude.png, depth.png, figure.png, params.json")


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
        model = _load(face_model)
        _announce_compilation(device)

        def done(i: int, row: dict) -> None:
            typer.echo(f"face {i}: {row['seconds']:.2f} s -> {out}/face_{i:03d}.png")

        run_demo(model, out, n, seed, qar50_array(), settings, on_face=done)
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
    mesh_frame: MeshFrameOption = "radar",
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
    facet_integral: FacetIntegralOption = "exact",
    depth_estimator: SimulatedDepthOption = "auto",
    snr_db: Annotated[
        float | None, typer.Option(help="Add complex noise to every signal at this SNR.")
    ] = None,
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
            mesh_frame=mesh_frame.value,
            sampling=SamplingConfig(
                scattering=scattering.value, facet_integral=facet_integral.value
            ),
            depth_estimator=depth_estimator.value,
            snr_db=snr_db,
        )
        _announce_compilation(device)
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
    overwrite: Annotated[
        bool, typer.Option(help="Replace the run in RUN_DIR (else an existing run is refused).")
    ] = False,
    device: Annotated[
        str,
        typer.Option(help="auto, cpu, cuda or cuda:N.", callback=_checked_train_device),
    ] = "auto",
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
            overwrite=overwrite, encoder_run=encoder, decoder_run=decoder, face_model=face_model,
            device=device,
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
    steps: StepsOption = None,
    lr: LrOption = None,
    prior: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Weight of a Gaussian prior on the coefficients (default: learned and physics "
            "0, geometry 0.01).",
        ),
    ] = None,
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


@app.command("evaluate")
def evaluate(
    runs: Annotated[list[Path], typer.Option(help="Encoder or autoencoder runs (repeatable).")],
    data: Annotated[
        list[Path],
        typer.Option(help="Datasets: a random set's val split, eval sets (repeatable)."),
    ],
    out: Annotated[
        Path, typer.Option(help="Report directory (new, empty, or an earlier report to update).")
    ],
    refine: Annotated[
        str,
        typer.Option(help="Comma-separated rows per run: none, learned, geometry, physics."),
    ] = "none",
    decoder: Annotated[
        Path | None,
        typer.Option(help="Learned renderer run (default: each autoencoder run's own)."),
    ] = None,
    steps: StepsOption = None,
    lr: LrOption = None,
    cosine: Annotated[
        str, typer.Option(help="Cosine vectors: face (default), vector or bare.")
    ] = "face",
    examples: Annotated[int, typer.Option(min=0, help="Example figures per dataset.")] = 3,
    limit: Annotated[
        int | None, typer.Option(help="Evaluate the first N samples of each dataset.")
    ] = None,
    device: Annotated[str, typer.Option(help="Device of the networks: cpu or cuda[:N].")] = "cpu",
    face_model: FaceModelOption = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """The paper's evaluation: Table 1, cosine matrices, error maps, examples and runtimes."""
    from radarface.eval.evaluate import EvalOptions
    from radarface.eval.report import evaluate_to_dir
    from radarface.fit import RefineSettings

    with _user_errors():
        options = EvalOptions(
            refine=tuple(dict.fromkeys(r.strip() for r in refine.split(",") if r.strip())),
            settings=RefineSettings.given(steps, lr),
            cosine=cosine, examples=examples, limit=limit, device=device, progress=progress,
        )  # fmt: skip
        metrics = evaluate_to_dir(
            runs, data, out, decoder=decoder, face_model_path=face_model, options=options
        )
        typer.echo(f"evaluated {len(metrics['runs'])} run(s) on {len(metrics['datasets'])} "
                   f"dataset(s) into {out / 'report.md'}")  # fmt: skip


if __name__ == "__main__":
    app()
