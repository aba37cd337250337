"""Cross-validation fold summaries: mean ± SD (ddof = 1) over folds of per-fold AUC and
accuracy at a 0.5 threshold (score >= 0.5 is positive), as the CV papers report them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hccer.stats.roc import auc


def per_fold(df: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """One row per (model, seed, fold): n, AUC (NaN if the fold has one class), accuracy."""
    rows = []
    for (model, seed, fold), g in df.groupby(["model", "seed", "fold"], sort=True):
        y = g["label"].to_numpy()
        s = g["score"].to_numpy()
        a = auc(s, y) if 0 < y.sum() < y.size else float("nan")
        rows.append({"model": model, "seed": seed, "fold": int(fold), "n": int(y.size),
                     "auc": a, "accuracy": float(np.mean((s >= threshold) == y.astype(bool)))})
    return pd.DataFrame(rows)


def summarise(folds: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD over folds per model (and seed), with the papers' text format."""
    rows = []
    for (model, seed), g in folds.groupby(["model", "seed"], sort=True):
        am, asd = g["auc"].mean(), g["auc"].std(ddof=1)
        cm, csd = g["accuracy"].mean(), g["accuracy"].std(ddof=1)
        rows.append({"model": model, "seed": seed, "n_folds": len(g),
                     "auc_mean": am, "auc_sd": asd, "accuracy_mean": cm, "accuracy_sd": csd,
                     "auc_text": format_auc(am, asd), "accuracy_text": format_accuracy(cm, csd)})
    return pd.DataFrame(rows)


def format_auc(mean: float, sd: float) -> str:
    return f"{mean:.3f} ± {sd:.2f}"


def format_accuracy(mean: float, sd: float) -> str:
    return f"{100 * mean:.1f}% ± {100 * sd:.1f}"
