"""Loaders: Basel Face Model 2019 (HDF5), ICT-FaceKit (compact npz or checkout), our own npz."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from radarface.facemodel.model import MorphableModel
from radarface.io import atomic_path, open_hdf5, read_npz

MM_TO_M = 1e-3
CM_TO_M = 1e-2
FORMAT_KEY = "radarface_face_model"
FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class IctLayout:
    """Vertex and quad counts of the ICT-FaceKit regions (leading ranges) and its landmarks."""

    regions: dict[str, tuple[int, int]]
    landmarks68: tuple[int, ...]


ICT_REGIONS = ("face", "narrow face", "face and neck")
# From the upstream README (ICT-VGL/ICT-FaceKit): region index ranges, Multi-PIE 68 landmarks.
ICT_LAYOUT = IctLayout(
    regions={"face": (9409, 9230), "narrow face": (6706, 6560), "face and neck": (11248, 11144)},
    landmarks68=(
        1225,
        1888,
        1052,
        367,
        1719,
        1722,
        2199,
        1447,
        966,
        3661,
        4390,
        3927,
        3924,
        2608,
        3272,
        4088,
        3443,
        268,
        493,
        1914,
        2044,
        1401,
        3615,
        4240,
        4114,
        2734,
        2509,
        978,
        4527,
        4942,
        4857,
        1140,
        2075,
        1147,
        4269,
        3360,
        1507,
        1542,
        1537,
        1528,
        1518,
        1511,
        3742,
        3751,
        3756,
        3721,
        3725,
        3732,
        5708,
        5695,
        2081,
        0,
        4275,
        6200,
        6213,
        6346,
        6461,
        5518,
        5957,
        5841,
        5702,
        5711,
        5533,
        6216,
        6207,
        6470,
        5517,
        5966,
    ),
)
ICT_EXPRESSION_NAMES = (
    "browDown_L",
    "browDown_R",
    "browInnerUp_L",
    "browInnerUp_R",
    "browOuterUp_L",
    "browOuterUp_R",
    "cheekPuff_L",
    "cheekPuff_R",
    "cheekSquint_L",
    "cheekSquint_R",
    "eyeBlink_L",
    "eyeBlink_R",
    "eyeLookDown_L",
    "eyeLookDown_R",
    "eyeLookIn_L",
    "eyeLookIn_R",
    "eyeLookOut_L",
    "eyeLookOut_R",
    "eyeLookUp_L",
    "eyeLookUp_R",
    "eyeSquint_L",
    "eyeSquint_R",
    "eyeWide_L",
    "eyeWide_R",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimple_L",
    "mouthDimple_R",
    "mouthFrown_L",
    "mouthFrown_R",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDown_L",
    "mouthLowerDown_R",
    "mouthPress_L",
    "mouthPress_R",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmile_L",
    "mouthSmile_R",
    "mouthStretch_L",
    "mouthStretch_R",
    "mouthUpperUp_L",
    "mouthUpperUp_R",
    "noseSneer_L",
    "noseSneer_R",
)

# Expression PCA of the ICT blend-shape rig: random activations (see docs/facemodel.md).
EXPR_PCA_SEED = 20240601
EXPR_PCA_SAMPLES = 50_000
EXPR_PCA_MAX_COMPONENTS = 50
EXPR_PCA_MIN_VARIANCE_SHARE = 1e-6
P_ACTIVE = 0.3  # probability that a blend shape (or a left/right pair) is active
P_SYMMETRIC = 0.8  # probability that an active left/right pair moves on both sides
PAIR_JITTER = 0.1  # std of the right weight around the left one in a symmetric pair
EXCLUSIVE_PAIRS = (("jawLeft", "jawRight"), ("mouthLeft", "mouthRight"))
# BLAS threading changes the last bits of the PCA; rounding to 10 nm keeps the hash reproducible.
PCA_GRID_M = 1e-8


def _normalise_region(region: str | None) -> str:
    """'narrow-face' and 'narrow face' alike; default 'face'."""
    name = (region or "face").replace("-", " ").replace("_", " ")
    if name not in ICT_REGIONS:
        raise ValueError(f"unknown region {region!r}; expected one of {', '.join(ICT_REGIONS)}")
    return name


def _quads_to_triangles(quads: np.ndarray) -> np.ndarray:
    """Split each quad (a, b, c, d) into triangles (a, b, c) and (a, c, d)."""
    return np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])


def sample_blendshape_weights(names: tuple[str, ...], n: int, seed: int) -> np.ndarray:
    """n plausible random activations (n, len(names)) in [0, 1]: sparse, left/right correlated."""
    rng = np.random.default_rng(seed)
    index = {name: i for i, name in enumerate(names)}
    weights = np.zeros((n, len(names)))
    done: set[str] = set()

    def draw() -> np.ndarray:
        return rng.uniform(0.0, 1.0, n) * (rng.random(n) < P_ACTIVE)

    for left, right in EXCLUSIVE_PAIRS:
        if left in index and right in index:
            w, go_left = draw(), rng.random(n) < 0.5
            weights[:, index[left]], weights[:, index[right]] = w * go_left, w * ~go_left
            done |= {left, right}
    for name in names:
        if name in done:
            continue
        partner = name[:-2] + "_R" if name.endswith("_L") else None
        w = draw()
        if partner in index:
            symmetric = rng.random(n) < P_SYMMETRIC
            one_side_left = rng.random(n) < 0.5
            w_right = np.clip(w + rng.normal(0.0, PAIR_JITTER, n), 0.0, 1.0) * (w > 0)
            weights[:, index[name]] = w * (symmetric | one_side_left)
            weights[:, index[partner]] = w_right * (symmetric | ~one_side_left)
            done |= {name, partner}
        else:
            weights[:, index[name]] = w
            done.add(name)
    return weights


def expression_pca(
    deltas: np.ndarray, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend-shape deltas (B, N, 3) -> (mean delta (N, 3), N(0,1)-scaled basis (K, N, 3), mean w).

    The covariance of the deltas W @ D of the random activations W is D^T C_w D; with
    C_w = Q diag(l) Q^T, the SVD of diag(sqrt(l)) Q^T D gives its principal axes exactly, without
    forming the (samples x 3N) matrix.
    """
    d = deltas.reshape(len(deltas), -1).astype(np.float64)
    w = sample_blendshape_weights(names, EXPR_PCA_SAMPLES, EXPR_PCA_SEED)
    mean_w = w.mean(0)
    lam, q = np.linalg.eigh(np.cov(w, rowvar=False))
    b = np.sqrt(np.clip(lam, 0.0, None))[:, None] * (q.T @ d)
    _, s, vt = np.linalg.svd(b, full_matrices=False)
    variance = s**2
    keep = min(
        EXPR_PCA_MAX_COMPONENTS,
        int(np.sum(variance > EXPR_PCA_MIN_VARIANCE_SHARE * variance.sum())),
    )
    # Deterministic signs: the largest-magnitude entry of each axis is positive.
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])
    basis = (s[:keep, None] * signs[:keep, None] * vt[:keep]).reshape(keep, -1, 3)
    return (mean_w @ d).reshape(-1, 3), basis, mean_w


