"""Kaplan-Meier, log-rank, Cox hazard ratios and Harrell's C-index.

Kaplan-Meier and its confidence limits follow R survival's `survfit` defaults: Greenwood
variance, `conf.type = "log"` (limits S * exp(+-z * se(log S)), upper capped at 1). The median
and its CI follow `quantile.survfit`: the median is the first time S(t) <= 0.5 (the midpoint to
the next event time when S is exactly 0.5 over an interval); its lower limit is where the lower
confidence curve reaches 0.5 and its upper limit where the upper curve does (None when it
never does).
"""

from __future__ import annotations

import math

import numpy as np

_TOL = math.sqrt(np.finfo(float).eps)


def _te(time, event) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.shape != e.shape:
        raise ValueError("time and event differ in length")
    return t, e.astype(bool)


def kaplan_meier(time, event, level: float = 0.95) -> dict:
    """Survival table at each distinct event time: time, n_risk, n_event, surv, se_log, lo, hi."""
    from scipy.stats import norm

    t, e = _te(time, event)
    ut = np.unique(t[e])
    order = np.sort(t)
    n_risk = t.size - np.searchsorted(order, ut, side="left")
    d = np.array([int((e & (t == u)).sum()) for u in ut]) if ut.size else np.zeros(0, int)
    surv = np.cumprod(1 - d / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.cumsum(d / (n_risk * (n_risk - d)))
    se_log = np.sqrt(g)
    z = norm.ppf(1 - (1 - level) / 2)
    with np.errstate(invalid="ignore", over="ignore"):
        lo = surv * np.exp(-z * se_log)
        hi = np.minimum(1.0, surv * np.exp(z * se_log))
    zero = surv <= 0
    lo[zero], hi[zero] = 0.0, 0.0
    return {"time": ut, "n_risk": n_risk, "n_event": d, "surv": surv, "se_log": se_log,
            "lower": lo, "upper": hi}


def _first_below(times: np.ndarray, curve: np.ndarray, p: float) -> float | None:
    """quantile.survfit's rule on a step curve: first time the curve is <= p, or the midpoint
    to the next step when the curve sits exactly at p."""
    idx = np.flatnonzero(curve <= p + _TOL)
    if idx.size == 0:
        return None
    i = int(idx[0])
    if abs(curve[i] - p) < _TOL:
        later = np.flatnonzero((times > times[i]) & (curve < p - _TOL))
        if later.size:
            return float((times[i] + times[later[0]]) / 2)
    return float(times[i])


def median_survival(km: dict) -> dict:
    t = km["time"]
    return {"median": _first_below(t, km["surv"], 0.5),
            "median_ci_low": _first_below(t, km["lower"], 0.5),
            "median_ci_high": _first_below(t, km["upper"], 0.5)}


def survival_at(km: dict, times) -> list[dict]:
    """S(t) with its CI at the given times (step function, right-continuous)."""
    out = []
    for x in times:
        i = int(np.searchsorted(km["time"], x, side="right")) - 1
        if i < 0:
            out.append({"time": float(x), "surv": 1.0, "lower": 1.0, "upper": 1.0})
        else:
            out.append({"time": float(x), "surv": float(km["surv"][i]),
                        "lower": float(km["lower"][i]), "upper": float(km["upper"][i])})
    return out


def logrank(time, event, group) -> dict:
    """k-sample log-rank test (R survdiff, rho = 0): observed, expected, chi-square, df, p."""
    from scipy.stats import chi2

    t, e = _te(time, event)
    g = np.asarray(group)
    levels = list(np.unique(g))
    k = len(levels)
    if k < 2:
        raise ValueError("the log-rank test needs at least two groups")
    gi = np.searchsorted(np.array(levels), g)
    ut = np.unique(t[e])
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    # at risk per group at each event time: counts with t >= u
    sorted_by_group = [np.sort(t[gi == j]) for j in range(k)]
    n_j = np.stack([s.size - np.searchsorted(s, ut, side="left") for s in sorted_by_group], 1)
    d_j = np.zeros((ut.size, k))
    ev_pos = np.searchsorted(ut, t[e])
    np.add.at(d_j, (ev_pos, gi[e]), 1.0)
    n = n_j.sum(1)
    d = d_j.sum(1)
    obs = d_j.sum(0)
    exp = (n_j * (d / n)[:, None]).sum(0)
    ok = n > 1
    w = (d * (n - d) / (n ** 2 * np.where(ok, n - 1, 1)))[ok]
    nj = n_j[ok]
    var = np.diag((w[:, None] * nj * n[ok][:, None]).sum(0)) - (w[:, None, None] * nj[:, :, None]
                                                                 * nj[:, None, :]).sum(0)
    diff = (obs - exp)[:-1]
    stat = float(diff @ np.linalg.solve(var[:-1, :-1], diff))
    df = k - 1
    return {"statistic": stat, "df": df, "p_value": float(chi2.sf(stat, df)),
            "groups": [{"group": _py(lv), "observed": float(o), "expected": float(x)}
                       for lv, o, x in zip(levels, obs, exp, strict=True)]}


def _py(v):
    return v.item() if hasattr(v, "item") else v


def concordance(time, event, score) -> float:
    """Harrell's C-index: a higher score should mean an earlier event (ties in score = 1/2)."""
    from lifelines.utils import concordance_index

    return float(concordance_index(np.asarray(time, float), -np.asarray(score, float),
                                   np.asarray(event).astype(bool)))


def cox(time, event, covariate, name: str = "x", level: float = 0.95) -> dict:
    """Univariable Cox model (Efron ties, lifelines): hazard ratio per unit of the covariate
    with Wald CI and p, and the model's C-index."""
    import pandas as pd
    from lifelines import CoxPHFitter

    df = pd.DataFrame({"T": np.asarray(time, float), "E": np.asarray(event).astype(int),
                       name: np.asarray(covariate, float)})
    fit = CoxPHFitter(alpha=1 - level).fit(df, duration_col="T", event_col="E")
    s = fit.summary.loc[name]
    lo_key = [c for c in s.index if c.startswith("exp(coef) lower")][0]
    hi_key = [c for c in s.index if c.startswith("exp(coef) upper")][0]
    return {"covariate": name, "hazard_ratio": float(s["exp(coef)"]),
            "ci_low": float(s[lo_key]), "ci_high": float(s[hi_key]), "p_value": float(s["p"]),
            "coef": float(s["coef"]), "se": float(s["se(coef)"]),
            "c_index": float(fit.concordance_index_), "level": level}


def km_summary(time, event, group=None, times=(), level: float = 0.95) -> dict:
    """Per-group KM summary plus the log-rank test (when there are groups)."""
    t, e = _te(time, event)
    groups = {"all": np.ones(t.size, bool)} if group is None else {
        _py(g): np.asarray(group) == g for g in np.unique(np.asarray(group))}
    out = {"groups": []}
    for name, sel in groups.items():
        km = kaplan_meier(t[sel], e[sel], level)
        out["groups"].append({"group": name, "n": int(sel.sum()), "events": int(e[sel].sum()),
                              **median_survival(km),
                              "survival_at": survival_at(km, times)})
    if group is not None and len(groups) > 1:
        out["logrank"] = logrank(t, e, group)
    out["level"] = level
    out["median_ci_method"] = "log (R survival default)"
    return out
