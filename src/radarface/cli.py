"""Command-line interface: parses arguments and calls the library; no logic of its own."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="radarface: 3D faces from near-field mmWave MIMO radar images.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main() -> None:
    """radarface command groups."""
