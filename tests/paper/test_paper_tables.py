"""Table builders on the small synthetic ledgers of conftest.py: numbers worked out by hand
or taken from the hccer.stats reference functions, "not run" rows, layouts and the writers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hccer.errors import InputError
from hccer.paper import tables
from hccer.paper.output import write_table
from hccer.stats import roc, survival
from hccer.stats.table1 import contingency_test, format_p
from hccer.stats.threshold import clopper_pearson


def test_fold_metrics_mean_sd_by_hand_and_not_run_row(cv):
    item = {
        "id": "t4",
        "title": "T4",
        "kind": "fold_metrics",
        "columns": ["Input"],
        "models": [
            {"model": "cv", "label": "CV model", "cells": ["image"]},
            {"model": "x", "cells": ["clinical"]},
        ],
    }
    t = tables.build(item, cv)
    assert list(t.frame.columns) == ["Model", "Input", "Accuracy", "AUC"]
    first = t.frame.iloc[0]
    # fold AUCs 0.75, 1.0, 0.5 -> 0.75 ± 0.25; accuracies 0.75, 0.75, 0.5 -> 66.7% ± 14.4
    assert (first["Model"], first["Input"]) == ("CV model", "image")
    assert first["AUC"] == "0.750 ± 0.25"
    assert first["Accuracy"] == "66.7% ± 14.4"
    assert t.values[0]["auc_sd"] == pytest.approx(0.25)
    assert t.values[0]["accuracy_sd"] == pytest.approx(np.std([0.75, 0.75, 0.5], ddof=1))
    assert list(t.frame.iloc[1][["Model", "Input"]]) == ["x", "clinical"]
    assert t.frame.iloc[1]["AUC"] == "not run (add x to deep.run)"
    assert "3 test folds" in t.notes[0]


def test_fold_metrics_columns_layout(cv):
    item = {
        "id": "t7",
        "title": "T7",
        "kind": "fold_metrics",
        "layout": "columns",
        "models": ["cv", "x"],
    }
    t = tables.build(item, cv)
    assert list(t.frame.columns) == ["Metric", "cv", "x"]
    assert list(t.frame["Metric"]) == ["Accuracy", "AUC"]
    assert t.frame.loc[1, "cv"] == "0.750 ± 0.25"


def test_holdout_metrics_youden_from_training(holdout):
    item = {
        "id": "res",
        "title": "Results",
        "kind": "holdout_metrics",
        "models": ["a", "c"],
        "cohorts": ["train", "test"],
        "youden_from": "train",
    }
    t = tables.build(item, holdout)
    rows = t.frame.set_index(["Model", "Cohort"])
    test = rows.loc[("Model A", "Test")]
    assert test["Cut-off"] == "0.550"  # midpoint of 0.5 and 0.6
    assert test["n (ER)"] == "5 (3)"
    assert test["Sensitivity"] == "66.7% (2/3)"
    assert test["Specificity"] == "50.0% (1/2)"
    assert test["PPV"] == "66.7% (2/3)"
    assert test["NPV"] == "50.0% (1/2)"
    lo, hi = clopper_pearson(3, 5)
    assert test["Accuracy (95% CI)"] == f"0.600 ({lo:.3f}–{hi:.3f})"
    ref = roc.auc_with_ci([0.7, 0.5, 0.6, 0.1, 0.56], [1, 1, 0, 0, 1])
    assert ref.auc == pytest.approx(4 / 6)
    assert test["AUC (95% CI)"] == f"0.667 ({ref.ci_low:.3f}–{ref.ci_high:.3f})"
    train = rows.loc[("Model A", "Training")]
    assert train["Sensitivity"] == "100.0% (3/3)" and train["AUC (95% CI)"].startswith("1.000")
    assert rows.loc[("c", "Test")]["AUC (95% CI)"] == "not run (add c to deep.run)"
    v = next(x for x in t.values if x["model"] == "a" and x["cohort"] == "test")
    assert v["confusion"] == {"tp": 2, "fn": 1, "tn": 1, "fp": 1}
    assert "Youden" in t.notes[0]


def test_holdout_metrics_fixed_threshold_and_missing_cohort(holdout):
    item = {
        "id": "r05",
        "title": "R",
        "kind": "holdout_metrics",
        "models": ["a"],
        "cohorts": ["test", "external"],
        "threshold": 0.5,
        "metrics": ["cutoff", "sensitivity"],
    }
    t = tables.build(item, holdout)
    assert list(t.frame.columns) == ["Model", "Cohort", "n (ER)", "Cut-off", "Sensitivity"]
    assert t.frame.loc[0, "Sensitivity"] == "100.0% (3/3)"  # 0.5 >= 0.5 counts as ER
    assert t.frame.loc[1, "Sensitivity"].startswith("no external rows for a")


def test_km_summary_matches_survival_reference(holdout):
    item = {
        "id": "km",
        "title": "KM",
        "kind": "km_summary",
        "models": ["a"],
        "cohorts": ["train"],
        "youden_from": "train",
        "time_unit": "days",
    }
    t = tables.build(item, holdout)
    row = t.frame.iloc[0]
    time = np.array([p[3] for p in holdout_rows("train")], float)
    event = np.array([p[4] for p in holdout_rows("train")])
    high = np.array([p[2] for p in holdout_rows("train")]) >= 0.55
    ref = survival.km_summary(time, event, np.where(high, "high", "low"))
    assert row["Log-rank P"] == format_p(ref["logrank"]["p_value"])
    hi = next(g for g in ref["groups"] if g["group"] == "high")
    assert row["High risk: n (events)"] == "3 (3)"
    assert row["High risk: median (days, 95% CI)"].startswith(f"{hi['median']:.1f}")
    assert hi["median"] == 200.0  # events at 100, 200, 300


def holdout_rows(cohort):
    from paperdata import TEST, TRAIN

    return TRAIN if cohort == "train" else TEST


def test_km_months_scale(holdout):
    item = {
        "id": "km",
        "title": "KM",
        "kind": "km_summary",
        "models": ["a"],
        "cohorts": ["train"],
        "youden_from": "train",
    }
    t = tables.build(item, holdout)
    assert t.frame.iloc[0]["High risk: median (months, 95% CI)"].startswith(f"{200 / 30.4375:.1f}")


def test_delong_matrix_matches_reference(holdout):
    item = {
        "id": "dl",
        "title": "D",
        "kind": "delong_matrix",
        "models": ["a", "b", "c"],
        "cohorts": ["test"],
    }
    t = tables.build(item, holdout)
    s = np.array([p[2] for p in holdout_rows("test")])
    y = np.array([p[1] for p in holdout_rows("test")])
    order = np.argsort([p[0] for p in holdout_rows("test")])
    ref = roc.delong_matrix(np.vstack([s[order], np.round(1 - s[order], 3)]), y[order], ["a", "b"])[
        0
    ]
    assert len(t.frame) == 1
    assert t.frame.loc[0, "P"] == format_p(ref["p_value"])
    assert any("not run (add c" in n for n in t.notes)


def test_table1_counts_tests_and_levels(holdout):
    item = {
        "id": "s4",
        "title": "S4",
        "kind": "table1",
        "rule": "pearson_fisher5_2x2",
        "percent": False,
        "blocks": [{"by": "er", "within": "train", "order": ["ner", "er"]}],
        "variables": [
            {"label": "Age", "column": "age_years", "ge": 60, "levels": ["<60", "≥60"]},
            {
                "label": "Grade",
                "column": "grade",
                "levels": ["poor", "moderate", "well", "undifferentiated"],
            },
        ],
    }
    t = tables.build(item, holdout)
    f = t.frame
    assert list(f.columns) == ["Variable", "Level", "NER (n = 3)", "ER (n = 3)", "P"]
    # training ages: ER 45, 66, 70 -> <60: 1, >=60: 2; NER 52, 61, 58 -> <60: 2, >=60: 1
    assert list(f.iloc[0, :4]) == ["Age", "<60", "2", "1"]
    assert list(f.iloc[1, :4]) == ["", "≥60", "1", "2"]
    assert f.iloc[0]["P"] == format_p(
        contingency_test([[2, 1], [1, 2]], "pearson_fisher5_2x2")["p_value"]
    )
    # a declared level nobody has stays in the table with 0; a missing grade is left out
    grade = f.iloc[2:]
    assert list(grade["Level"]) == ["poor", "moderate", "well", "undifferentiated"]
    assert list(grade["NER (n = 3)"]) == ["1", "1", "0", "0"]
    assert list(grade["ER (n = 3)"]) == ["1", "1", "1", "0"]
    assert "Fisher" in t.notes[0]


def test_table1_cohort_block_with_total(holdout):
    item = {
        "id": "s3",
        "title": "S3",
        "kind": "table1",
        "rule": "pearson",
        "blocks": [{"by": "cohort", "total": True}],
        "variables": [
            {"label": "Sex", "column": "sex", "levels": ["M", "F"], "labels": ["Male", "Female"]}
        ],
    }
    f = tables.build(item, holdout).frame
    assert list(f.columns) == [
        "Variable",
        "Level",
        "Total (n = 11)",
        "Training (n = 6)",
        "Test (n = 5)",
        "P",
    ]
    assert list(f["Level"]) == ["Male", "Female"]
    assert f.iloc[0]["Training (n = 6)"] == "4 (66.7)"


def test_table1_unknown_category_names_the_patient(holdout):
    item = {
        "id": "s3",
        "title": "S3",
        "kind": "table1",
        "blocks": [{"by": "er"}],
        "variables": [{"label": "Sex", "column": "sex", "levels": ["M"]}],
    }
    with pytest.raises(InputError, match=r"outside the Table 1 levels.*t3"):
        tables.build(item, holdout)


def test_fold_distribution_counts_slices_and_patients(tmp_path, holdout):
    metas = []
    for p in [r[0] for r in holdout_rows("train") + holdout_rows("test")]:
        m = tmp_path / f"sub-{p}_desc-slices2d.json"
        m.write_text(
            json.dumps({"mode": "slices2d", "arrays": {"x": [3 if p < "t" else 5, 3, 8, 8]}})
        )
        metas.append(str(m))
    holdout.crops = metas
    t = tables.build({"id": "t3", "title": "T3", "kind": "fold_distribution"}, holdout)
    # train: 6 patients x 5 slices ("t..." sorts after "s..."); test: 5 x 3
    assert list(t.frame["E1"]) == ["30 (6)", "15 (5)", "45 (11)"]


def test_writers_put_title_and_notes_in_md_and_tex(tmp_path, cv):
    item = {
        "id": "t4",
        "title": "Table 4. Models & more",
        "kind": "fold_metrics",
        "models": ["cv"],
        "note": "slice-level in the paper",
    }
    t = tables.build(item, cv)
    paths = write_table(t, item, tmp_path / "t4", cv.spec["stats"])
    csv, md, tex, js = (p.read_text() for p in paths)
    assert csv.splitlines()[0] == "Model,Accuracy,AUC"
    assert md.startswith("**Table 4. Models & more**") and "- slice-level in the paper" in md
    assert "\\caption{Table 4. Models \\& more}" in tex and "$\\pm$" in tex
    assert json.loads(js)["rows"][0]["AUC"] == "0.750 ± 0.25"
    assert pd.read_csv(paths[0]).shape == (1, 3)


def test_auc_p_between_cohorts_is_unpaired_delong(holdout):
    item = {
        "id": "t2",
        "title": "T2",
        "kind": "holdout_metrics",
        "models": ["a"],
        "cohorts": ["train", "test"],
        "youden_from": "train",
        "metrics": ["auc", "auc_p_cohorts"],
    }
    t = tables.build(item, holdout)
    tr, te = holdout_rows("train"), holdout_rows("test")
    ref = roc.delong_unpaired(
        [p[2] for p in tr], [p[1] for p in tr], [p[2] for p in te], [p[1] for p in te]
    )
    assert list(t.frame["P (AUC between cohorts)"]) == [format_p(ref["p_value"]), ""]
    assert "unpaired two-sided DeLong test of the training vs test AUC" in t.notes[-1]


def test_table1_blocks_side_by_side_with_a_p_only_block(holdout):
    item = {
        "id": "t1",
        "title": "T1",
        "kind": "table1",
        "rule": "yates_fisher5",
        "blocks": [
            {
                "by": "er",
                "within": "train",
                "order": ["er", "ner"],
                "names": ["Training ER", "Training NER"],
                "title": "training",
            },
            {
                "by": "er",
                "within": "test",
                "order": ["er", "ner"],
                "names": ["Test ER", "Test NER"],
                "title": "test",
            },
            {"by": "cohort", "p_only": True, "title": "training vs test"},
        ],
        "variables": [{"label": "Sex", "column": "sex", "levels": ["M", "F"]}],
    }
    f = tables.build(item, holdout).frame
    assert list(f.columns) == [
        "Variable",
        "Level",
        "Training ER (n = 3)",
        "Training NER (n = 3)",
        "P (training)",
        "Test ER (n = 3)",
        "Test NER (n = 2)",
        "P (test)",
        "P (training vs test)",
    ]
    # sex by cohort: training M 4 / F 2, test M 4 / F 1
    ref = contingency_test([[4, 4], [2, 1]], "yates_fisher5")["p_value"]
    assert f.loc[0, "P (training vs test)"] == format_p(ref)


def test_table1_joins_ivim_values(tmp_path, holdout):
    ivim = pd.DataFrame(
        {
            "patient": [r[0] for r in holdout_rows("train") + holdout_rows("test")],
            "D": np.linspace(0.6, 1.1, 11),
        }
    )
    ivim.to_csv(tmp_path / "ivim.tsv", sep="\t", index=False)
    holdout.ivim = str(tmp_path / "ivim.tsv")
    item = {
        "id": "t",
        "title": "T",
        "kind": "table1",
        "continuous": "ttest",
        "blocks": [{"by": "cohort"}],
        "variables": [{"label": "D", "column": "D", "continuous": True}],
    }
    f = tables.build(item, holdout).frame
    d = ivim.set_index("patient")["D"]
    train = d[[r[0] for r in holdout_rows("train")]]
    assert f.loc[0, "Level"] == "mean ± SD"
    assert f.loc[0, "Training (n = 6)"] == f"{train.mean():.2f} ± {train.std():.2f}"


def test_per_cohort_youden_and_item_auc_ci(holdout):
    """ivim_vit Table 4: MedCalc's per-cohort Youden criterion and exact binomial AUC CI."""
    from scipy.stats import beta

    item = {"id": "t4", "title": "T4", "kind": "holdout_metrics", "models": ["a"],
            "cohorts": ["train", "test"], "metrics": ["auc", "cutoff", "sensitivity",
                                                      "specificity"],
            "youden_from": "own", "auc_ci": "binomial"}
    t = tables.build(item, holdout)
    test = next(v for v in t.values if v["cohort"] == "test")
    # test cohort alone: J is 0.5 at P >= 0.5 (all 3 ER, 1 of 2 NER), cut midway to 0.1
    assert test["threshold"] == pytest.approx(0.3)
    assert t.frame.loc[1, "Sensitivity"] == "100.0% (3/3)"
    assert t.frame.loc[1, "Specificity"] == "50.0% (1/2)"
    a, n = 4 / 6, 5                                   # MedCalc: AUC x n successes of n
    assert test["auc"]["ci_low"] == pytest.approx(beta.ppf(0.025, a * n, n - a * n + 1))
    assert test["auc"]["ci_high"] == pytest.approx(beta.ppf(0.975, a * n + 1, n - a * n))
    assert "within each cohort" in t.notes[0] and "exact binomial" in t.notes[1]