def _ict_model(
    name: str,
    neutral_cm: np.ndarray,
    identity_cm: np.ndarray,
    expression_cm: np.ndarray,
    expression_names: tuple[str, ...],
    quads: np.ndarray,
    landmarks: np.ndarray,
    n_vertices: int,
    n_quads: int,
) -> MorphableModel:
    """Cut an ICT model (absolute positions in cm) to a region and build the PCA model."""
    for label, values in (("neutral", neutral_cm), ("identity", identity_cm)):
        if not np.all(np.isfinite(values[..., :n_vertices, :])):
            raise ValueError(f"ICT-FaceKit {label} shapes have NaN or infinite values")
    if not np.all(np.isfinite(expression_cm[:, :n_vertices])):
        raise ValueError("ICT-FaceKit expression shapes have NaN or infinite values")
    neutral = neutral_cm[:n_vertices].astype(np.float64) * CM_TO_M
    identity = identity_cm[:, :n_vertices].astype(np.float64) * CM_TO_M - neutral
    blendshapes = expression_cm[:, :n_vertices].astype(np.float64) * CM_TO_M - neutral
    mean_delta, expr_basis, mean_w = expression_pca(blendshapes, expression_names)
    return MorphableModel.build(
        name=name,
        mean_m=np.round((neutral + mean_delta) / PCA_GRID_M) * PCA_GRID_M,
        shape_basis_m=identity,
        expr_basis_m=np.round(expr_basis / PCA_GRID_M) * PCA_GRID_M,
        triangles=_quads_to_triangles(quads[:n_quads]),
        landmarks=landmarks,
        blendshapes_m=blendshapes,
        blendshape_names=expression_names,
        blendshape_mean_weights=mean_w,
        metadata={
            "source": "ICT-FaceKit",
            "expression_pca_seed": EXPR_PCA_SEED,
            "expression_pca_samples": EXPR_PCA_SAMPLES,
        },
    )


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a face model npz file, read without pickle."""
    return read_npz(path, "face model")


def _require(arrays: dict[str, np.ndarray], keys: list[str], path: Path, kind: str) -> None:
    """Raise naming the first missing key."""
    for key in keys:
        if key not in arrays:
            raise ValueError(f"{path}: missing key {key!r} ({kind})")


def load_ict_npz(path: str | os.PathLike, region: str | None = None) -> MorphableModel:
    """The compact ICT-FaceKit npz (arrays in cm, see shared/facemodels/README.md)."""
    path = Path(path)
    arrays = _npz_arrays(path)
    _require(
        arrays,
        [
            "neutral",
            "identity",
            "expression",
            "expression_names",
            "quads",
            "landmarks68",
            "face_vertex_count",
            "face_quad_count",
            "narrow_face_vertex_count",
            "narrow_face_quad_count",
        ],
        path,
        "ICT-FaceKit compact npz",
    )
    region = _normalise_region(region)
    counts = {
        "face": (arrays["face_vertex_count"], arrays["face_quad_count"]),
        "narrow face": (arrays["narrow_face_vertex_count"], arrays["narrow_face_quad_count"]),
        "face and neck": (len(arrays["neutral"]), len(arrays["quads"])),
    }[region]
    n = len(arrays["neutral"])
    for key in ("identity", "expression"):
        if arrays[key].ndim != 3 or arrays[key].shape[1:] != (n, 3):
            raise ValueError(f"{path}: {key} has shape {arrays[key].shape}, expected (K, {n}, 3)")
    return _ict_model(
        f"ict-facekit:{region.replace(' ', '-')}",
        arrays["neutral"],
        arrays["identity"],
        arrays["expression"],
        tuple(str(s) for s in arrays["expression_names"]),
        arrays["quads"],
        arrays["landmarks68"],
        int(counts[0]),
        int(counts[1]),
    )


def _read_obj(path: Path, n_polygons: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Vertex positions (N, 3) of an OBJ file and its first n_polygons faces as quads."""
    if not path.is_file():
        raise FileNotFoundError(f"ICT-FaceKit file {path} not found")
    vertices, faces = [], []
    with path.open() as f:
        for line in f:
            if line.startswith("v "):
                vertices.append(line.split()[1:4])
            elif line.startswith("f ") and len(faces) < n_polygons:
                faces.append([int(tok.split("/")[0]) - 1 for tok in line.split()[1:]])
    if len(faces) < n_polygons or any(len(face) != 4 for face in faces):
        raise ValueError(f"{path}: expected at least {n_polygons} leading quad faces")
    return np.array(vertices, dtype=np.float64), np.array(faces, dtype=np.int64).reshape(-1, 4)


