"""Which cosine definition reproduces the paper's ground-truth matrices (Figure 9)?

Draws evaluation sets as the paper samples them (10 identities x 5 expressions, every
coefficient N(0, 1), the five expressions sampled and shared by all identities, pose and
rendering parameters uniform, paper Sec. 3.2 and 4), computes both matrices of the ground truth
for each definition of radarface.eval.cosine, and compares their statistics with Figure 9's
(the cells the paper's text keeps): mean, smallest and largest diagonal, mean and spread of the
off-diagonal, per identity and per expression. `z` is (paper - mean) / sd over the draws; the
definition with the smallest sum of z^2 reproduces Figure 9 best.

    python benchmarks/cosine_definition.py [--draws 300]
"""

from __future__ import annotations

import argparse

import numpy as np

from radarface import params as P
from radarface.eval.cosine import DEFINITIONS, cosine_features, group_matrix
from radarface.eval.paper import PAPER_FIG9_EXPRESSION, PAPER_FIG9_IDENTITY

N_IDENTITIES, N_EXPRESSIONS = 10, 5
STATS = ("diag mean", "diag min", "diag max", "off mean", "off sd")


def paper_sampling(rng: np.random.Generator) -> np.ndarray:
    """(50, 26) ground-truth vectors of an evaluation set sampled as in the paper."""
    shapes = rng.normal(size=(N_IDENTITIES, P.N_SHAPE))
    expressions = rng.normal(size=(N_EXPRESSIONS, P.N_EXPRESSION))
    n = N_IDENTITIES * N_EXPRESSIONS
    vectors = np.zeros((n, P.N_PARAMS))
    vectors[:, P.SHAPE] = np.repeat(shapes, N_EXPRESSIONS, axis=0)
    vectors[:, P.EXPRESSION] = np.tile(expressions, (N_IDENTITIES, 1))
    pose = rng.uniform(-1, 1, (n, 6))
    pose[:, 2] = 0.0  # no z translation
    vectors[:, P.POSE] = pose
    vectors[:, P.DYNAMIC_RANGE] = P.scale_rendering(np.array([20.0, 0.0, 0.2]))[0]
    vectors[:, P.MATERIAL :] = rng.uniform(-1, 1, (n, 2))
    return vectors


def statistics(matrix: np.ndarray, diagonal_known: np.ndarray, off_known: np.ndarray) -> list:
    """STATS of a matrix over the cells the paper's text keeps."""
    diagonal, off = np.diag(matrix)[diagonal_known], matrix[off_known]
    return [diagonal.mean(), diagonal.min(), diagonal.max(), off.mean(), off.std()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    identity = np.repeat(np.arange(N_IDENTITIES), N_EXPRESSIONS)
    expression = np.tile(np.arange(N_EXPRESSIONS), N_IDENTITIES)
    paper = {"identity": PAPER_FIG9_IDENTITY, "expression": PAPER_FIG9_EXPRESSION}
    masks = {
        g: (np.isfinite(np.diag(m)), np.isfinite(m) & ~np.eye(len(m), dtype=bool))
        for g, m in paper.items()
    }
    print(f"{'':22s}" + "".join(f"{s:>12s}" for s in STATS))
    for grouping, matrix in paper.items():
        values = statistics(matrix, *masks[grouping])
        print(f"{'paper ' + grouping:22s}" + "".join(f"{v:12.3f}" for v in values))
    rng = np.random.default_rng(args.seed)
    draws = [paper_sampling(rng) for _ in range(args.draws)]
    for definition in DEFINITIONS:
        chi2 = 0.0
        lines = []
        for grouping, labels in (("identity", identity), ("expression", expression)):
            stats = np.array(
                [
                    statistics(
                        group_matrix(cosine_features(v, definition, grouping), labels),
                        *masks[grouping],
                    )
                    for v in draws
                ]
            )
            mean, sd = stats.mean(0), stats.std(0)
            target = statistics(paper[grouping], *masks[grouping])
            with np.errstate(divide="ignore"):  # a statistic without spread: z = inf
                z = np.abs(np.array(target) - mean) / np.where(sd > 1e-9, sd, 0.0)
            z *= np.sign(np.array(target) - mean)
            chi2 += float(np.sum(z**2))
            cells = "".join(f"{m:7.3f} {zz:+4.1f}" for m, zz in zip(mean, z, strict=True))
            lines.append(f"  {grouping:20s}{cells}")
        print(f"{definition}: sum z^2 = {chi2:.1f}  (mean over draws, z)")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
