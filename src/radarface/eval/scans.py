"""Faces against scans, without vertex correspondence, and the capture sets that pair measured
radar captures with their scans (the paper's *real data*, Sec. 3.2 and 4).

Distance: for a face vertex p, d(p) = min over the scan's triangles T of |p - closest(T, p)|,
the exact point-to-triangle distance (`trimesh.triangles.closest_point`) to candidate triangles
found by a k-d tree over dense samples of the scan's surface. A face model and a scan cover
different parts of a head (a scan has holes and hair, a model a forehead the hair hides), so a
face's distance is a trimmed mean: the mean of its smallest `TRIM` share of vertex distances,
as the trimmed ICP of Chetverikov et al. ("The Trimmed Iterative Closest Point Algorithm",
ICPR 2002) measures a partial overlap.

Two numbers per face: *posed*, the face as predicted (shape, expression and pose) against the
scan in the radar frame; *aligned*, after a rigid trimmed ICP of the face onto the scan
(`trimesh.registration.procrustes`, no scale or reflection) started from the predicted pose:
the shape alone, as the paper's point distance measures faces without pose (never more than the
posed distance: where the alignment does not help, the face stays where it was).

A capture set is a directory with `captures/NAME.npy` (MAROON; `NAME_emptyfiltered.npy` beside
it is its empty-room-filtered version) or `captures/NAME.h5` (radarface's format), and
`meshes/NAME.ply|obj|stl`, the scan of the same face registered to the capture, paired by NAME.
An optional `captures.json` gives `mesh_units` ("m" default, "mm", ...), `mesh_frame` ("radar"
default, or "maroon": MAROON's x-mirrored frame) and `empty_filtered` (false default). A NAME of
the form IDENTITY_EXPRESSION (split at the first underscore) groups the samples for the cosine
matrices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from radarface import params as P
from radarface.data.config import MESH_SUFFIXES
from radarface.facemodel import MorphableModel, posed_vertices

TRIM = 0.9  # share of a face's vertices that its distance averages (the nearest ones)
SAMPLE_SPACING_M = 1e-3  # scan surface samples that seed the closest-triangle search
CANDIDATES = 8  # nearest samples whose triangles are searched exactly
CAPTURE_SUFFIXES = (".npy", ".h5", ".hdf5")
CAPTURE_SET_FILE = "captures.json"
CAPTURE_SET_KEYS = {"mesh_units": "m", "mesh_frame": "radar", "empty_filtered": False}


@dataclass(frozen=True)
class ScanSurface:
    """A scanned surface (radar frame, metres) ready for closest-point queries."""

    triangles_m: np.ndarray  # (T, 3, 3) corners
    normals: np.ndarray  # (T, 3) unit normals
    on_boundary: np.ndarray  # (T,) bool: the triangle has an edge no other triangle shares
    tree: cKDTree  # over the surface samples
    sample_triangle: np.ndarray  # (S,) the triangle each sample lies on

    @classmethod
    def from_mesh(cls, vertices_m: np.ndarray, triangles: np.ndarray) -> ScanSurface:
        """Samples every triangle's centroid and, area-weighted, about one point per
        SAMPLE_SPACING_M squared (a fixed seed: the same scan gives the same samples)."""
        mesh = trimesh.Trimesh(vertices_m, triangles, process=False)
        corners = np.asarray(mesh.triangles)
        n = int(np.ceil(mesh.area / SAMPLE_SPACING_M**2))
        points, faces = trimesh.sample.sample_surface(mesh, n, seed=0)
        points = np.concatenate([corners.mean(axis=1), points])
        faces = np.concatenate([np.arange(len(corners)), faces])
        on_boundary = np.zeros(len(corners), dtype=bool)
        single = trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1)
        on_boundary[mesh.edges_face[single]] = True
        cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        length = np.linalg.norm(cross, axis=1, keepdims=True)
        normals = np.divide(cross, length, out=np.zeros_like(cross), where=length > 0)
        return cls(corners, normals, on_boundary, cKDTree(points), faces)

    def closest(self, points_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(P,) distances in metres, (P, 3) closest surface points and (P,) their triangles,
        of (P, 3) points. Exact when the closest triangle holds one of the CANDIDATES nearest
        samples (nearly always near the surface); else an upper bound, by a small fraction of
        the sample spacing (tests/eval/test_scans.py)."""
        k = min(CANDIDATES, len(self.sample_triangle))
        _, nearest = self.tree.query(points_m, k=k)
        candidates = self.sample_triangle[nearest.reshape(len(points_m), k)]  # (P, k)
        queries = np.repeat(points_m, k, axis=0)
        found = trimesh.triangles.closest_point(self.triangles_m[candidates.ravel()], queries)
        dist = np.linalg.norm(found - queries, axis=1).reshape(-1, k)
        best = dist.argmin(axis=1)
        rows = np.arange(len(points_m))
        return dist[rows, best], found.reshape(-1, k, 3)[rows, best], candidates[rows, best]