def load_ict_checkout(path: str | os.PathLike, region: str | None = None) -> MorphableModel:
    """An ICT-FaceKit checkout: FaceXModel/generic_neutral_mesh.obj, identityNNN.obj, ARKit OBJs."""
    root = Path(path) / "FaceXModel"
    region = _normalise_region(region)
    n_vertices, n_quads = ICT_LAYOUT.regions[region]
    neutral, quads = _read_obj(root / "generic_neutral_mesh.obj", n_quads)
    identity_files = sorted(root.glob("identity[0-9][0-9][0-9].obj"))
    if not identity_files:
        raise FileNotFoundError(f"{root}: no identityNNN.obj files")
    shapes = [_read_obj(p)[0] for p in identity_files]
    shapes += [_read_obj(root / f"{name}.obj")[0] for name in ICT_EXPRESSION_NAMES]
    for p, s in zip(
        identity_files + [root / f"{n}.obj" for n in ICT_EXPRESSION_NAMES], shapes, strict=True
    ):
        if s.shape != neutral.shape:
            raise ValueError(f"{p}: {s.shape[0]} vertices, the neutral mesh has {len(neutral)}")
    if len(neutral) < n_vertices:
        raise ValueError(f"{root}: {len(neutral)} vertices, region {region!r} needs {n_vertices}")
    k = len(identity_files)
    return _ict_model(
        f"ict-facekit:{region.replace(' ', '-')}",
        neutral,
        np.stack(shapes[:k]),
        np.stack(shapes[k:]),
        ICT_EXPRESSION_NAMES,
        quads,
        np.array(ICT_LAYOUT.landmarks68),
        n_vertices,
        n_quads,
    )


def _h5_dataset(f, key: str, path: Path) -> np.ndarray:
    """A dataset of an open h5 file, or an error naming the missing key."""
    if key not in f:
        raise ValueError(f"{path}: missing key {key!r} (Basel Face Model 2019 statismo layout)")
    return f[key][()]


