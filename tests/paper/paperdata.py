"""Small synthetic run files for the paper builders: a hold-out ledger (train/test, survival
columns), a 3-fold CV ledger, an outcome table and folds.json, with values chosen so the
expected numbers can be worked out by hand."""

from __future__ import annotations

import pandas as pd
from hccer.paper.spec import STATS_DEFAULTS

# hold-out model "a": training scores separate the classes at 0.55 (Youden J = 1); test
# labels/scores give TP 2, FN 1, FP 1, TN 1 at that cut-off and AUC 4/6.
TRAIN = [
    ("t1", 1, 0.9, 100, 1),
    ("t2", 1, 0.8, 200, 1),
    ("t3", 1, 0.6, 300, 1),
    ("t4", 0, 0.5, 900, 0),
    ("t5", 0, 0.3, 800, 1),
    ("t6", 0, 0.2, 1000, 0),
]
TEST = [
    ("s1", 1, 0.7, 150, 1),
    ("s2", 1, 0.5, 400, 1),
    ("s3", 0, 0.6, 950, 0),
    ("s4", 0, 0.1, 990, 0),
    ("s5", 1, 0.56, 250, 1),
]
# CV model "cv": per fold (labels, scores); fold AUCs 0.75, 1.0, 0.5; accuracies at 0.5
# 0.75, 0.75, 0.5
FOLDS = [
    ([1, 1, 0, 0], [0.9, 0.6, 0.4, 0.7]),
    ([1, 1, 0, 0], [0.8, 0.3, 0.2, 0.1]),
    ([1, 1, 0, 0], [0.2, 0.6, 0.7, 0.1]),
]


def holdout_ledger() -> pd.DataFrame:
    rows = []
    for cohort, data in (("train", TRAIN), ("test", TEST)):
        for pid, y, s, t, e in data:
            rows.append(
                {
                    "patient": pid,
                    "model": "a",
                    "score": s,
                    "label": y,
                    "cohort": cohort,
                    "fold": 0,
                    "seed": 0,
                    "time": float(t),
                    "event": e,
                }
            )
            # model "b": reversed ranking on the same patients
            rows.append(
                {
                    "patient": pid,
                    "model": "b",
                    "score": round(1 - s, 3),
                    "label": y,
                    "cohort": cohort,
                    "fold": 0,
                    "seed": 0,
                    "time": float(t),
                    "event": e,
                }
            )
    return pd.DataFrame(rows)


def cv_ledger() -> pd.DataFrame:
    rows = []
    for k, (ys, ss) in enumerate(FOLDS):
        for i, (y, s) in enumerate(zip(ys, ss, strict=True)):
            rows.append(
                {
                    "patient": f"f{k}p{i}",
                    "model": "cv",
                    "score": s,
                    "label": y,
                    "cohort": "test",
                    "fold": k,
                    "seed": 0,
                }
            )
    return pd.DataFrame(rows)


def spec(models: dict, method: str = "holdout_date", n_folds=None, **extra) -> dict:
    return {
        "study": "demo",
        "title": "demo",
        "split": {"method": method, "n_folds": n_folds},
        "stats": dict(STATS_DEFAULTS),
        "labels": {"a": "Model A"},
        "tables": [],
        "figures": [],
        "models": models,
        "inputs": {},
        **extra,
    }