def trimmed_mean(distances: np.ndarray, trim: float = TRIM) -> float:
    """The mean of the smallest ceil(trim * n) values."""
    keep = max(1, int(np.ceil(trim * len(distances))))
    return float(np.mean(np.partition(distances, keep - 1)[:keep]))


def align_rigid(
    points_m: np.ndarray,
    scan: ScanSurface,
    iterations: int = 30,
    trim: float = TRIM,
    tolerance_m: float = 1e-7,
) -> np.ndarray:
    """(4, 4) rigid transform that moves (P, 3) points onto the scan: trimmed point-to-plane
    ICP (Chen and Medioni 1992, linearised as in Low, "Linear Least-Squares Optimization for
    Point-to-Plane ICP Surface Registration", 2004). Each step pairs the nearest `trim` share
    of the points with their closest scan points, leaves out pairs on the scan's boundary
    triangles (they pull overhanging points onto its edge; Turk and Levoy, "Zippered Polygon
    Meshes from Range Images", SIGGRAPH 1994), and solves for the small rotation w and shift t
    that minimise sum(((p + w x p + t - q) . n)^2), n the triangle's normal at q. It stops
    when a step no longer lowers the trimmed mean distance and returns the best transform."""
    matrix, best, best_cost = np.eye(4), np.eye(4), np.inf
    moved = points_m
    for _ in range(iterations):
        dist, closest, triangle = scan.closest(moved)
        cost = trimmed_mean(dist, trim)
        if cost >= best_cost:  # a step that did not help (far from the scan): keep the best
            break
        best, best_cost = matrix, cost
        keep = (dist <= np.quantile(dist, trim)) & ~scan.on_boundary[triangle]
        if keep.sum() < 6:  # too little overlap to fix six degrees of freedom
            break
        p, q, n = moved[keep], closest[keep], scan.normals[triangle[keep]]
        center = p.mean(axis=0)  # rotate about the points' centre: a better-conditioned system
        a = np.concatenate([np.cross(p - center, n), n], axis=1)  # (K, 6)
        b = np.einsum("ij,ij->i", q - p, n)
        w_t = np.linalg.lstsq(a, b, rcond=None)[0]
        angle = float(np.linalg.norm(w_t[:3]))
        step = np.eye(4)
        if angle > 0:
            step = trimesh.transformations.rotation_matrix(angle, w_t[:3] / angle, center)
        step[:3, 3] += w_t[3:]
        matrix = step @ matrix
        moved = trimesh.transform_points(moved, step)
        if np.linalg.norm(w_t[3:]) + angle * np.abs(p - center).max() < tolerance_m:
            best = matrix
            break
    return best


def face_scan_distances(
    model: MorphableModel, vectors: np.ndarray, scans: list[ScanSurface], icp_stride: int = 4
) -> dict[str, np.ndarray]:
    """Per face, in mm: `posed` and `aligned` trimmed distances of the (N, 26) vectors' faces
    to their N scans, and `aligned_per_vertex` (N, V) vertex distances after the alignment.
    ICP fits every `icp_stride`-th vertex (the distances use all)."""
    params = P.SceneParams.from_vector(np.asarray(vectors, dtype=np.float64))
    faces = posed_vertices(model, params)  # (N, V, 3)
    posed, aligned, per_vertex = [], [], []
    for face, scan in zip(faces, scans, strict=True):
        posed_dist = scan.closest(face)[0]
        posed.append(trimmed_mean(posed_dist))
        moved = trimesh.transform_points(face, align_rigid(face[::icp_stride], scan))
        dist = scan.closest(moved)[0]
        if trimmed_mean(dist) > posed[-1]:  # the subset's fit did not carry over: no motion
            dist = posed_dist
        aligned.append(trimmed_mean(dist))
        per_vertex.append(dist)
    return {
        "posed": 1e3 * np.array(posed),
        "aligned": 1e3 * np.array(aligned),
        "aligned_per_vertex": 1e3 * np.stack(per_vertex),
    }


