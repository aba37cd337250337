"""Intraclass correlation ICC(2,1): two-way random effects, absolute agreement, single rater.

Shrout & Fleiss (1979), Psychol Bull 86:420, case 2; McGraw & Wong (1996) ICC(A,1).
"""

from __future__ import annotations

import numpy as np


def anova_two_way(ratings) -> dict[str, float]:
    """Mean squares of a subjects × raters table without replication (no missing cells)."""
    x = np.asarray(ratings, float)
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(0) - grand) ** 2).sum()
    ss_total = ((x - grand) ** 2).sum()
    ss_err = ss_total - ss_rows - ss_cols
    return {
        "n": n, "k": k,
        "ms_rows": ss_rows / (n - 1),
        "ms_cols": ss_cols / (k - 1),
        "ms_err": ss_err / ((n - 1) * (k - 1)),
        "ms_within": (ss_cols + ss_err) / (n * (k - 1)),
    }


def icc_2_1(ratings) -> float:
    """ICC(2,1) of an (n subjects × k raters) table; rows with any NaN are dropped.

    Returns NaN with fewer than two complete subjects or a zero denominator.
    """
    x = np.asarray(ratings, float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"ratings must be subjects × raters with ≥ 2 raters, got {x.shape}")
    x = x[np.isfinite(x).all(1)]
    if x.shape[0] < 2:
        return float("nan")
    a = anova_two_way(x)
    n, k = a["n"], a["k"]
    den = a["ms_rows"] + (k - 1) * a["ms_err"] + k * (a["ms_cols"] - a["ms_err"]) / n
    if den == 0:
        return float("nan")
    return float((a["ms_rows"] - a["ms_err"]) / den)
