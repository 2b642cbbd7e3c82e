"""The morphable face model type: mean, N(0,1)-scaled shape and expression bases, mesh topology."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from radarface.arrays import is_tensor

if TYPE_CHECKING:
    import torch

# Variance shares recorded for every model: the paper predicts the first 10 shape and 7 expression
# coefficients.
SHAPE_SHARE_COMPONENTS = 10
EXPR_SHARE_COMPONENTS = 7


def _content_hash(arrays: list[np.ndarray]) -> str:
    """sha256 over dtype, shape and bytes of each array."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def variance_share(basis_m: np.ndarray, k: int) -> float:
    """Fraction of the total per-vertex variance that the first k N(0,1) coefficients produce."""
    per_component = np.square(basis_m.astype(np.float64)).sum(axis=(1, 2))
    total = per_component.sum()
    return float(per_component[:k].sum() / total) if total > 0 else 0.0


@dataclasses.dataclass(frozen=True, eq=False)
class MorphableModel:
    """Linear face model: mean + shape_basis @ alpha + expr_basis @ gamma, alpha, gamma ~ N(0, 1).

    Vertices are in metres in the model frame (x to the subject's left, y up, z out of the face).
    For a blend-shape rig (ICT), `blendshapes_m` holds the raw blend-shape deltas (B, N, 3) with
    `blendshape_names`, and `blendshape_mean_weights` the mean activation that the PCA mean
    expression (already added to `mean_m`) corresponds to.
    """

    name: str
    mean_m: np.ndarray
    shape_basis_m: np.ndarray
    expr_basis_m: np.ndarray
    triangles: np.ndarray
    landmarks: np.ndarray
    content_hash: str
    blendshapes_m: np.ndarray | None = None
    blendshape_names: tuple[str, ...] = ()
    blendshape_mean_weights: np.ndarray | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    _torch_cache: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        name: str,
        mean_m: np.ndarray,
        shape_basis_m: np.ndarray,
        expr_basis_m: np.ndarray,
        triangles: np.ndarray,
        landmarks: np.ndarray,
        blendshapes_m: np.ndarray | None = None,
        blendshape_names: tuple[str, ...] = (),
        blendshape_mean_weights: np.ndarray | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> MorphableModel:
        """Cast the arrays, compute the content hash and the variance shares, validate."""
        arrays = {
            "mean_m": np.asarray(mean_m, dtype=np.float32),
            "shape_basis_m": np.asarray(shape_basis_m, dtype=np.float32),
            "expr_basis_m": np.asarray(expr_basis_m, dtype=np.float32),
            "triangles": np.asarray(triangles, dtype=np.int32),
            "landmarks": np.asarray(landmarks, dtype=np.int64),
        }
        if blendshapes_m is not None:
            arrays["blendshapes_m"] = np.asarray(blendshapes_m, dtype=np.float32)
            arrays["blendshape_mean_weights"] = np.asarray(
                blendshape_mean_weights, dtype=np.float32
            )
        meta = dict(metadata or {})
        meta[f"shape_variance_share_first_{SHAPE_SHARE_COMPONENTS}"] = variance_share(
            arrays["shape_basis_m"], SHAPE_SHARE_COMPONENTS
        )
        meta[f"expr_variance_share_first_{EXPR_SHARE_COMPONENTS}"] = variance_share(
            arrays["expr_basis_m"], EXPR_SHARE_COMPONENTS
        )
        digest = _content_hash(list(arrays.values()) + [np.array(blendshape_names, dtype=str)])
        return cls(
            name=name,
            content_hash=digest,
            blendshape_names=tuple(str(n) for n in blendshape_names),
            metadata=meta,
            **arrays,
        )

    def __post_init__(self) -> None:
        n = self.mean_m.shape[0]
        checks = [
            (self.mean_m.ndim == 2 and self.mean_m.shape[1] == 3, "mean_m", "(N, 3)"),
            (
                self.shape_basis_m.ndim == 3 and self.shape_basis_m.shape[1:] == (n, 3),
                "shape_basis_m",
                f"(K_s, {n}, 3)",
            ),
            (
                self.expr_basis_m.ndim == 3 and self.expr_basis_m.shape[1:] == (n, 3),
                "expr_basis_m",
                f"(K_e, {n}, 3)",
            ),
            (self.triangles.ndim == 2 and self.triangles.shape[1] == 3, "triangles", "(T, 3)"),
            (self.landmarks.ndim == 1, "landmarks", "(L,)"),
        ]
        if self.blendshapes_m is not None:
            nb = len(self.blendshape_names)
            checks.append(
                (
                    self.blendshapes_m.shape == (nb, n, 3),
                    "blendshapes_m",
                    f"({nb}, {n}, 3) matching blendshape_names",
                )
            )
            checks.append(
                (
                    self.blendshape_mean_weights is not None
                    and self.blendshape_mean_weights.shape == (nb,),
                    "blendshape_mean_weights",
                    f"({nb},)",
                )
            )
        for ok, field, expected in checks:
            if not ok:
                shape = getattr(getattr(self, field), "shape", None)
                raise ValueError(
                    f"face model {self.name!r}: {field} has shape {shape}, expected {expected}"
                )
        values = ("mean_m", "shape_basis_m", "expr_basis_m", "blendshapes_m")
        for field in (*values, "blendshape_mean_weights"):
            array = getattr(self, field)
            if array is not None and not np.all(np.isfinite(array)):
                raise ValueError(f"face model {self.name!r}: {field} has NaN or infinite values")
        for field, index in (("triangles", self.triangles), ("landmarks", self.landmarks)):
            if index.size and (index.min() < 0 or index.max() >= n):
                raise ValueError(f"face model {self.name!r}: {field} index out of range [0, {n})")

    @property
    def n_vertices(self) -> int:
        """Number of vertices N."""
        return self.mean_m.shape[0]

    @property
    def n_shape(self) -> int:
        """Number of shape components K_s."""
        return self.shape_basis_m.shape[0]

    @property
    def n_expr(self) -> int:
        """Number of expression components K_e."""
        return self.expr_basis_m.shape[0]

    @property
    def nose_tip_index(self) -> int:
        """Vertex of the mean face with the largest model z."""
        return int(np.argmax(self.mean_m[:, 2]))

    def _torch(self, field: str, like: torch.Tensor) -> torch.Tensor:
        """An array field as a tensor on the device and dtype of `like` (cached)."""
        import torch

        key = (field, like.device, like.dtype)
        if key not in self._torch_cache:
            self._torch_cache[key] = torch.from_numpy(getattr(self, field)).to(
                like.device, like.dtype
            )
        return self._torch_cache[key]

    @overload
    def vertices(self, shape_coeffs: np.ndarray, expr_coeffs: np.ndarray) -> np.ndarray: ...
    @overload
    def vertices(self, shape_coeffs: torch.Tensor, expr_coeffs: torch.Tensor) -> torch.Tensor: ...

    def vertices(self, shape_coeffs, expr_coeffs):
        """(B, k_s), (B, k_e) coefficients -> (B, N, 3) vertices in metres; (k,) -> (N, 3)."""
        return self._combine(
            ("shape_basis_m", shape_coeffs, "shape_coeffs"),
            ("expr_basis_m", expr_coeffs, "expr_coeffs"),
        )

    def blendshape_vertices(self, shape_coeffs, blendshape_weights):
        """Vertices from shape coefficients and direct blend-shape weights (rigs such as ICT)."""
        if self.blendshapes_m is None:
            raise ValueError(f"face model {self.name!r} has no blend shapes")
        offset = self.blendshape_mean_weights
        if is_tensor(blendshape_weights):
            offset = self._torch("blendshape_mean_weights", blendshape_weights)
        if blendshape_weights.shape[-1] != offset.shape[0]:
            raise ValueError(
                f"blendshape_weights has {blendshape_weights.shape[-1]} weights, "
                f"the model has {offset.shape[0]} blend shapes"
            )
        return self._combine(
            ("shape_basis_m", shape_coeffs, "shape_coeffs"),
            ("blendshapes_m", blendshape_weights - offset, "blendshape_weights"),
        )

    def _combine(self, *terms: tuple[str, Any, str]):
        """mean + sum of basis[:k] contracted with coefficients, for numpy or torch inputs."""
        coeffs = [c for _, c, _ in terms]
        is_torch = is_tensor(coeffs[0])
        if any(is_tensor(c) != is_torch for c in coeffs):
            raise ValueError("coefficients must be all numpy arrays or all torch tensors")
        ndims = {c.ndim for c in coeffs}
        if ndims not in ({1}, {2}):
            raise ValueError(
                f"coefficients must all be (k,) or all (B, k); got shapes "
                f"{[tuple(c.shape) for c in coeffs]}"
            )
        if ndims == {2} and len({c.shape[0] for c in coeffs}) != 1:
            raise ValueError(f"coefficient batch sizes differ: {[tuple(c.shape) for c in coeffs]}")
        for field, c, label in terms:
            available = getattr(self, field).shape[0]
            if c.shape[-1] > available:
                raise ValueError(
                    f"{label} has {c.shape[-1]} components but face model "
                    f"{self.name!r} has {available}"
                )
            if not is_torch and not np.all(np.isfinite(c)):
                raise ValueError(f"{label} contains NaN or infinite values")
        if is_torch:
            import torch

            like = coeffs[0] if coeffs[0].is_floating_point() else coeffs[0].float()
            out = self._torch("mean_m", like)
            for field, c, _ in terms:
                basis = self._torch(field, like)[: c.shape[-1]]
                out = out + torch.tensordot(c.to(like.dtype), basis, dims=([c.ndim - 1], [0]))
            return out
        out = self.mean_m
        for field, c, _ in terms:
            basis = getattr(self, field)[: c.shape[-1]]
            out = out + np.tensordot(np.asarray(c, dtype=np.float32), basis, axes=(-1, 0))
        return out

    def summary(self) -> dict[str, Any]:
        """Name, sizes, hash and variance shares, for display and provenance."""
        shares = {k: v for k, v in self.metadata.items() if "variance_share" in k}
        return {
            "name": self.name,
            "content_hash": self.content_hash,
            "n_vertices": self.n_vertices,
            "n_triangles": int(self.triangles.shape[0]),
            "n_landmarks": int(self.landmarks.shape[0]),
            "n_shape": self.n_shape,
            "n_expr": self.n_expr,
            "n_blendshapes": len(self.blendshape_names),
            **shares,
        }
