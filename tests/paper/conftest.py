"""Fixtures over the small synthetic run files of paperdata.py."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hccer.paper.inputs import Inputs
from paperdata import TEST, TRAIN, cv_ledger, holdout_ledger, spec


@pytest.fixture()
def holdout(tmp_path):
    """Inputs over the hold-out ledger, an outcome table and folds.json of its 11 patients."""
    path = tmp_path / "ledger.csv"
    holdout_ledger().to_csv(path, index=False)
    patients = TRAIN + TEST
    train = [p[0] for p in TRAIN]
    outcome = pd.DataFrame(
        {
            "patient": [p[0] for p in patients],
            "step": "outcome",
            "er": [p[1] for p in patients],
            "time_days": [p[3] for p in patients],
            "event": [p[4] for p in patients],
            "included": True,
            "reason": "",
            "age_years": [45, 66, 70, 52, 61, 58, 49, 73, 40, 64, 55],
            "sex": ["M", "M", "F", "M", "M", "F", "M", "M", "F", "M", "M"],
            "grade": [
                "poor",
                "well",
                "moderate",
                "moderate",
                "",
                "poor",
                "moderate",
                "well",
                "moderate",
                "moderate",
                "poor",
            ],
        }
    )
    (tmp_path / "outcome.tsv").write_text(outcome.to_csv(sep="\t", index=False))
    split = {
        "method": "holdout_date",
        "folds": [{"fold": 0, "train": train, "test": [p[0] for p in TEST]}],
        "assignment": [
            {
                "patient": p[0],
                "cohort": "train" if p[0] in train else "test",
                "fold": -1,
                "er": p[1],
            }
            for p in patients
        ],
    }
    (tmp_path / "folds.json").write_text(json.dumps(split))
    models = {"a": None, "b": None, "c": "not run (add c to deep.run)"}
    return Inputs(
        spec=spec(models),
        ledger=str(path),
        outcome=str(tmp_path / "outcome.tsv"),
        folds=str(tmp_path / "folds.json"),
    )


@pytest.fixture()
def cv(tmp_path):
    path = tmp_path / "cv_ledger.csv"
    cv_ledger().to_csv(path, index=False)
    models = {"cv": None, "x": "not run (add x to deep.run)"}
    return Inputs(spec=spec(models, "kfold", 3), ledger=str(path))
