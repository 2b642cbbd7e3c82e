"""Finding the user's face model, downloading ICT-FaceKit, importing a model into the cache."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from radarface.facemodel.loaders import (
    default_cache_dir,
    load_face_model,
    load_ict_checkout,
    save_model,
)

ENV_FACE_MODEL = "RADARFACE_FACE_MODEL"
ICT_COMMIT = "da5f95a607f5e6b37755b38d3385d7f2853732e5"
ICT_ARCHIVE_URL = f"https://github.com/ICT-VGL/ICT-FaceKit/archive/{ICT_COMMIT}.zip"
_CHUNK_BYTES = 1 << 20


def default_model_path() -> Path:
    """Where fetch and import put the face model when no output is given."""
    return default_cache_dir() / "face_model.npz"


def resolve_face_model_path(path: str | os.PathLike | None = None) -> Path:
    """The explicit path, else $RADARFACE_FACE_MODEL, else the cached model; else an error."""
    for candidate, origin in ((path, "given"), (os.environ.get(ENV_FACE_MODEL), ENV_FACE_MODEL)):
        if candidate:
            candidate = Path(candidate).expanduser()
            if not candidate.exists():
                raise FileNotFoundError(f"face model {candidate} ({origin}) not found")
            return candidate
    cached = default_model_path()
    if cached.is_file():
        return cached
    raise FileNotFoundError(
        f"no face model: none given, ${ENV_FACE_MODEL} unset, nothing at {cached}; "
        "get one with `radarface facemodel fetch ict` or `radarface facemodel import PATH`"
    )


def _download(url: str, target: Path) -> None:
    """Stream `url` to `target`; raise ValueError on any failure or a short body."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, target.open("wb") as out:
            expected = response.headers.get("Content-Length")
            written = 0
            while chunk := response.read(_CHUNK_BYTES):
                out.write(chunk)
                written += len(chunk)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise ValueError(
            f"download of {url} failed ({reason}); offline, fetch the archive (or an "
            "ICT-FaceKit checkout, or a BFM 2019 .h5) elsewhere and run `radarface facemodel "
            "import PATH`"
        ) from None
    if expected is not None and written != int(expected):
        raise ValueError(f"download of {url} incomplete: {written} of {expected} bytes")


def fetch_ict(
    url: str = ICT_ARCHIVE_URL,
    cache_dir: str | os.PathLike | None = None,
    region: str | None = None,
) -> Path:
    """Download the ICT-FaceKit archive, import it and save face_model.npz in the cache."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ict-download-", dir=cache_dir) as tmp:
        archive = Path(tmp) / "ict-facekit.zip"
        _download(url, archive)
        try:
            with zipfile.ZipFile(archive) as zf:
                members = [m for m in zf.namelist() if "FaceXModel/" in m]
                zf.extractall(Path(tmp) / "src", members)
        except zipfile.BadZipFile as err:
            raise ValueError(f"{url}: not a valid zip archive (incomplete download?)") from err
        neutral = sorted((Path(tmp) / "src").glob("**/FaceXModel/generic_neutral_mesh.obj"))
        if not neutral:
            raise ValueError(f"{url}: archive has no FaceXModel/generic_neutral_mesh.obj")
        model = load_ict_checkout(neutral[0].parent.parent, region)
        shutil.rmtree(Path(tmp) / "src")
        return save_model(model, cache_dir / "face_model.npz")


def import_face_model(
    source: str | os.PathLike,
    out: str | os.PathLike | None = None,
    region: str | None = None,
) -> Path:
    """Load any supported face model and save it as our npz (default: the user cache)."""
    model = load_face_model(source, region)
    return save_model(model, out if out is not None else default_model_path())
