"""Cosine-similarity matrices of the paper's Figures 5, 6 and 9, and numbers that summarise them.

The evaluation set holds identities x expressions instances (each identity with every
expression). Per identity (Fig. 5-6 top, 9a) and per expression (bottom, 9b), cell (a, b) is the
mean cosine similarity cos(u, v) = u.v / (|u| |v|) over the pairs of distinct instances u of group
a and v of group b; a diagonal cell pairs the distinct instances of one group (the instance
with itself, cos = 1, is left out).

What u is (`DEFINITIONS`; docs/evaluate.md tells how it was chosen):

- "face" (default): the 17 face-model parameters, 10 shape and 7 expression coefficients. The
  paper compares "the face model parameters" and shows one ground-truth matrix (Fig. 9) as the
  reference for both the sampled and the neutral pose (Fig. 5): a vector without pose. Two
  instances of one identity share the shape and differ in expression, so the ground-truth
  diagonal is below 1; sampled as in the paper, it reproduces Fig. 9 best of the variants
  (benchmarks/cosine_definition.py).
- "vector": the whole 26-value vector, scaled (radarface.params), pose and rendering included.
- "bare": the group's own coefficients only: the 10 shape coefficients per identity, the 7
  expression coefficients per expression (the ground truth's diagonal is then 1; a zero vector,
  the neutral expression, has no direction and is left out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from radarface import params as P

DEFINITIONS = ("face", "vector", "bare")
GROUPINGS = ("identity", "expression")


def cosine_features(vectors: np.ndarray, definition: str, grouping: str) -> np.ndarray:
    """(N, 26) parameter vectors -> (N, k) the vectors whose cosines `definition` compares."""
    if definition not in DEFINITIONS:
        raise ValueError(f"unknown cosine definition {definition!r}; use {', '.join(DEFINITIONS)}")
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown grouping {grouping!r}; use {' or '.join(GROUPINGS)}")
    vectors = np.asarray(vectors, dtype=float)
    if definition == "face":
        return vectors[:, : P.POSE.start]
    if definition == "vector":
        return vectors
    return vectors[:, P.SHAPE if grouping == "identity" else P.EXPRESSION]


def pairwise_cosine(features: np.ndarray) -> np.ndarray:
    """(N, k) -> (N, N) cosine similarities; NaN in the rows and columns of zero vectors."""
    norm = np.linalg.norm(features, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = features / np.where(norm > 0, norm, np.nan)[:, None]
    return unit @ unit.T


def group_matrix(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, k) features, (N,) integer group labels 0..G-1 -> (G, G) mean cosine per pair of
    groups over distinct instances; NaN where no pair has a direction."""
    labels = np.asarray(labels)
    n_groups = int(labels.max()) + 1
    cos = pairwise_cosine(features)
    np.fill_diagonal(cos, np.nan)  # an instance is not compared with itself
    onehot = (labels[:, None] == np.arange(n_groups)).astype(float)  # (N, G)
    valid = np.isfinite(cos)
    sums = onehot.T @ np.where(valid, cos, 0.0) @ onehot
    counts = onehot.T @ valid.astype(float) @ onehot
    with np.errstate(invalid="ignore"):
        return sums / np.where(counts > 0, counts, np.nan)


def retrieval_rate(features: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 retrieval: the share of instances (with a direction) whose most similar other
    instance has the same label."""
    labels = np.asarray(labels)
    cos = pairwise_cosine(features)
    np.fill_diagonal(cos, np.nan)
    rows = np.isfinite(cos).any(axis=1)
    if not rows.any():
        return float("nan")
    nearest = np.nanargmax(cos[rows], axis=1)
    return float(np.mean(labels[rows] == labels[nearest]))


def matrix_summary(matrix: np.ndarray) -> dict[str, float]:
    """Mean diagonal, mean off-diagonal and their difference (`gap`) of a (G, G) matrix, and
    the share of rows whose diagonal is their largest cell; NaN cells are left out."""
    diagonal = np.diag(matrix)
    off = matrix[~np.eye(len(matrix), dtype=bool)]
    filled = np.where(np.isfinite(matrix), matrix, -np.inf)
    rows = np.isfinite(diagonal)
    diagonal_max = np.argmax(filled[rows], axis=1) == np.flatnonzero(rows)
    out = {
        "diagonal": float(np.nanmean(diagonal)) if rows.any() else float("nan"),
        "off_diagonal": float(np.nanmean(off)) if np.isfinite(off).any() else float("nan"),
        "diagonal_is_row_max": float(np.mean(diagonal_max)) if rows.any() else float("nan"),
    }
    out["gap"] = out["diagonal"] - out["off_diagonal"]
    return out


def cosine_analysis(
    vectors: np.ndarray, identity: np.ndarray, expression: np.ndarray, definition: str = "face"
) -> dict[str, Any]:
    """Both matrices of (N, 26) vectors with their labels, with summaries and retrieval rates:
    {"identity": {"matrix", "gap", ..., "retrieval"}, "expression": {...}}."""
    out: dict[str, Any] = {"definition": definition}
    for grouping, labels in (("identity", identity), ("expression", expression)):
        features = cosine_features(vectors, definition, grouping)
        matrix = group_matrix(features, labels)
        out[grouping] = {
            "matrix": matrix,
            **matrix_summary(matrix),
            "retrieval": retrieval_rate(features, labels),
        }
    return out