def test_odds_ratio_table_matches_2x2_hand_values(tmp_path):
    """Table 3 of cemri_dlrcr: the CR record's univariate OR of a binary variable equals
    ad/bc with the Woolf (Wald) interval exp(log OR ± 1.96 sqrt(1/a+1/b+1/c+1/d))."""
    from hccer.classical.fit import fit_clinical_fold
    from hccer.paper.inputs import Inputs

    # AST > 40: 20 of 30 ER and 15 of 50 NER; diameter > 5 cm: 18/30 vs 12/50; age noise
    rng = np.random.default_rng(4)
    er = np.r_[np.ones(30), np.zeros(50)].astype(int)
    ast = np.r_[np.ones(20), np.zeros(10), np.ones(15), np.zeros(35)]
    diam = np.r_[np.ones(18), np.zeros(12), np.ones(12), np.zeros(38)]
    rng.shuffle(diam[:30]), rng.shuffle(diam[30:])
    pids = [f"q{i:02d}" for i in range(80)]
    outcome = pd.DataFrame({"er": er, "ast_u_l": np.where(ast == 1, 80, 20),
                            "tumor_size_mm": np.where(diam == 1, 70, 30),
                            "const_col": 1.0, "time_days": 400, "event": er}, index=pids)
    outcome.index.name = "patient"
    block = {"model": "screen_logistic", "name": "cr", "alpha": 0.05, "variables": [
        {"name": "ast_gt40", "column": "ast_u_l", "gt": 40},
        {"name": "diameter_gt5cm", "column": "tumor_size_mm", "gt": 50},
        {"name": "constant", "column": "const_col", "gt": 0}]}
    split = {"folds": [{"fold": 0, "train": pids, "test": pids[:10]}]}
    _, record = fit_clinical_fold(outcome, split, 0, block, seed=0)
    path = tmp_path / "fold-0_cr.json"
    path.write_text(json.dumps(record))
    item = {"id": "t3", "title": "T3", "kind": "odds_ratios",
            "labels": {"diameter_gt5cm": "Diameter", "ast_gt40": "AST", "constant": "Const"}}
    t = tables.build(item, Inputs(spec={}, records=[str(path)]))
    a, b, c, d = 20, 10, 15, 35                 # ER exposed, ER not, NER exposed, NER not
    odds = a * d / (b * c)
    half = 1.959964 * np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    ast_row = t.values[1]["univariate"]
    assert ast_row["odds_ratio"] == pytest.approx(odds, rel=1e-6)
    assert (ast_row["ci_low"], ast_row["ci_high"]) == pytest.approx(
        (odds * np.exp(-half), odds * np.exp(half)), rel=1e-5)
    assert list(t.frame["Variable"]) == ["Diameter", "AST", "Const"]
    assert t.frame.iloc[1]["Univariate OR (95% CI)"] == (
        f"{odds:.2f} ({odds * np.exp(-half):.2f}–{odds * np.exp(half):.2f})")
    assert t.frame.iloc[2]["Univariate OR (95% CI)"] == "not estimable"
    assert set(record["selected"]) <= {"ast_gt40", "diameter_gt5cm"}
    for i, var in enumerate(["diameter_gt5cm", "ast_gt40"]):
        cell = t.frame.iloc[i]["Multivariable OR (95% CI)"]
        assert (cell != "—") == (var in record["selected"])
    with pytest.raises(Exception, match="leave out model variable"):
        tables.build({**item, "labels": {"constant": "C"}}, Inputs(spec={}, records=[str(path)]))


