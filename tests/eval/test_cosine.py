"""Cosine-similarity matrices, their summaries and retrieval on hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest

from radarface import params as P
from radarface.eval.cosine import cosine_analysis, group_matrix, matrix_summary, retrieval_rate


def two_by_two(shape_length: float = 2.0, expression_length: float = 1.0) -> np.ndarray:
    """(4, 26): identities 0, 1 (orthogonal shapes) x expressions 0, 1 (orthogonal), in the
    order identity * 2 + expression; pose and rendering values as given below."""
    vectors = np.zeros((4, 26))
    for identity in range(2):
        for expression in range(2):
            k = identity * 2 + expression
            vectors[k, P.SHAPE.start + identity] = shape_length
            vectors[k, P.EXPRESSION.start + expression] = expression_length
            vectors[k, P.POSE.start + k] = 5.0  # the face definition ignores pose
    return vectors


IDENTITY = np.array([0, 0, 1, 1])
EXPRESSION = np.array([0, 1, 0, 1])


def test_face_matrices_match_hand_computed_cosines() -> None:
    # |s| = 2, |e| = 1: same identity, other expression 4/5; other identity, same expression
    # 1/5; nothing shared 0.
    result = cosine_analysis(two_by_two(), IDENTITY, EXPRESSION, "face")
    identity, expression = result["identity"], result["expression"]
    np.testing.assert_allclose(identity["matrix"], [[0.8, 0.1], [0.1, 0.8]])
    np.testing.assert_allclose(expression["matrix"], [[0.2, 0.4], [0.4, 0.2]])
    assert identity["gap"] == pytest.approx(0.7) and expression["gap"] == pytest.approx(-0.2)
    assert identity["retrieval"] == 1.0 and expression["retrieval"] == 0.0
    assert identity["diagonal_is_row_max"] == 1.0 and expression["diagonal_is_row_max"] == 0.0


def test_vector_definition_counts_the_pose() -> None:
    # Each instance adds its own orthogonal pose entry of length 5: |u|^2 = 4 + 1 + 25 = 30.
    result = cosine_analysis(two_by_two(), IDENTITY, EXPRESSION, "vector")
    expected = np.array([[4.0, 0.5], [0.5, 4.0]]) / 30
    np.testing.assert_allclose(result["identity"]["matrix"], expected)


def test_bare_coefficients_give_one_on_the_diagonal_and_skip_zero_vectors() -> None:
    vectors = two_by_two()
    vectors[EXPRESSION == 0, P.EXPRESSION] = 0.0  # a neutral expression: no direction
    result = cosine_analysis(vectors, IDENTITY, EXPRESSION, "bare")
    np.testing.assert_allclose(result["identity"]["matrix"], np.eye(2))
    expression = result["expression"]["matrix"]
    assert np.isnan(expression[0]).all() and expression[1, 1] == pytest.approx(1.0)
    assert result["expression"]["retrieval"] == 1.0  # over the two instances with a direction


def test_retrieval_finds_the_nearest_other_instance() -> None:
    features = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.2, 1.0], [1.0, 1.0]])
    # nearest others: 0->1, 1->0, 2->3, 3->2 (same label); 4->3 (cos 0.83 > 0.78 to 1).
    labels = np.array([0, 0, 1, 1, 0])
    assert retrieval_rate(features, labels) == pytest.approx(4 / 5)


def test_group_matrix_averages_distinct_pairs_only() -> None:
    features = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    matrix = group_matrix(features, np.array([0, 0, 1]))
    assert matrix[0, 0] == 1.0 and matrix[0, 1] == 0.0
    assert np.isnan(matrix[1, 1])  # a group of one instance has no pair


def test_summary_leaves_out_missing_cells() -> None:
    matrix = np.array([[0.5, 0.1, np.nan], [0.1, np.nan, 0.3], [np.nan, 0.3, 0.2]])
    summary = matrix_summary(matrix)
    assert summary["diagonal"] == pytest.approx(0.35)
    assert summary["off_diagonal"] == pytest.approx(0.2)
    assert summary["gap"] == pytest.approx(0.15)
    assert summary["diagonal_is_row_max"] == pytest.approx(0.5)  # row 0 yes, row 2 no
