"""ROC AUC, DeLong variance/covariance, DeLong tests and AUC confidence intervals.

Conventions (as pROC with `direction = "<"`): label 1 is the case (e.g. early recurrence), a
higher score means more likely a case, and ties between a case and a control count one half.
There is no automatic flipping of the direction: an AUC below 0.5 is reported as it is.

DeLong uses the midrank formulation of Sun & Xu (IEEE SPL 2014), O(n log n) per model, which
gives exactly the placement values of DeLong et al. (Biometrics 1988).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CI_METHODS = ("delong", "bootstrap", "binomial")


def _as_arrays(scores, label) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(label)
    if s.ndim == 1:
        s = s[None, :]
    if s.shape[1] != y.shape[0]:
        raise ValueError(f"{s.shape[1]} scores but {y.shape[0]} labels")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError("AUC needs at least one case (label 1) and one control (label 0)")
    return s, y


def _midranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) along the last axis; ties share the mean of their ranks."""
    from scipy.stats import rankdata

    return rankdata(x, method="average", axis=-1)


def placements(scores, label) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DeLong placement values: V10 per case and V01 per control, one row per model.

    V10[i] = P(control < case_i) + 0.5 P(tie); V01[j] = P(case > control_j) + 0.5 P(tie).
    Returns (auc, v10, v01) with shapes (k,), (k, m), (k, n).
    """
    s, y = _as_arrays(scores, label)
    pos, neg = s[:, y], s[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    tz = _midranks(np.concatenate([pos, neg], axis=1))
    tx = _midranks(pos)
    ty = _midranks(neg)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return v10.mean(axis=1), v10, v01


def auc(scores, label) -> float:
    """Area under the ROC curve (Mann-Whitney form) of one score vector."""
    a, _, _ = placements(scores, label)
    return float(a[0])


def delong_cov(scores, label) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance matrix for k models scored on the same patients.

    scores: (k, N) or (N,); label: (N,). Returns (aucs (k,), cov (k, k)).
    """
    a, v10, v01 = placements(scores, label)
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(a), len(a)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(a), len(a)))
    return a, s10 / m + s01 / n


def delong_var(scores, label) -> float:
    """DeLong variance of the AUC of one score vector."""
    _, cov = delong_cov(scores, label)
    return float(cov[0, 0])


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1.0 - (1.0 - level) / 2.0))


def ci_delong(auc_value: float, variance: float, level: float = 0.95) -> tuple[float, float]:
    """Symmetric normal CI on the AUC, truncated to [0, 1] as pROC's ci.auc does."""
    half = _z(level) * math.sqrt(max(variance, 0.0))
    return max(0.0, auc_value - half), min(1.0, auc_value + half)


def ci_binomial(auc_value: float, n_total: int, level: float = 0.95) -> tuple[float, float]:
    """MedCalc's "exact binomial" AUC CI: Clopper-Pearson on AUC*n successes out of n patients.

    n_total is the whole cohort (cases + controls), which is what MedCalc uses.
    """
    from scipy.stats import beta

    alpha = 1.0 - level
    x = auc_value * n_total
    lo = 0.0 if x <= 0 else float(beta.ppf(alpha / 2, x, n_total - x + 1))
    hi = 1.0 if x >= n_total else float(beta.ppf(1 - alpha / 2, x + 1, n_total - x))
    return lo, hi


def bootstrap_aucs(scores, label, n_boot: int = 2000, seed: int = 0,
                   batch: int = 250) -> np.ndarray:
    """AUCs of `n_boot` stratified bootstrap resamples (cases and controls resampled apart,
    as pROC's default `stratified = TRUE`). Returns an array (n_boot, k).

    Each resample is represented by multiplicity weights on the original patients, so one sort
    per model serves all resamples: AUC = sum over tie groups of case weight x (control weight
    below + half the control weight tied), divided by m*n.
    """
    s, y = _as_arrays(scores, label)
    k, _ = s.shape
    m, n = int(y.sum()), int((~y).sum())
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, k))
    orders, starts, ypos = [], [], []
    for j in range(k):
        order = np.argsort(s[j], kind="mergesort")
        sv = s[j, order]
        starts.append(np.flatnonzero(np.r_[True, sv[1:] != sv[:-1]]))
        orders.append(order)
        ypos.append(y[order])
    pos_idx, neg_idx = np.flatnonzero(y), np.flatnonzero(~y)
    done = 0
    while done < n_boot:
        b = min(batch, n_boot - done)
        w = np.zeros((b, y.size))
        w[:, pos_idx] = rng.multinomial(m, np.full(m, 1.0 / m), size=b)
        w[:, neg_idx] = rng.multinomial(n, np.full(n, 1.0 / n), size=b)
        for j in range(k):
            ws = w[:, orders[j]]
            wp = np.where(ypos[j], ws, 0.0)
            wn = ws - wp
            gp = np.add.reduceat(wp, starts[j], axis=1)
            gn = np.add.reduceat(wn, starts[j], axis=1)
            below = np.cumsum(gn, axis=1) - gn
            out[done:done + b, j] = (gp * (below + 0.5 * gn)).sum(axis=1) / (m * n)
        done += b
    return out