def name_labels(names: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(identity, expression) integer labels (N,) from names IDENTITY_EXPRESSION (sorted codes),
    or None when a name has no underscore."""
    parts = [name.split("_", 1) for name in names]
    if not names or any(len(p) != 2 or not all(p) for p in parts):
        return None
    labels = []
    for column in zip(*parts, strict=True):
        codes = {value: i for i, value in enumerate(sorted(set(column)))}
        labels.append(np.array([codes[v] for v in column]))
    return labels[0], labels[1]


@dataclass(frozen=True)
class CaptureSet:
    """The captures and scans of a capture set directory, paired by name."""

    path: Path
    names: list[str]
    captures: list[Path]
    meshes: list[Path]
    mesh_units: str
    mesh_frame: str
    empty_filtered: bool


def is_capture_set(path: str | Path) -> bool:
    path = Path(path)
    return (path / "captures").is_dir() and (path / "meshes").is_dir()


def _by_stem(directory: Path, suffixes: tuple[str, ...], skip: str | None = None) -> dict:
    files = {}
    for f in sorted(directory.iterdir()):
        if f.is_file() and f.suffix.lower() in suffixes and not (skip and f.stem.endswith(skip)):
            if f.stem in files:
                raise ValueError(f"{directory}: two files named {f.stem} ({files[f.stem].name})")
            files[f.stem] = f
    return files


def read_capture_set(path: str | Path) -> CaptureSet:
    """The capture set at `path` (layout in the module docstring); a capture without a mesh, a
    mesh without a capture, an empty set and a malformed captures.json are one-line errors."""
    from radarface.radar.measured import EMPTY_FILTERED_SUFFIX
    from radarface.render import MESH_FRAMES, MESH_UNITS_M

    path = Path(path)
    if not is_capture_set(path):
        raise ValueError(f"{path}: not a capture set (it needs captures/ and meshes/ folders)")
    settings = dict(CAPTURE_SET_KEYS)
    settings_file = path / CAPTURE_SET_FILE
    if settings_file.is_file():
        try:
            given = json.loads(settings_file.read_text())
        except ValueError as err:
            raise ValueError(f"{settings_file}: not valid JSON ({err})") from None
        if not isinstance(given, dict):
            raise ValueError(f"{settings_file}: not a JSON object")
        unknown = set(given) - set(CAPTURE_SET_KEYS)
        if unknown:
            raise ValueError(
                f"{settings_file}: unknown key {sorted(unknown)[0]!r}; use "
                f"{', '.join(CAPTURE_SET_KEYS)}"
            )
        settings.update(given)
    if settings["mesh_units"] not in MESH_UNITS_M or settings["mesh_frame"] not in MESH_FRAMES:
        raise ValueError(
            f"{settings_file}: mesh_units must be one of {', '.join(MESH_UNITS_M)} and "
            f"mesh_frame one of {', '.join(MESH_FRAMES)}"
        )
    captures = _by_stem(path / "captures", CAPTURE_SUFFIXES, skip=EMPTY_FILTERED_SUFFIX)
    meshes = _by_stem(path / "meshes", MESH_SUFFIXES)
    if not captures:
        raise ValueError(f"{path / 'captures'}: no captures ({', '.join(CAPTURE_SUFFIXES)})")
    for name in sorted(set(captures) ^ set(meshes)):
        where, missing = ("captures", "mesh") if name in captures else ("meshes", "capture")
        raise ValueError(f"{path / where}: {name} has no {missing} of the same name")
    names = sorted(captures)
    return CaptureSet(
        path,
        names,
        [captures[n] for n in names],
        [meshes[n] for n in names],
        settings["mesh_units"],
        settings["mesh_frame"],
        bool(settings["empty_filtered"]),
    )