def _decode_json(raw) -> object:
    """A JSON text stored as an h5 string scalar or a byte array."""
    if isinstance(raw, np.ndarray):
        raw = raw.tobytes() if raw.dtype != object else raw.item()
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8").rstrip("\x00")
    return json.loads(raw)


def _bfm_basis(f, part: str, path: Path, n: int, scaled: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mean (N, 3) mm, N(0,1)-scaled basis (K, N, 3) mm) of the shape or expression part."""
    mean = np.asarray(_h5_dataset(f, f"{part}/model/mean", path), dtype=np.float64)
    basis = np.asarray(_h5_dataset(f, f"{part}/model/pcaBasis", path), dtype=np.float64)
    variance = np.asarray(_h5_dataset(f, f"{part}/model/pcaVariance", path), dtype=np.float64)
    if mean.shape != (3 * n,):
        raise ValueError(f"{path}: {part}/model/mean has shape {mean.shape}, expected ({3 * n},)")
    if basis.ndim != 2 or basis.shape[0] != 3 * n or variance.shape != (basis.shape[1],):
        raise ValueError(
            f"{path}: {part}/model/pcaBasis {basis.shape} and pcaVariance "
            f"{variance.shape} do not match ({3 * n}, K) and (K,)"
        )
    if not scaled:
        basis = basis * np.sqrt(np.clip(variance, 0.0, None))
    return mean.reshape(n, 3), basis.T.reshape(-1, n, 3)


def load_bfm2019(path: str | os.PathLike) -> MorphableModel:
    """A Basel Face Model 2019 HDF5 file (statismo layout, format 0.8 or 0.9), mm -> metres."""
    path = Path(path)
    with open_hdf5(path, "face model") as f:
        version = (
            int(_h5_dataset(f, "version/majorVersion", path)),
            int(_h5_dataset(f, "version/minorVersion", path)),
        )
        if version < (0, 8):
            raise ValueError(f"{path}: statismo format {version[0]}.{version[1]} unsupported")
        # Format 0.8 stores the basis already scaled by sqrt(variance); 0.9 stores it orthonormal.
        scaled = version == (0, 8)
        points = np.asarray(_h5_dataset(f, "shape/representer/points", path))
        cells = np.asarray(_h5_dataset(f, "shape/representer/cells", path))
        if points.ndim != 2 or points.shape[0] != 3:
            raise ValueError(
                f"{path}: shape/representer/points has shape {points.shape}, expected (3, N)"
            )
        if cells.ndim != 2 or cells.shape[0] != 3:
            raise ValueError(
                f"{path}: shape/representer/cells has shape {cells.shape}, expected (3, T)"
            )
        n = points.shape[1]
        shape_mean, shape_basis = _bfm_basis(f, "shape", path, n, scaled)
        expr_mean, expr_basis = _bfm_basis(f, "expression", path, n, scaled)
        mean = shape_mean + expr_mean
        names, landmarks = [], []
        if "metadata/landmarks/json" in f:
            entries = _decode_json(f["metadata/landmarks/json"][()])
            if isinstance(entries, dict):
                entries = [{"id": k, "coordinates": v} for k, v in entries.items()]
            for entry in entries:
                xyz = np.asarray(entry["coordinates"], dtype=np.float64)
                names.append(str(entry["id"]))
                landmarks.append(int(np.argmin(np.square(mean - xyz).sum(1))))
    return MorphableModel.build(
        name=f"bfm2019:{path.stem}",
        mean_m=mean * MM_TO_M,
        shape_basis_m=shape_basis * MM_TO_M,
        expr_basis_m=expr_basis * MM_TO_M,
        triangles=cells.T,
        landmarks=np.array(landmarks, dtype=np.int64),
        metadata={
            "source": "Basel Face Model 2019",
            "statismo_version": list(version),
            "landmark_names": names,
        },
    )


def save_model(model: MorphableModel, path: str | os.PathLike) -> Path:
    """Write the model as our compact npz (no pickle), atomically."""
    path = Path(path)
    arrays = {
        FORMAT_KEY: np.array(FORMAT_VERSION),
        "name": np.array(model.name),
        "content_hash": np.array(model.content_hash),
        "metadata_json": np.array(json.dumps(model.metadata)),
        "mean_m": model.mean_m,
        "shape_basis_m": model.shape_basis_m,
        "expr_basis_m": model.expr_basis_m,
        "triangles": model.triangles,
        "landmarks": model.landmarks,
    }
    if model.blendshapes_m is not None:
        arrays["blendshapes_m"] = model.blendshapes_m
        arrays["blendshape_names"] = np.array(model.blendshape_names, dtype=str)
        arrays["blendshape_mean_weights"] = model.blendshape_mean_weights
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez(f, **arrays)
    return path


def load_model(path: str | os.PathLike) -> MorphableModel:
    """Read our compact npz and check its content hash."""
    path = Path(path)
    arrays = _npz_arrays(path)
    _require(
        arrays,
        [
            FORMAT_KEY,
            "name",
            "content_hash",
            "metadata_json",
            "mean_m",
            "shape_basis_m",
            "expr_basis_m",
            "triangles",
            "landmarks",
        ],
        path,
        "radarface face model npz",
    )
    if int(arrays[FORMAT_KEY]) != FORMAT_VERSION:
        raise ValueError(f"{path}: face model format {int(arrays[FORMAT_KEY])} unsupported")
    has_blendshapes = "blendshapes_m" in arrays
    model = MorphableModel.build(
        name=str(arrays["name"]),
        mean_m=arrays["mean_m"],
        shape_basis_m=arrays["shape_basis_m"],
        expr_basis_m=arrays["expr_basis_m"],
        triangles=arrays["triangles"],
        landmarks=arrays["landmarks"],
        blendshapes_m=arrays.get("blendshapes_m"),
        blendshape_names=tuple(arrays["blendshape_names"]) if has_blendshapes else (),
        blendshape_mean_weights=arrays.get("blendshape_mean_weights"),
        metadata=json.loads(str(arrays["metadata_json"])),
    )
    if model.content_hash != str(arrays["content_hash"]):
        raise ValueError(f"{path}: content hash mismatch (file corrupted or edited)")
    return model


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/radarface, default ~/.cache/radarface."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "radarface"


def _conversion_cache_path(path: Path, region: str | None) -> Path:
    """Where the conversion of the model file `path` is kept: keyed by the file's bytes, the
    region and the source of the code that converts (a change to it converts anew)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    for module in (__name__, MorphableModel.__module__):
        digest.update(Path(sys.modules[module].__file__).read_bytes())
    digest.update(_normalise_region(region).encode())
    return default_cache_dir() / "converted" / f"{digest.hexdigest()[:32]}.npz"


