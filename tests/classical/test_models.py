"""Radiomics fold jobs (funnel + classifiers, slice aggregation, permutation control, RCR) and
the CLI with a small fake IVIM file."""

import json

import numpy as np
import pandas as pd
import pytest
from hccer.classical.fit import fit_radiomics_fold
from hccer.classical.models import CLASSIFIERS, fit_classifier
from hccer.ledger import validate_ledger
from hccer.permutation import permuted
from hccer.stats.roc import auc


def cohort(n=160, p=40, seed=0, slices=0):
    rng = np.random.default_rng(seed)
    pids = [f"p{i:03d}" for i in range(n)]
    y = rng.integers(0, 2, n)
    outcome = pd.DataFrame({"er": y.astype(str), "time_days": "700", "event": y.astype(str)},
                           index=pids)
    if slices:
        idx = pd.MultiIndex.from_product([pids, range(-slices, slices + 1)],
                                         names=["patient", "slice"])
        yy = np.repeat(y, 2 * slices + 1)
    else:
        idx, yy = pd.Index(pids, name="patient"), y
    X = pd.DataFrame(rng.normal(size=(len(idx), p)), index=idx,
                     columns=[f"AP_f{i}" for i in range(p)])
    X["AP_f0"] += 1.5 * yy
    X["AP_f1"] -= 1.2 * yy
    order = rng.permutation(n)
    folds = {"method": "kfold", "folds": [
        {"fold": k, "test": [pids[i] for i in order[k::4]],
         "train": [pids[i] for i in order if i not in set(order[k::4])]} for k in range(4)]}
    return X, outcome, folds


BLOCK = {"name": "radiomics", "selection": [{"step": "univariate", "p_threshold": 0.05},
                                            {"step": "lasso", "cv": 5}],
         "classifiers": ["lr", "knn"], "train_rows": True}


def test_out_of_fold_rows_auc_and_permutation_control():
    X, outcome, folds = cohort()
    parts = [fit_radiomics_fold(X, outcome, folds, k, BLOCK, seed=7)[0] for k in range(4)]
    ledger = validate_ledger(pd.concat(parts, ignore_index=True))
    # k-fold: test rows only (a patient is in 3 training sides), one per patient and model
    assert set(ledger["cohort"]) == {"test"}
    assert ledger.groupby("model").size().to_dict() == {
        "radiomics_knn": 160, "radiomics_lr": 160, "radiomics_lr_perm": 160}
    lr = ledger[ledger["model"] == "radiomics_lr"]
    assert auc(lr["score"], lr["label"]) > 0.85
    perm = ledger[ledger["model"] == "radiomics_lr_perm"]
    assert abs(auc(perm["score"], perm["label"]) - 0.5) < 0.15


def test_holdout_has_train_rows_and_record():
    X, outcome, folds = cohort(n=120)
    split = {"folds": [folds["folds"][0]]}
    ledger, record = fit_radiomics_fold(X, outcome, split, 0, BLOCK, seed=1)
    assert set(ledger["cohort"]) == {"train", "test"}
    assert {"AP_f0", "AP_f1"} <= set(record["selected"])
    assert record["counts"][0] == ("start", 40)
    assert set(record["models"]["lr"]["coef"]) == set(record["selected"])
    assert record["lasso_coef"]["AP_f1"] < 0


def test_slice_rows_are_averaged_per_patient():
    X, outcome, folds = cohort(n=80, slices=1)
    ledger, _ = fit_radiomics_fold(X, outcome, folds, 0, {**BLOCK, "classifiers": ["lr"]}, 0)
    lr = ledger[ledger["model"] == "radiomics_lr"]
    assert len(lr) == len(folds["folds"][0]["test"]) and lr["patient"].is_unique
    # the patient score equals the mean of its three slice probabilities
    from hccer.classical.models import predict_proba
    from hccer.radiomics.select import run_funnel, zscore_fit

    train = folds["folds"][0]["train"]
    Ftr = X[X.index.get_level_values(0).isin(train)]
    ytr = outcome.loc[Ftr.index.get_level_values(0), "er"].astype(int).to_numpy()
    sel = run_funnel(Ftr, ytr, BLOCK["selection"], seed=0)["selected"]
    m, s = zscore_fit(Ftr[sel])
    model = fit_classifier("lr", ((Ftr[sel] - m) / s).to_numpy(), ytr, 0)
    pid = lr["patient"].iloc[0]
    expect = predict_proba(model, ((X.loc[pid][sel] - m) / s).to_numpy()).mean()
    assert lr["score"].iloc[0] == pytest.approx(expect)


