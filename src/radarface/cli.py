"""Command-line interface: parses arguments and calls the library; no logic of its own."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from radarface import facemodel

app = typer.Typer(
    help="radarface: 3D faces from near-field mmWave MIMO radar images.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main() -> None:
    """radarface command groups."""


class Region(enum.StrEnum):
    """ICT-FaceKit regions."""

    face = "face"
    narrow_face = "narrow-face"
    face_and_neck = "face-and-neck"


class MeshFormat(enum.StrEnum):
    """Mesh file formats."""

    ply = "ply"
    obj = "obj"


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
    mesh_format: Annotated[MeshFormat, typer.Option("--format")] = MeshFormat.ply,
) -> None:
    """Write posed random faces (radar frame) and params.json."""
    with _user_errors():
        paths = facemodel.write_samples(_load(face_model), out, n, seed, mesh_format.value)
        typer.echo(f"wrote {len(paths)} files to {out}")
