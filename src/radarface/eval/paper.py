"""The paper's own numbers, transcribed, for the report to print beside ours.

Source: "3D Face Reconstruction From Radar Images", Table 1 (synthetic validation set, BFM 2019
face12, 8,500 / 1,500 split) and the Supplementary Material's Figure 9 (cosine similarity of
the synthetic ground-truth parameters of the evaluation set: 10 identities x 5 expressions).
"""

from __future__ import annotations

import numpy as np

TABLE1_COLUMNS = ("shape", "expression", "translation", "rotation", "total", "point_dist_mm")

# Table 1 of the paper: MSE per group ("L2" in the paper) and the point distance in mm.
PAPER_TABLE1: dict[str, tuple[float, float, float, float, float, float]] = {
    "Baseline (mean)": (0.99053, 0.99961, 0.33157, 0.22639, 0.80767, 4.42),
    "Baseline (random)": (2.01233, 2.05933, 0.67529, 0.44667, 1.64802, 6.28),
    "Encoder (amplitude)": (0.83999, 0.92118, 0.06874, 0.00630, 0.65536, 3.47),
    "Encoder (depth)": (0.73976, 0.91026, 0.06458, 0.00527, 0.60778, 2.77),
    "Encoder (amplitude-depth)": (0.73502, 0.88483, 0.06128, 0.00510, 0.59753, 2.82),
    "Autoencoder (amplitude)": (0.77045, 0.81509, 0.07939, 0.00704, 0.59432, 3.29),
    "Autoencoder (depth)": (0.63383, 0.84990, 0.06570, 0.00617, 0.54362, 2.56),
    "Autoencoder (amplitude-depth)": (0.63999, 0.82016, 0.07792, 0.00713, 0.53897, 2.61),
}

_NAN = np.nan
# Figure 9a (shape parameters per shape identity), symmetric; the text of the paper we have
# lost rows 1, 2 and 6, so their diagonal entries and the cells (1, 2), (1, 6), (2, 6) are NaN.
PAPER_FIG9_IDENTITY = np.array(
    [
        [0.292, 0.303, 0.123, -0.281, 0.008, -0.194, -0.090, 0.008, -0.327, -0.058],
        [0.303, _NAN, _NAN, -0.399, -0.051, -0.074, _NAN, 0.266, -0.161, 0.007],
        [0.123, _NAN, _NAN, -0.220, 0.032, -0.132, _NAN, 0.108, -0.315, -0.149],
        [-0.281, -0.399, -0.220, 0.530, -0.116, -0.083, 0.408, -0.239, 0.099, -0.070],
        [0.008, -0.051, 0.032, -0.116, 0.028, -0.058, 0.049, -0.031, -0.115, -0.174],
        [-0.194, -0.074, -0.132, -0.083, -0.058, 0.372, -0.336, 0.271, 0.462, 0.286],
        [-0.090, _NAN, _NAN, 0.408, 0.049, -0.336, _NAN, -0.185, -0.116, -0.303],
        [0.008, 0.266, 0.108, -0.239, -0.031, 0.271, -0.185, 0.459, 0.401, 0.232],
        [-0.327, -0.161, -0.315, 0.099, -0.115, 0.462, -0.116, 0.401, 0.757, 0.383],
        [-0.058, 0.007, -0.149, -0.070, -0.174, 0.286, -0.303, 0.232, 0.383, 0.208],
    ]
)
# Figure 9b (expression parameters per expression), complete.
PAPER_FIG9_EXPRESSION = np.array(
    [
        [0.366, 0.331, 0.182, -0.216, -0.045],
        [0.331, 0.674, 0.335, -0.201, 0.012],
        [0.182, 0.335, 0.128, -0.110, 0.019],
        [-0.216, -0.201, -0.110, 0.117, 0.189],
        [-0.045, 0.012, 0.019, 0.189, 0.339],
    ]
)