def test_scan_characteristics_from_converted_twin_series(tmp_path):
    """Suppl. Table S1 of ct_3dcnn: headers written by the twin's scanner protocols, read back
    by the conversion step's sidecar, summarised per scanner model."""
    import pydicom
    from hccer.ingest.convert import read_series
    from hccer.paper.inputs import Inputs
    from hccer.synth import generate_cohort

    generate_cohort("ct_3dcnn", tmp_path / "twin", n=4, seed=3, matrix=48)
    series: dict[str, list] = {}
    for f in sorted(p for p in (tmp_path / "twin" / "dicom").rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:     # the twin's non-DICOM clutter
            continue
        if "XRayTubeCurrent" in ds and "LOCALIZER" not in ds.ImageType:
            series.setdefault(ds.SeriesInstanceUID, []).append(f)
    sidecars = []
    for files in series.values():
        _, meta = read_series(files)
        path = tmp_path / f"side{len(sidecars)}.json"
        path.write_text(json.dumps(meta))
        sidecars.append(str(path))
    assert len(sidecars) >= 4
    t = tables.build({"id": "s1", "title": "S1", "kind": "scan_characteristics", "phase": "ART"},
                     Inputs(spec={}, sidecars=sidecars))
    cells = t.frame.set_index("Parameter")
    assert set(cells.columns) <= {"SIEMENS SOMATOM Definition Flash", "Philips Brilliance iCT 256"}
    assert sum(int(v) for v in cells.loc["Patients"]) == len(sidecars)
    for scanner, col in (("SIEMENS", "64×0.6 mm"), ("Philips", "128×0.625 mm")):
        for name in cells.columns:
            if name.startswith(scanner):
                assert cells.loc["Detector collimation", name] == col
                assert cells.loc["Tube voltage", name] == "120 kVp"
                assert cells.loc["Rotation time", name] == "0.5 s"
                assert cells.loc["Tube current", name].startswith("automatic (")


def test_table1_variable_kind_is_decided_on_the_whole_cohort(holdout):
    # ages: 11 distinct whole numbers overall (continuous) but only 5 in the test block, which
    # on its own would read as 5 levels; both blocks must give the one summary row
    item = {
        "id": "t1",
        "title": "T1",
        "kind": "table1",
        "continuous": "mwu",
        "blocks": [
            {"by": "er", "within": cohort, "order": ["er", "ner"], "names": ["ER", "NER"],
             "title": cohort}
            for cohort in ("train", "test")
        ],
        "variables": [{"label": "Age", "column": "age_years", "continuous": True}],
    }
    f = tables.build(item, holdout).frame
    assert list(f["Level"]) == ["median (IQR)"]
    assert f.loc[0, "P (test)"] not in ("", "—")