def load_face_model(path: str | os.PathLike, region: str | None = None) -> MorphableModel:
    """Any supported face model: BFM .h5/.hdf5, our or ICT's compact .npz, an ICT checkout dir.

    Every error names the file (a model with NaN or infinite values is refused before any PCA).
    A file in another format than radarface's npz is converted once: the conversion is kept in
    the user cache (`default_cache_dir()/converted`, written atomically) and read from there
    while the file is unchanged.
    """
    path = Path(path)
    cached = None
    try:
        if path.is_file() and not _is_radarface_npz(path):
            cached = _conversion_cache_path(path, region)
            if cached.is_file():
                with contextlib.suppress(ValueError):  # a damaged cache entry: convert again
                    return load_model(cached)
        model = _load_any(path, region)
    except np.linalg.LinAlgError as err:
        raise ValueError(f"{path}: the face model's PCA failed ({err})") from None
    except ValueError as err:
        if str(path) in str(err):
            raise
        raise ValueError(f"{path}: {err}") from None
    if cached is not None:
        with contextlib.suppress(OSError, ValueError):  # a read-only cache: convert each time
            save_model(model, cached)
    return model


def _is_radarface_npz(path: Path) -> bool:
    """True for radarface's own npz (read directly, not converted)."""
    return path.suffix.lower() == ".npz" and FORMAT_KEY in read_npz(path, "face model", True)


def _load_any(path: Path, region: str | None) -> MorphableModel:
    """`load_face_model` by the file's kind."""
    if not path.exists():
        raise FileNotFoundError(f"face model {path} not found")
    if path.is_dir():
        return load_ict_checkout(path, region)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5") and region is None:
        return load_bfm2019(path)
    if suffix == ".npz":
        keys = set(read_npz(path, "face model", names=True))
        if FORMAT_KEY in keys and region is None:
            return load_model(path)
        if "neutral" in keys and "identity" in keys:
            return load_ict_npz(path, region)
        if FORMAT_KEY not in keys:
            raise ValueError(
                f"{path}: neither a radarface face model npz (key {FORMAT_KEY!r}) "
                "nor an ICT-FaceKit compact npz (keys 'neutral', 'identity')"
            )
    if region is not None:
        raise ValueError(f"{path}: a region applies only to ICT-FaceKit models")
    raise ValueError(f"{path}: unsupported face model (expected .h5/.hdf5, .npz or a directory)")
