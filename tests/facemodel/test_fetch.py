"""Face model resolution, and fetching ICT-FaceKit from a local HTTP server."""

import functools
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from radarface.facemodel import fetch_ict, load_model, resolve_face_model_path


@pytest.fixture
def serve(tmp_path):
    """Serve a directory on 127.0.0.1; yields the base URL."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _zip_checkout(checkout: Path, archive: Path) -> None:
    """Zip a checkout under a top folder, as GitHub archives are laid out."""
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(checkout.rglob("*")):
            zf.write(file, Path("ICT-FaceKit-abc123") / file.relative_to(checkout))


def test_fetch_ict_from_local_server(serve, write_ict_checkout, tmp_path):
    root, base = serve
    _zip_checkout(write_ict_checkout(tmp_path / "checkout"), root / "ict.zip")
    cache = tmp_path / "cache"
    path = fetch_ict(url=f"{base}/ict.zip", cache_dir=cache)
    assert path == cache / "face_model.npz"
    assert load_model(path).name == "ict-facekit:face"
    assert [p.name for p in cache.iterdir()] == ["face_model.npz"]


@pytest.mark.parametrize("content", [None, b"PK\x03\x04 truncated"])
def test_failed_fetch_leaves_no_file(serve, tmp_path, content):
    root, base = serve
    if content is not None:
        (root / "ict.zip").write_bytes(content)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="ict.zip") as err:
        fetch_ict(url=f"{base}/ict.zip", cache_dir=cache)
    assert list(cache.iterdir()) == []
    if content is None:  # not there (or offline): the way without a download
        assert str(err.value).endswith("run `radarface facemodel import PATH`")


def test_resolve_face_model_path(monkeypatch, tmp_path):
    monkeypatch.delenv("RADARFACE_FACE_MODEL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with pytest.raises(FileNotFoundError) as err:
        resolve_face_model_path(None)
    lines = str(err.value).splitlines()
    assert len(lines) == 1 and "radarface facemodel fetch ict" in lines[0]
    cached = tmp_path / "xdg" / "radarface" / "face_model.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert resolve_face_model_path(None) == cached
    env_model = tmp_path / "env.npz"
    env_model.write_bytes(b"")
    monkeypatch.setenv("RADARFACE_FACE_MODEL", str(env_model))
    assert resolve_face_model_path(None) == env_model
    assert resolve_face_model_path(cached) == cached
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        resolve_face_model_path(tmp_path / "missing.npz")