def ci_bootstrap(scores, label, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile CI from stratified bootstrap resamples (pROC `ci.auc(method="bootstrap")`)."""
    boots = bootstrap_aucs(scores, label, n_boot=n_boot, seed=seed)[:, 0]
    alpha = 1.0 - level
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


@dataclass(frozen=True)
class AucResult:
    auc: float
    ci_low: float
    ci_high: float
    ci_method: str
    n_pos: int
    n_neg: int
    variance: float
    level: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def auc_with_ci(scores, label, method: str = "delong", level: float = 0.95,
                n_boot: int = 2000, seed: int = 0) -> AucResult:
    """AUC, its DeLong variance and a CI by the chosen method."""
    if method not in CI_METHODS:
        raise ValueError(f"unknown CI method {method!r}; choose one of {', '.join(CI_METHODS)}")
    s, y = _as_arrays(scores, label)
    a, cov = delong_cov(s, y)
    a0, var = float(a[0]), float(cov[0, 0])
    if method == "delong":
        lo, hi = ci_delong(a0, var, level)
    elif method == "binomial":
        lo, hi = ci_binomial(a0, int(y.size), level)
    else:
        lo, hi = ci_bootstrap(s, y, n_boot=n_boot, seed=seed, level=level)
    return AucResult(a0, lo, hi, method, int(y.sum()), int((~y).sum()), var, level)


def _p_value(z: float, alternative: str, df: float | None = None) -> float:
    """P of the statistic against the standard normal, or a Student t with `df`."""
    from scipy.stats import norm, t

    dist = norm if df is None else t(df)
    if alternative == "two-sided":
        return float(2.0 * dist.sf(abs(z)))
    if alternative == "greater":
        return float(dist.sf(z))
    if alternative == "less":
        return float(dist.cdf(z))
    raise ValueError(f"alternative must be two-sided, greater or less, not {alternative!r}")


def delong_paired(score_a, score_b, label, alternative: str = "two-sided",
                  level: float = 0.95) -> dict:
    """Paired DeLong test of AUC(a) - AUC(b) on the same patients (pROC roc.test paired).

    `greater` tests AUC(a) > AUC(b). The CI is on the AUC difference.
    """
    a, cov = delong_cov(np.vstack([score_a, score_b]), label)
    diff = float(a[0] - a[1])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    z = diff / math.sqrt(var) if var > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    half = _z(level) * math.sqrt(max(var, 0.0))
    return {"auc_a": float(a[0]), "auc_b": float(a[1]), "statistic": z,
            "p_value": _p_value(z, alternative), "paired": True, "alternative": alternative,
            "diff": diff, "diff_ci_low": diff - half, "diff_ci_high": diff + half,
            "var_a": float(cov[0, 0]), "var_b": float(cov[1, 1]),
            "covariance": float(cov[0, 1]), "level": level}


UNPAIRED_FORMS = ("t", "normal")


def delong_unpaired(score_a, label_a, score_b, label_b, alternative: str = "two-sided",
                    form: str = "t") -> dict:
    """Unpaired DeLong test of two AUCs on independent samples.

    The statistic is D = (AUC_a - AUC_b) / sqrt(Var_a + Var_b) with DeLong's variances.
    `form="t"` is pROC's roc.test(paired = FALSE): D against a Student t with the
    Welch-Satterthwaite degrees of freedom (Var_a + Var_b)^2 / (Var_a^2 / (N_a - 1) +
    Var_b^2 / (N_b - 1)), N the sample sizes; `form="normal"` refers D to the standard normal
    (the large-sample form; MedCalc's comparison of independent ROC curves)."""
    if form not in UNPAIRED_FORMS:
        raise ValueError(f"form must be one of {', '.join(UNPAIRED_FORMS)}, not {form!r}")
    a, va = delong_cov(score_a, label_a)
    b, vb = delong_cov(score_b, label_b)
    diff = float(a[0] - b[0])
    var_a, var_b = float(va[0, 0]), float(vb[0, 0])
    var = var_a + var_b
    z = diff / math.sqrt(var) if var > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    n_a, n_b = len(np.asarray(label_a)), len(np.asarray(label_b))
    den = var_a ** 2 / (n_a - 1) + var_b ** 2 / (n_b - 1)
    df = var ** 2 / den if den > 0 else math.inf
    p = _p_value(z, alternative, None if form == "normal" else df)
    return {"auc_a": float(a[0]), "auc_b": float(b[0]), "statistic": z, "p_value": p,
            "paired": False, "alternative": alternative, "form": form, "df": df,
            "diff": diff, "var_a": var_a, "var_b": var_b}


def holm(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN entries are kept and not counted)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="mergesort")]
    m = order.size
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


def delong_matrix(scores, label, names, alternative: str = "two-sided") -> list[dict]:
    """All pairwise paired DeLong tests among k models, with Holm-adjusted p-values."""
    s, y = _as_arrays(scores, label)
    a, cov = delong_cov(s, y)
    rows = []
    k = len(names)
    for i in range(k):
        for j in range(i + 1, k):
            diff = float(a[i] - a[j])
            var = float(cov[i, i] + cov[j, j] - 2 * cov[i, j])
            z = diff / math.sqrt(var) if var > 0 else 0.0
            rows.append({"model_a": names[i], "model_b": names[j], "auc_a": float(a[i]),
                         "auc_b": float(a[j]), "statistic": z,
                         "p_value": _p_value(z, alternative)})
    adj = holm([r["p_value"] for r in rows])
    for r, p in zip(rows, adj, strict=True):
        r["p_holm"] = float(p)
    return rows


def roc_curve(scores, label) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points (fpr, tpr, thresholds) for 'positive when score >= threshold', from
    (0, 0) at threshold +inf to (1, 1)."""
    s, y = _as_arrays(scores, label)
    s = s[0]
    thr = np.unique(s)[::-1]
    order = np.argsort(-s, kind="mergesort")
    ss, yy = s[order], y[order]
    last = np.r_[ss[1:] != ss[:-1], True]
    tp = np.cumsum(yy)[last]
    fp = np.cumsum(~yy)[last]
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (~y).sum()]
    return fpr, tpr, np.r_[np.inf, thr]
