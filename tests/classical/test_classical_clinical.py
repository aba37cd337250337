"""Clinical coding, the CR model against the paper's reconstructed counts (spec seed-002
section 9.A), staging comparators by hand, and the 9-element clinical vector."""

import numpy as np
import pandas as pd
import pytest
from hccer.classical import clinical as clin
from hccer.classical.fit import fit_clinical_fold, staging_rows
from hccer.errors import InputError
from hccer.stats.roc import auc

# (AST > 40, diameter > 5 cm) -> patients per group, cemri_dlrcr training and validation
CR_COUNTS = {
    "train": {1: {(1, 1): 15, (1, 0): 21, (0, 1): 15, (0, 0): 27},
              0: {(1, 1): 4, (1, 0): 9, (0, 1): 6, (0, 0): 35}},
    "test": {1: {(1, 1): 2, (1, 0): 2, (0, 1): 8, (0, 0): 6},
             0: {(1, 1): 1, (1, 0): 2, (0, 1): 0, (0, 0): 12}},
}


def cr_cohort():
    rows, split = [], {"train": [], "test": []}
    rng = np.random.default_rng(0)
    for side, groups in CR_COUNTS.items():
        for er, cells in groups.items():
            for (ast, diam), n in cells.items():
                for _ in range(n):
                    pid = f"p{len(rows):04d}"
                    rows.append({"patient": pid, "er": str(er), "time_days": "800",
                                 "event": str(er), "ast_u_l": "60" if ast else "30",
                                 "tumor_size_mm": "61" if diam else "50",
                                 "sex": rng.choice(["M", "F"])})
                    split[side].append(pid)
    outcome = pd.DataFrame(rows).set_index("patient")
    folds = {"method": "holdout_random", "folds": [{"fold": 0, **split}]}
    return outcome, folds


CR_BLOCK = {"model": "screen_logistic", "name": "cr", "alpha": 0.05,
            "variables": [{"name": "male", "column": "sex", "equals": "M"},
                          {"name": "ast_gt40", "column": "ast_u_l", "gt": 40},
                          {"name": "diameter_gt5cm", "column": "tumor_size_mm", "gt": 50}]}


def test_cr_model_reproduces_table3_and_table4():
    outcome, folds = cr_cohort()
    ledger, record = fit_clinical_fold(outcome, folds, 0, CR_BLOCK, seed=1)
    assert set(record["selected"]) == {"ast_gt40", "diameter_gt5cm"}
    ors = {r["variable"]: r for r in record["multivariable"]}
    assert ors["ast_gt40"]["odds_ratio"] == pytest.approx(2.489, abs=1e-3)
    assert ors["ast_gt40"]["ci_low"] == pytest.approx(1.140, abs=1e-3)
    assert ors["ast_gt40"]["ci_high"] == pytest.approx(5.436, abs=1e-3)
    assert ors["diameter_gt5cm"]["odds_ratio"] == pytest.approx(2.507, abs=1e-3)
    assert ors["diameter_gt5cm"]["p_value"] == pytest.approx(0.032, abs=1e-3)
    cr = ledger[ledger["model"] == "cr"]
    tr, te = cr[cr["cohort"] == "train"], cr[cr["cohort"] == "test"]
    assert len(tr) == 132 and len(te) == 33
    assert auc(tr["score"], tr["label"]) == pytest.approx(0.662, abs=1e-3)
    assert auc(te["score"], te["label"]) == pytest.approx(0.752, abs=1e-3)
    # predicted P(ER) of the four cells (spec: 0.450 / 0.670 / 0.672 / 0.836)
    assert sorted(np.round(tr["score"].unique(), 3)) == [0.450, 0.670, 0.672, 0.836]
    perm = ledger[ledger["model"] == "cr_perm"]
    assert len(perm) == 33 and set(perm["cohort"]) == {"test"}


def test_coding_and_input_errors():
    df = pd.DataFrame({"age_years": ["59", "60", "61"], "bclc_stage": ["0", "A", "C"]},
                      index=["a", "b", "c"])
    assert clin.code_variable(df, {"name": "x", "column": "age_years", "ge": 60}).tolist() \
        == [0, 1, 1]
    assert clin.code_variable(df, {"name": "x", "column": "age_years", "gt": 60}).tolist() \
        == [0, 0, 1]
    assert clin.code_variable(df, {"name": "x", "column": "age_years", "continuous": True,
                                   "scale": 0.1}).tolist() == pytest.approx([5.9, 6.0, 6.1])
    assert clin.code_variable(df, {"name": "x", "column": "bclc_stage",
                                   "equals": ["A", "C"]}).tolist() == [0, 1, 1]
    with pytest.raises(InputError, match="'nlr' is missing"):
        clin.code_variable(df, {"name": "x", "column": "nlr", "ge": 2.8})
    df.loc["b", "age_years"] = "sixty"
    with pytest.raises(InputError, match=r"b \('sixty'\)"):
        clin.code_variable(df, {"name": "x", "column": "age_years", "ge": 60})


