"""Calibration: Hosmer-Lemeshow, Brier score, logistic recalibration, binned and smoothed curves.

Hosmer-Lemeshow groups follow R ResourceSelection::hoslem.test: cut points at the type-7
quantiles of the predicted risk (duplicates merged), groups (q_{k-1}, q_k] with the lowest
group closed on the left, expected = sum of predicted risks. The statistic sums (O - E)^2 / E
over events and non-events; df = (number of groups formed) - 2.
"""

from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)

_EPS = 1e-12


def _xy(p, y) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    if p.shape != y.shape:
        raise ValueError("predicted risks and outcomes differ in length")
    return p, y


def quantile_groups(p, groups: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Group index (0..g-1) per patient and the unique cut points used."""
    p = np.asarray(p, dtype=float)
    cuts = np.unique(np.quantile(p, np.linspace(0, 1, groups + 1)))
    if cuts.size < 2:
        return np.zeros(p.size, dtype=int), cuts
    # right-closed intervals; the minimum joins the first group (include.lowest = TRUE)
    idx = np.searchsorted(cuts, p, side="left") - 1
    return np.clip(idx, 0, cuts.size - 2), cuts


def group_table(p, y, groups: int = 10) -> list[dict]:
    p, y = _xy(p, y)
    idx, cuts = quantile_groups(p, groups)
    rows = []
    for g in range(int(idx.max()) + 1 if idx.size else 0):
        sel = idx == g
        n = int(sel.sum())
        if n == 0:
            continue
        # all risks equal: one group whose bounds are that risk
        high = cuts[g + 1] if cuts.size > g + 1 else cuts[g]
        rows.append({"group": g + 1, "low": float(cuts[g]), "high": float(high),
                     "n": n, "observed": float(y[sel].sum()), "expected": float(p[sel].sum()),
                     "mean_predicted": float(p[sel].mean()), "observed_rate": float(y[sel].mean())})
    return rows


def hosmer_lemeshow(p, y, groups: int = 10) -> dict:
    """Hosmer-Lemeshow goodness-of-fit test (see module docstring for the grouping)."""
    from scipy.stats import chi2

    table = group_table(p, y, groups)
    stat = 0.0
    for r in table:
        o1, e1 = r["observed"], r["expected"]
        o0, e0 = r["n"] - o1, r["n"] - e1
        stat += (o1 - e1) ** 2 / max(e1, _EPS) + (o0 - e0) ** 2 / max(e0, _EPS)
    df = len(table) - 2
    if len(table) < groups:
        log.warning("Hosmer-Lemeshow: tied risks gave %d groups instead of %d", len(table), groups)
    pval = float(chi2.sf(stat, df)) if df > 0 else float("nan")
    return {"hl_statistic": float(stat), "hl_df": int(df), "hl_p_value": pval,
            "groups": table}


def brier(p, y) -> float:
    p, y = _xy(p, y)
    return float(np.mean((p - y) ** 2))


def _logit(p: np.ndarray) -> tuple[np.ndarray, int]:
    clipped = np.clip(p, _EPS, 1 - _EPS)
    return np.log(clipped / (1 - clipped)), int((clipped != p).sum())


def _fit_logistic(x: np.ndarray | None, y: np.ndarray, offset=None) -> np.ndarray:
    """Maximum-likelihood logistic regression by Newton-Raphson (intercept first)."""
    n = y.size
    X = np.ones((n, 1)) if x is None else np.column_stack([np.ones(n), x])
    off = np.zeros(n) if offset is None else offset
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        eta = X @ beta + off
        mu = 1 / (1 + np.exp(-eta))
        w = mu * (1 - mu)
        grad = X.T @ (y - mu)
        hess = X.T @ (X * w[:, None])
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    return beta


def recalibration(p, y) -> dict:
    """Calibration intercept and slope from the logistic recalibration y ~ a + b*logit(p)
    (rms val.prob's Intercept/Slope), plus calibration-in-the-large (intercept with the slope
    fixed at 1). Risks of exactly 0 or 1 are moved 1e-12 inwards so their logit is finite;
    the number moved is reported."""
    p, y = _xy(p, y)
    lp, n_clipped = _logit(p)
    if n_clipped:
        log.warning("calibration: %d risk(s) of exactly 0 or 1 moved to 1e-12 from the bound",
                    n_clipped)
    nan = float("nan")
    try:
        a, b = _fit_logistic(lp, y)
    except np.linalg.LinAlgError:
        # all risks equal (or one outcome class): no slope to estimate, as rms reports NA
        log.warning("calibration: intercept and slope not estimable (singular fit)")
        a = b = nan
    try:
        (citl,) = _fit_logistic(None, y, offset=lp)
    except np.linalg.LinAlgError:
        citl = nan
    return {"intercept": float(a), "slope": float(b), "calibration_in_the_large": float(citl),
            "n_clipped": n_clipped}


def lowess_curve(p, y, frac: float = 2 / 3, grid: np.ndarray | None = None) -> tuple:
    """Smoothed observed-vs-predicted curve (lowess without robustness iterations, as rms
    val.prob), evaluated on `grid`."""
    from statsmodels.nonparametric.smoothers_lowess import lowess

    p, y = _xy(p, y)
    grid = np.linspace(p.min(), p.max(), 50) if grid is None else grid
    fit = lowess(y, p, frac=frac, it=0, xvals=grid)
    return grid, np.clip(fit, 0, 1)


def lowess_band(p, y, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                frac: float = 2 / 3) -> dict:
    """Lowess calibration curve with a percentile bootstrap band over patients.

    A ledger holds predictions, not models, so the rms-style optimism correction (which refits
    the model in each resample) is out of reach here; the band shows the sampling uncertainty of
    the apparent curve.
    """
    p, y = _xy(p, y)
    rng = np.random.default_rng(seed)
    grid, mid = lowess_curve(p, y, frac, None)
    curves = np.empty((n_boot, grid.size))
    for b in range(n_boot):
        i = rng.integers(0, p.size, p.size)
        _, curves[b] = lowess_curve(p[i], y[i], frac, grid)
    a = (1 - level) / 2
    lo, hi = np.nanquantile(curves, [a, 1 - a], axis=0)
    return {"predicted": grid.tolist(), "observed": mid.tolist(), "low": lo.tolist(),
            "high": hi.tolist(), "n_boot": n_boot, "seed": seed,
            "mae": float(np.mean(np.abs(mid - grid)))}


def calibration(p, y, groups: int = 10) -> dict:
    """Everything the `hccer stats calibration` command reports for one model and cohort."""
    p, y = _xy(p, y)
    hl = hosmer_lemeshow(p, y, groups)
    rec = recalibration(p, y)
    from hccer.stats.threshold import clopper_pearson

    curve = []
    for r in hl["groups"]:
        lo, hi = clopper_pearson(int(round(r["observed"])), r["n"])
        curve.append({"predicted": r["mean_predicted"], "observed": r["observed_rate"],
                      "ci_low": lo, "ci_high": hi, "n": r["n"]})
    return {"hl_statistic": hl["hl_statistic"], "hl_df": hl["hl_df"],
            "hl_p_value": hl["hl_p_value"], "groups": hl["groups"], "brier": brier(p, y),
            **rec, "curve": curve, "n": int(p.size), "events": int(y.sum()),
            "mean_predicted": float(p.mean()), "observed_rate": float(y.mean()),
            "e_max_bins": float(max((abs(c["predicted"] - c["observed"]) for c in curve),
                                    default=math.nan))}
