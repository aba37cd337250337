"""Decision curve analysis (net benefit), binary and survival, as R dcurves.

A patient is test positive when the risk is strictly above the threshold pt.
Net benefit = TP/n - FP/n * pt / (1 - pt); treat-all has every patient positive, treat-none
none (net benefit 0). Net interventions avoided = (NB - NB_all) / (pt / (1 - pt)), which is
NaN or -inf at pt = 0 exactly as dcurves reports NA / -Inf.

Survival DCA (dcurves `Surv(time, event) ~ ...` with `time = horizon`): the event probability
at the horizon comes from Kaplan-Meier, overall for treat-all and among test positives for a
model, so tp_rate = test_pos_rate * (1 - S_pos(H)) and fp_rate = test_pos_rate * S_pos(H).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["variable", "label", "n", "threshold", "pos_rate", "test_pos_rate", "tp_rate",
           "fp_rate", "harm", "net_benefit", "net_intervention_avoided"]


def parse_thresholds(spec: str) -> np.ndarray:
    """'start:stop:step' (inclusive stop) or a comma list, e.g. '0:0.99:0.01'."""
    if ":" in spec:
        start, stop, step = (float(v) for v in spec.split(":"))
        if step <= 0 or stop < start:
            raise ValueError(f"threshold range {spec!r} must be start:stop:step with step > 0")
        n = int(np.floor((stop - start) / step + 1e-9)) + 1
        th = np.round(start + step * np.arange(n), 10)
    else:
        th = np.array([float(v) for v in spec.split(",")])
    if ((th < 0) | (th >= 1)).any():
        raise ValueError("decision-curve thresholds must lie in [0, 1)")
    return th


def _odds(th: np.ndarray) -> np.ndarray:
    return th / (1 - th)


def _frame(variable: str, label: str, n: int, th: np.ndarray, pos_rate: float,
           test_pos: np.ndarray, tp: np.ndarray, fp: np.ndarray, nb_all: np.ndarray,
           harm: float = 0.0) -> pd.DataFrame:
    odds = _odds(th)
    nb = tp - fp * odds - harm
    with np.errstate(divide="ignore", invalid="ignore"):
        nia = (nb - nb_all) / odds
    return pd.DataFrame({"variable": variable, "label": label, "n": n, "threshold": th,
                         "pos_rate": pos_rate, "test_pos_rate": test_pos, "tp_rate": tp,
                         "fp_rate": fp, "harm": harm, "net_benefit": nb,
                         "net_intervention_avoided": nia})


def net_benefit_all(prevalence: float, th: np.ndarray) -> np.ndarray:
    return prevalence - (1 - prevalence) * _odds(th)


def binary_dca(risks: dict[str, np.ndarray], label, thresholds,
               harm: dict[str, float] | None = None) -> pd.DataFrame:
    """Net benefit of each model in `risks` plus treat-all and treat-none (one long table)."""
    y = np.asarray(label).astype(bool)
    th = np.asarray(thresholds, dtype=float)
    n = y.size
    prev = float(y.mean())
    nb_all = net_benefit_all(prev, th)
    ones = np.ones_like(th)
    out = [_frame("all", "Treat All", n, th, prev, ones, prev * ones, (1 - prev) * ones, nb_all),
           _frame("none", "Treat None", n, th, prev, 0 * ones, 0 * ones, 0 * ones, nb_all)]
    for name, r in risks.items():
        r = np.asarray(r, dtype=float)
        pos = r[None, :] > th[:, None]
        tp = (pos & y).sum(axis=1) / n
        fp = (pos & ~y).sum(axis=1) / n
        out.append(_frame(name, name, n, th, prev, pos.mean(axis=1), tp, fp, nb_all,
                          (harm or {}).get(name, 0.0)))
    return pd.concat(out, ignore_index=True)[COLUMNS]


def km_at(time, event, horizon: float) -> float:
    """Kaplan-Meier survival at `horizon` (the last value carried forward past the last time)."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    if t.size == 0:
        return float("nan")
    ev_times = np.unique(t[e & (t <= horizon)])
    s = 1.0
    for u in ev_times:
        at_risk = (t >= u).sum()
        d = (e & (t == u)).sum()
        s *= 1 - d / at_risk
    return float(s)


def survival_dca(risks: dict[str, np.ndarray], time, event, horizon: float,
                 thresholds) -> pd.DataFrame:
    """Survival decision curve at a time horizon (see module docstring)."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    th = np.asarray(thresholds, dtype=float)
    n = t.size
    prev = 1 - km_at(t, e, horizon)
    nb_all = net_benefit_all(prev, th)
    ones = np.ones_like(th)
    out = [_frame("all", "Treat All", n, th, prev, ones, prev * ones, (1 - prev) * ones, nb_all),
           _frame("none", "Treat None", n, th, prev, 0 * ones, 0 * ones, 0 * ones, nb_all)]
    for name, r in risks.items():
        r = np.asarray(r, dtype=float)
        tpr = np.empty_like(th)
        fpr = np.empty_like(th)
        rate = np.empty_like(th)
        for i, pt in enumerate(th):
            pos = r > pt
            rate[i] = pos.mean()
            if not pos.any():
                tpr[i] = fpr[i] = 0.0
                continue
            s_pos = km_at(t[pos], e[pos], horizon)
            tpr[i] = rate[i] * (1 - s_pos)
            fpr[i] = rate[i] * s_pos
        out.append(_frame(name, name, n, th, prev, rate, tpr, fpr, nb_all))
    return pd.concat(out, ignore_index=True)[COLUMNS]