COLS = {k: k for k in ("nodule_count", "largest_nodule_mm", "macrovascular_invasion",
                       "extrahepatic_spread", "ecog", "child_pugh", "neutrophil",
                       "lymphocyte", "monocyte", "platelet")}


def staging_frame():
    # single 15 mm; single 60 mm; 3 x <=30 mm; 2 with 45 mm; 5 nodules; MVI; EHS; ECOG 3
    return pd.DataFrame({
        "nodule_count": ["1", "1", "3", "2", "5", "1", "1", "1"],
        "largest_nodule_mm": ["15", "60", "28", "45", "20", "30", "30", "30"],
        "macrovascular_invasion": ["no"] * 5 + ["yes", "no", "no"],
        "extrahepatic_spread": ["no"] * 6 + ["yes", "no"],
        "ecog": ["0"] * 7 + ["3"],
        "child_pugh": ["A"] * 8,
        "neutrophil": ["4"] * 8, "lymphocyte": ["2"] * 8, "monocyte": ["0.5"] * 8,
        "platelet": ["200"] * 8,
    }, index=[f"p{i}" for i in range(8)])


def test_staging_by_hand():
    df = staging_frame()
    assert clin.bclc_stage(df, COLS).tolist() == [0, 1, 1, 2, 2, 3, 3, 4]
    assert clin.cnlc_stage(df, COLS).tolist() == [1, 2, 2, 3, 4, 5, 6, 7]
    s = clin.staging_scores(df, ["nlr", "plr", "lmr"], COLS)
    assert s["nlr"].tolist() == [2.0] * 8 and s["plr"].tolist() == [100.0] * 8
    assert s["lmr"].tolist() == [-4.0] * 8       # lower LMR = risk, fixed direction
    with pytest.raises(InputError, match="ERASL-pre is left out"):
        clin.staging_scores(df, ["erasl_pre"], COLS)
    bad = df.drop(columns="ecog")
    with pytest.raises(InputError, match="'ecog' is missing"):
        clin.bclc_stage(bad, COLS)


def test_staging_rows_cover_both_cohorts_of_a_holdout():
    df = staging_frame().assign(er=["0", "0", "1", "0", "1", "1", "1", "1"],
                                time_days="900", event="0")
    folds = {"folds": [{"fold": 0, "train": ["p0", "p1", "p2", "p3"],
                        "test": ["p4", "p5", "p6", "p7"]}]}
    rows = staging_rows(df, folds, {"comparators": ["bclc", "nlr", "erasl_pre"],
                                    "columns": COLS}, seed=3)
    assert set(rows["model"]) == {"bclc", "nlr"}
    assert sorted(rows.groupby("model").size()) == [8, 8]
    assert set(rows["cohort"]) == {"train", "test"}


def test_nine_element_vector_from_raw_columns(project_root):
    import yaml

    block = yaml.safe_load((project_root / "config" / "studies" /
                            "phase_attention.yaml").read_text())["clinical"]
    df = pd.DataFrame({"age_years": ["60", "59"], "tumor_size_mm": ["50", "49"],
                       "portal_vein_invasion": ["yes", "no"], "nlr": ["2.8", "2.79"],
                       "tbil_umol_l": ["20.5", "20.4"], "afp_ug_l": ["9", "8.9"],
                       "bclc_stage": ["B", "0"]}, index=["a", "b"])
    X = clin.code_table(df, block["variables"])
    assert X.loc["a"].tolist() == [1, 1, 1, 1, 1, 1, 0, 1, 0]   # BCLC B -> [0, 1, 0]
    assert X.loc["b"].tolist() == [0] * 9                         # BCLC 0 -> [0, 0, 0]


def test_screen_skips_constant_and_separating_variables():
    outcome, folds = cr_cohort()
    train = folds["folds"][0]["train"]
    outcome["const_col"] = "1"
    outcome["sep_col"] = outcome["er"]          # perfectly separates ER in training
    block = dict(CR_BLOCK, variables=CR_BLOCK["variables"] + [
        {"name": "const", "column": "const_col", "gt": 0},
        {"name": "sep", "column": "sep_col", "gt": 0}])
    _, record = fit_clinical_fold(outcome, folds, 0, block, seed=1)
    screened = {r["variable"] for r in record["univariate"]}
    assert "const" not in screened and "sep" not in screened
    assert set(record["selected"]) == {"ast_gt40", "diameter_gt5cm"}
    assert len(train) == 132
