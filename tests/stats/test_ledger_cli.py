"""Ledger validation errors, logistic odds ratios, table writers, CLI and figures end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hccer import ledger as L
from hccer.cli import main
from hccer.errors import InputError
from hccer.stats import logistic as LG
from hccer.stats import tables


def _ledger(n=40, models=("a", "b"), seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    y[:2] = [0, 1]
    rows = []
    for m in models:
        s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * y)))
        rows += [{"patient": f"P{i:03d}", "model": m, "score": s[i], "label": y[i],
                  "cohort": "train" if i < n // 2 else "test", "fold": i % 5,
                  "time": float(10 + i), "event": int(y[i])} for i in range(n)]
    return pd.DataFrame(rows)


def test_schema_is_closed_and_matches_columns():
    sch = L.schema()
    assert sch["additionalProperties"] is False
    assert sch["required"] == ["patient", "model", "score", "label"]
    assert set(sch["properties"]) == {"patient", "model", "score", "label", "cohort", "fold",
                                      "seed", "time", "event"}


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.drop(columns="label"), "lacks required column(s) label"),
    (lambda d: d.assign(label=d["label"].replace(1, 2)), "labels must be binary 0/1"),
    (lambda d: d.assign(cohort="training"), "column 'cohort' must be one of"),
    (lambda d: d.assign(extra=1), "unknown column(s) extra"),
    (lambda d: pd.concat([d, d.iloc[:1]]), "duplicate (patient, model, cohort, seed) rows: "
                                          "patient P000 model a"),
    (lambda d: d.assign(score=d["score"].where(d.index != 3, np.nan)),
     "not a finite number for patient(s) P003"),
])
def test_ledger_errors_name_what_is_wrong(mutate, message):
    with pytest.raises(InputError) as exc:
        L.validate_ledger(mutate(_ledger()), file="ledger.csv")
    assert message in exc.value.message()
    assert "ledger.csv" in exc.value.message()


def test_probability_and_paired_errors():
    d = L.validate_ledger(_ledger())
    d.loc[0, "score"] = 1.7
    with pytest.raises(InputError, match=r"probabilities in \[0, 1\].*P000"):
        L.require_probability(d, "x.csv", "calibration")
    d = L.validate_ledger(_ledger())
    d = d[~((d.model == "b") & (d.patient == "P005"))]
    with pytest.raises(InputError, match="only in a: P005"):
        L.paired_frame(d, "a", "b", "train")


def test_defaults_filled(caplog):
    d = L.validate_ledger(_ledger().drop(columns=["cohort"]))
    assert (d["cohort"] == "test").all() and (d["seed"] == 0).all()


def test_logistic_or_wald_by_hand():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, 300)
    y = (rng.random(300) < np.where(x == 1, 0.6, 0.3)).astype(int)
    df = pd.DataFrame({"y": y, "x": x, "noise": rng.normal(size=300)})
    uni = LG.univariate(df, "y", ["x", "noise"])
    a, b = ((x == 1) & (y == 1)).sum(), ((x == 1) & (y == 0)).sum()
    c, d = ((x == 0) & (y == 1)).sum(), ((x == 0) & (y == 0)).sum()
    or_ = a * d / (b * c)
    se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    row = uni[uni.variable == "x"].iloc[0]
    assert row["odds_ratio"] == pytest.approx(or_, rel=1e-8)
    assert row["ci_low"] == pytest.approx(np.exp(np.log(or_) - 1.959963984540054 * se), rel=1e-6)
    res = LG.univariate_to_multivariable(df, "y", ["x", "noise"])
    assert res["selected"] == ["x"]


def test_table_writers():
    df = pd.DataFrame({"Model": ["A_1", "B"], "AUC": [0.81234, np.nan], "CI": ["0.7–0.9", "±"]})
    md = tables.to_markdown(df)
    assert md.splitlines()[0] == "| Model | AUC | CI |"
    assert "| A_1 | 0.812 | 0.7–0.9 |" in md
    tex = tables.to_latex(df, caption="x & y")
    assert r"A\_1 & 0.812 & 0.7--0.9 \\" in tex and r"\caption{x \& y}" in tex
    assert r"$\pm$" in tex


def test_cli_end_to_end(tmp_path):
    led = tmp_path / "ledger.csv"
    _ledger(60, models=("a", "b", "c")).to_csv(led, index=False)
    run = lambda *a: main(["stats", *map(str, a)])  # noqa: E731
    assert run("auc", "--ledger", led, "--out", tmp_path / "auc.json", "--figure",
               tmp_path / "roc", "--table", tmp_path / "auc") == 0
    auc = json.loads((tmp_path / "auc.json").read_text())["results"]
    assert len(auc) == 6 and {"auc", "ci_low", "ci_high", "variance", "n_pos"} <= set(auc[0])
    for ext in ("png", "pdf"):
        assert (tmp_path / f"roc_train_seed0.{ext}").stat().st_size > 1000
    assert run("delong", "--ledger", led, "--model-a", "a", "--model-b", "b", "--cohort", "test",
               "--out", tmp_path / "d.json") == 0
    dl = json.loads((tmp_path / "d.json").read_text())
    assert dl["test"]["paired"] is True and len(dl["matrix"]) == 3
    assert run("delong", "--ledger", led, "--model-a", "a", "--model-b", "a", "--cohort-a",
               "train", "--cohort-b", "test", "--out", tmp_path / "u.json") == 0
    assert json.loads((tmp_path / "u.json").read_text())["test"]["paired"] is False
    assert run("threshold", "--ledger", led, "--model", "a", "--youden-from", "train",
               "--out", tmp_path / "t.json") == 0
    t = json.loads((tmp_path / "t.json").read_text())
    assert set(t["cohorts"]) == {"train", "test"}
    assert t["cohorts"]["test"]["threshold"] == t["threshold"]
    assert run("calibration", "--ledger", led, "--model", "a", "--groups", "5", "--out",
               tmp_path / "c.json", "--figure", tmp_path / "cal") == 0
    assert run("dca", "--ledger", led, "--out", tmp_path / "dca.csv", "--figure",
               tmp_path / "dca") == 0
    assert len(pd.read_csv(tmp_path / "dca.csv")) == 2 * 5 * 100
    assert run("dca", "--ledger", led, "--time-horizon", "40", "--thresholds", "0.1,0.5",
               "--out", tmp_path / "sdca.csv") == 0
    assert run("folds", "--ledger", led, "--out", tmp_path / "f.json") == 0
    # a bad ledger returns exit code 2 with the file named, no traceback
    bad = tmp_path / "bad.csv"
    _ledger().assign(label=3).to_csv(bad, index=False)
    assert run("auc", "--ledger", bad, "--out", tmp_path / "x.json") == 2


def test_cli_km_table1_logistic(tmp_path, shared_data):
    lung = shared_data / "stats" / "lifelines_lung" / "lung.csv"
    run = lambda *a: main(["stats", *map(str, a)])  # noqa: E731
    assert run("km", "--table", lung, "--time", "time", "--event", "status", "--group", "sex",
               "--times", "365", "--out", tmp_path / "km.json", "--figure", tmp_path / "km") == 0
    km = json.loads((tmp_path / "km.json").read_text())
    assert km["logrank"]["statistic"] == pytest.approx(10.3267, abs=1e-4)
    assert km["cox"][0]["hazard_ratio"] == pytest.approx(0.588, abs=5e-4)
    assert (tmp_path / "km.png").exists()
    assert run("table1", "--table", lung, "--group", "sex", "--rules", "pearson",
               "--variables", "ph.ecog,age", "--categorical", "ph.ecog", "--out",
               tmp_path / "t1") == 0
    t1 = pd.read_csv(tmp_path / "t1.csv")
    assert {"variable", "level", "Total", "1", "2", "p", "test"} <= set(t1.columns)
    assert (tmp_path / "t1.tex").exists() and (tmp_path / "t1.md").exists()
    df = pd.read_csv(lung).dropna(subset=["ph.ecog", "age"])
    df = df.assign(dead=df["status"], old=(df["age"] >= 65).astype(int))
    tab = tmp_path / "lung.csv"
    df.to_csv(tab, index=False)
    assert run("logistic", "--table", tab, "--outcome", "dead", "--predictors",
               "sex,old,ph.ecog", "--alpha", "0.2", "--out", tmp_path / "lg.json",
               "--figure", tmp_path / "lg") == 0
    assert (tmp_path / "lg_forest.png").exists() and (tmp_path / "lg_nomogram.pdf").exists()