def test_combined_model_uses_clinical_design():
    X, outcome, folds = cohort(n=120)
    split = {"folds": [folds["folds"][0]]}
    design = pd.DataFrame({"ast_gt40": (outcome["er"].astype(int) +
                                        np.random.default_rng(3).integers(0, 2, 120)) > 1},
                          index=outcome.index).astype(float)
    block = {**BLOCK, "combined": {"name": "rcr", "classifier": "lr"}}
    ledger, record = fit_radiomics_fold(X, outcome, split, 0, block, 0, clinical_design=design)
    assert "rcr" in set(ledger["model"])
    assert "ast_gt40" in record["combined"]["coef"]


@pytest.mark.parametrize("name", [c for c in CLASSIFIERS if c != "logit"])
def test_every_classifier_fits_and_ranks(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    model = fit_classifier(name, X[:80], y[:80], seed=0)
    assert auc(model.predict_proba(X[80:])[:, 1], y[80:]) > 0.8


def test_permuted_is_seeded():
    y = np.arange(20)
    assert (permuted(y, 1) == permuted(y, 1)).all() and not (permuted(y, 1) == y).all()


def test_cli_ivim_clinical_with_fake_ivim_file(tmp_path):
    import yaml
    from hccer.cli import main

    rng = np.random.default_rng(4)
    n = 60
    pids = [f"p{i:03d}" for i in range(n)]
    er = rng.integers(0, 2, n)
    size = rng.normal(40, 10, n) + 15 * er
    D = rng.normal(1.0, 0.15, n) - 0.2 * er
    pd.DataFrame({"patient": pids, "step": "outcome", "er": er, "time_days": 800,
                  "event": er, "included": "True", "reason": "",
                  "tumor_size_mm": size.round(0)}).to_csv(tmp_path / "outcome.tsv", sep="\t",
                                                           index=False)
    pd.DataFrame({"patient": pids, "D": D.round(3), "Dstar": 20.0, "f": 0.2,
                  "ADC": 1.1}).to_csv(tmp_path / "ivim.tsv", sep="\t", index=False)
    (tmp_path / "folds.json").write_text(json.dumps(
        {"method": "holdout_random", "folds": [{"fold": 0, "train": pids[:42],
                                                 "test": pids[42:]}]}))
    from hccer.study import write_view

    study = yaml.safe_load((__import__("pathlib").Path(__file__).parents[2] / "config" /
                            "studies" / "ivim_vit.yaml").read_text())
    write_view(str(tmp_path / "study.yaml"), study, "clinical", str(tmp_path / "view.log"))
    args = ["classical", "clinical", "--study", str(tmp_path / "study.yaml"), "--outcome",
            str(tmp_path / "outcome.tsv"), "--folds", str(tmp_path / "folds.json"), "--fold",
            "0", "--seed", "5", "--out", str(tmp_path / "part.csv"), "--record",
            str(tmp_path / "rec.json")]
    assert main(args + ["--ivim", str(tmp_path / "ivim.tsv")]) == 0
    part = pd.read_csv(tmp_path / "part.csv")
    assert set(part["model"]) == {"clinical", "clinical_perm"}
    rec = json.loads((tmp_path / "rec.json").read_text())
    ors = {r["variable"]: r["odds_ratio"] for r in rec["multivariable"]}
    assert ors["tumor_size_cm"] > 1 and ors["D"] < 1
    # the coefficients equal an independent statsmodels fit on the training patients
    import statsmodels.api as sm

    Xtr = sm.add_constant(np.column_stack([size.round(0)[:42] / 10, D.round(3)[:42]]))
    ref = sm.Logit(er[:42], Xtr).fit(disp=0)
    assert np.log(ors["D"]) == pytest.approx(ref.params[2], rel=1e-6)
    # a patient without IVIM values is an input error, exit code 2
    pd.read_csv(tmp_path / "ivim.tsv", sep="\t").iloc[1:].to_csv(tmp_path / "ivim2.tsv",
                                                                  sep="\t", index=False)
    assert main(args + ["--ivim", str(tmp_path / "ivim2.tsv")]) == 2


@pytest.mark.parametrize("name", ["lr", "svm", "knn"])
def test_seeded_inner_cv_search_is_reproducible(name):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=80) > 0).astype(int)
    a = fit_classifier(name, X, y, seed=3, tune=True, inner_folds=3)
    b = fit_classifier(name, X, y, seed=3, tune=True, inner_folds=3)
    assert np.allclose(a.predict_proba(X), b.predict_proba(X))
