"""Classification at a threshold: confusion matrix, accuracy, sensitivity, specificity, PPV, NPV.

A patient is test positive when score >= threshold. Youden thresholds are placed half-way
between consecutive distinct scores (as pROC's coords), so ">=" and ">" agree on the cohort the
threshold was chosen on, and the number carries unchanged to other cohorts.

Confidence intervals are exact Clopper-Pearson; the accuracy p-value is the one-sided exact
binomial test of accuracy > no-information rate, as R caret's confusionMatrix
(`binom.test(x, n, p = NIR, alternative = "greater")`).
"""

from __future__ import annotations

import numpy as np


def clopper_pearson(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial CI for x successes out of n (NaN when n = 0)."""
    from scipy.stats import beta

    if n == 0:
        return float("nan"), float("nan")
    a = 1.0 - level
    lo = 0.0 if x == 0 else float(beta.ppf(a / 2, x, n - x + 1))
    hi = 1.0 if x == n else float(beta.ppf(1 - a / 2, x + 1, n - x))
    return lo, hi


def youden_threshold(score, label) -> dict:
    """Threshold maximising Youden's J = sensitivity + specificity - 1.

    Candidates are midpoints between consecutive distinct scores plus -inf/+inf ends; among
    equal J the lowest threshold (highest sensitivity) is taken.
    """
    s = np.asarray(score, dtype=float)
    y = np.asarray(label).astype(bool)
    u = np.unique(s)
    cand = np.r_[-np.inf, (u[1:] + u[:-1]) / 2, np.inf] if u.size > 1 else np.r_[-np.inf, np.inf]
    pos = s[y]
    neg = s[~y]
    sens = (pos[None, :] >= cand[:, None]).mean(axis=1)
    spec = (neg[None, :] < cand[:, None]).mean(axis=1)
    j = sens + spec - 1
    best = int(np.flatnonzero(j == j.max())[0])
    return {"threshold": float(cand[best]), "youden_j": float(j[best]),
            "sensitivity": float(sens[best]), "specificity": float(spec[best])}


def confusion(score, label, threshold: float) -> dict:
    s = np.asarray(score, dtype=float)
    y = np.asarray(label).astype(bool)
    pred = s >= threshold
    return {"tp": int((pred & y).sum()), "fn": int((~pred & y).sum()),
            "tn": int((~pred & ~y).sum()), "fp": int((pred & ~y).sum())}


def _prop(x: int, n: int, level: float) -> dict:
    lo, hi = clopper_pearson(x, n, level)
    return {"value": x / n if n else float("nan"), "ci_low": lo, "ci_high": hi,
            "x": int(x), "n": int(n)}


def metrics_from_confusion(tp: int, fn: int, tn: int, fp: int, level: float = 0.95) -> dict:
    """Accuracy (CI and test vs the no-information rate), sensitivity, specificity, PPV, NPV."""
    from scipy.stats import binomtest

    n = tp + fn + tn + fp
    correct = tp + tn
    prevalence = (tp + fn) / n
    nir = max(prevalence, 1 - prevalence)
    acc = _prop(correct, n, level)
    acc["nir"] = nir
    acc["p_value_vs_nir"] = float(binomtest(correct, n, nir, alternative="greater").pvalue)
    return {"accuracy": acc,
            "sensitivity": _prop(tp, tp + fn, level),
            "specificity": _prop(tn, tn + fp, level),
            "ppv": _prop(tp, tp + fp, level),
            "npv": _prop(tn, tn + fn, level),
            "ci_method": "clopper-pearson", "level": level}


def evaluate(score, label, threshold: float, level: float = 0.95) -> dict:
    cm = confusion(score, label, threshold)
    return {"threshold": float(threshold), "confusion": cm,
            **metrics_from_confusion(cm["tp"], cm["fn"], cm["tn"], cm["fp"], level)}
