"""Per-fold model jobs: fit on the fold's training patients only, score its test patients (and,
for hold-out designs, the training patients as apparent predictions), return ledger rows plus
a JSON-able record of what was selected and fitted."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hccer import ledger
from hccer.classical import clinical as clin
from hccer.classical.models import coefficients, fit_classifier, predict_proba
from hccer.errors import InputError
from hccer.permutation import permuted

log = logging.getLogger(__name__)


def fold_sides(split: dict, fold: int) -> tuple[list[str], list[str], bool]:
    """(train, test, holdout?) of one outer fold of folds.json."""
    from hccer.cohort.split import outer_fold

    f = outer_fold(split, fold)
    return list(f["train"]), list(f["test"]), len(split["folds"]) == 1


def labels_of(outcome: pd.DataFrame, patients: list[str]) -> np.ndarray:
    missing = [p for p in patients if p not in outcome.index]
    if missing:
        raise InputError(f"patient(s) {', '.join(missing[:5])} of the split are not included "
                         "in outcome.tsv")
    return outcome.loc[patients, "er"].astype(int).to_numpy()


def _rows_for(model_name, scorer, patients, outcome, cohort, fold, seed):
    if not patients:
        return []
    return [ledger.rows(patients, scorer(patients), labels_of(outcome, patients), model_name,
                        cohort, fold, seed, outcome)]


def _sides(train, test, holdout, train_rows):
    sides = [("test", test)]
    if holdout and train_rows:
        sides.append(("train", train))
    return sides


# --- clinical models ---------------------------------------------------------------------

def backward_logistic(X: pd.DataFrame, y, alpha: float = 0.05) -> list[str]:
    """Backward elimination on Wald p-values (largest p > alpha out, refit) from the given set."""
    from hccer.stats.logistic import fit, odds_ratios

    cols = list(X.columns)
    df = X.assign(_y=np.asarray(y))
    while cols:
        table = odds_ratios(fit(df, "_y", cols))
        worst = table.loc[table["p_value"].idxmax()]
        if worst["p_value"] <= alpha:
            break
        cols.remove(worst["variable"])
    return cols


def _screen(Xtr: pd.DataFrame, y, univariate) -> pd.DataFrame:
    """Univariate logistic ORs; a variable constant in the training fold or perfectly
    separating it has no finite OR and is left out of the screen (logged)."""
    import warnings

    tables = []
    for var in Xtr.columns:
        if Xtr[var].nunique() < 2:
            log.warning("clinical variable %s is constant in the training fold; not screened",
                        var)
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                tables.append(univariate(Xtr[[var]].assign(_y=y), "_y", [var]))
        except (np.linalg.LinAlgError, ValueError, Warning) as exc:
            log.warning("clinical variable %s: no univariate fit (%s); not screened", var, exc)
    if not tables:
        return pd.DataFrame(columns=["variable", "p_value"])
    return pd.concat(tables, ignore_index=True)


def fit_clinical_fold(outcome: pd.DataFrame, split: dict, fold: int, block: dict, seed: int,
                      extra: pd.DataFrame | None = None, file=None) -> tuple[pd.DataFrame, dict]:
    """The study's clinical model on one fold (kinds: rf_vector, screen_logistic, logistic)."""
    from hccer.stats.logistic import fit, odds_ratios, univariate

    train, test, holdout = fold_sides(split, fold)
    table = outcome if extra is None else outcome.join(extra, how="left")
    kind = block["model"]
    name = block.get("name", "clinical")
    train_rows = bool(block.get("train_rows", True))
    y_train = labels_of(outcome, train)
    record: dict = {"fold": fold, "kind": kind, "model": name}
    rows = []
    if kind == "rf_vector":
        X = clin.code_table(table, block["variables"], file)
        Xtr = X.loc[train].to_numpy()
        rf = fit_classifier("rf", Xtr, y_train, seed, block.get("rf", {}))
        record["variables"] = list(X.columns)
        record.update(coefficients(rf, list(X.columns)))
        perm = fit_classifier("rf", Xtr, permuted(y_train, seed), seed, block.get("rf", {}))
        for cohort, pats in _sides(train, test, holdout, train_rows):
            rows += _rows_for(name, lambda p: predict_proba(rf, X.loc[p].to_numpy()), pats,
                              outcome, cohort, fold, seed)
        rows += _rows_for(f"{name}_perm", lambda p: predict_proba(perm, X.loc[p].to_numpy()),
                          test, outcome, "test", fold, seed)
    elif kind in ("screen_logistic", "logistic"):
        X = clin.code_table(table, block["variables"], file)
        Xtr = X.loc[train]
        if kind == "screen_logistic":
            alpha = float(block.get("alpha", 0.05))
            uni = _screen(Xtr, y_train, univariate)
            record["univariate"] = uni.to_dict(orient="records")
            screened = uni.loc[uni["p_value"] < alpha, "variable"].tolist()
            chosen = backward_logistic(Xtr[screened], y_train, alpha) if screened else []
            if not chosen:
                chosen = list(block.get("fallback", []))
                log.warning("fold %s: no clinical variable passed the screen; using the "
                            "configured fallback %s", fold, chosen)
                if not chosen:
                    raise InputError(f"fold {fold}: no clinical variable passed the univariate "
                                     "screen and no fallback is configured")
        else:
            chosen = list(X.columns)
        result = fit(Xtr[chosen].assign(_y=y_train), "_y", chosen)
        record["selected"] = chosen
        record["multivariable"] = odds_ratios(result).to_dict(orient="records")
        record["intercept"] = float(result.params["const"])

        def score(p, res=result, cols=chosen):
            import statsmodels.api as sm

            return np.asarray(res.predict(sm.add_constant(X.loc[p, cols], has_constant="add")))

        perm_y = permuted(y_train, seed)
        perm = fit(Xtr[chosen].assign(_y=perm_y), "_y", chosen)
        for cohort, pats in _sides(train, test, holdout, train_rows):
            rows += _rows_for(name, score, pats, outcome, cohort, fold, seed)
        rows += _rows_for(f"{name}_perm", lambda p: score(p, perm), test, outcome, "test",
                          fold, seed)
    else:
        raise ValueError(f"unknown clinical model kind {kind!r}")
    return pd.concat(rows, ignore_index=True), record


def staging_rows(outcome: pd.DataFrame, split: dict, block: dict, seed: int,
                 file=None) -> pd.DataFrame:
    """Comparator scores (no fitting) for every fold's test side (and hold-out training side)."""
    names = [n for n in block["comparators"] if n != "erasl_pre"]
    if "erasl_pre" in block["comparators"]:
        log.warning(clin.ERASL_MESSAGE)
    patients = sorted({p for f in split["folds"] for p in f["train"] + f["test"]})
    scores = clin.staging_scores(outcome.loc[patients], names, block["columns"], file)
    rows = []
    for f in split["folds"]:
        holdout = len(split["folds"]) == 1
        for cohort, pats in _sides(f["train"], f["test"], holdout, True):
            for n in names:
                rows += _rows_for(n, lambda p, n=n: scores.loc[p, n].to_numpy(), list(pats),
                                  outcome, cohort, f["fold"], seed)
    return pd.concat(rows, ignore_index=True)


# --- radiomics models --------------------------------------------------------------------

def _patient_index(features: pd.DataFrame) -> pd.Index:
    return features.index.get_level_values(0) if isinstance(features.index, pd.MultiIndex) \
        else features.index


def _rows_of(features: pd.DataFrame, patients: list[str]) -> pd.DataFrame:
    pidx = _patient_index(features)
    missing = sorted(set(patients) - set(pidx))
    if missing:
        raise InputError(f"no radiomics features for patient(s) {', '.join(missing[:5])}")
    return features[pidx.isin(patients)]


def _patient_scores(features_rows: pd.DataFrame, scores: np.ndarray,
                    patients: list[str]) -> np.ndarray:
    """Mean of slice scores per patient (2D slice-level models); identity for 3D rows."""
    s = pd.Series(scores, index=_patient_index(features_rows))
    return s.groupby(level=0).mean().loc[patients].to_numpy()


def patient_permuted(patients, labels, seed: int) -> np.ndarray:
    """Row labels after shuffling the patients' labels among patients: every row of a patient
    gets that patient's new label. With one row per patient this is `permuted(labels, seed)`."""
    pids = pd.Index(patients)
    first = pd.Series(np.asarray(labels), index=pids).groupby(level=0, sort=False).first()
    if len(first) == len(pids):
        return permuted(labels, seed)
    new = pd.Series(permuted(first.to_numpy(), seed), index=first.index)
    return new.loc[pids].to_numpy()


def fit_radiomics_fold(features: pd.DataFrame, outcome: pd.DataFrame, split: dict, fold: int,
                       block: dict, seed: int, icc: pd.Series | None = None,
                       clinical_design: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """Selection funnel + classifiers on one fold. `features` rows are patients or
    (patient, slice); slice models are scored per patient by the mean slice probability.
    `clinical_design` (coded CR variables, index = patient) adds the combined RCR model."""
    from hccer.radiomics.select import run_funnel, zscore_fit

    train, test, holdout = fold_sides(split, fold)
    train_rows = bool(block.get("train_rows", True))
    prefix = block.get("name", "radiomics")
    Ftr = _rows_of(features, train)
    ytr = outcome.loc[_patient_index(Ftr), "er"].astype(int).to_numpy()
    # slice rows: every inner split (LASSO CV, grid search, SVM calibration) by patient
    groups = np.asarray(_patient_index(Ftr)) if isinstance(Ftr.index, pd.MultiIndex) else None
    steps = block["selection"]
    funnel = run_funnel(Ftr, ytr, steps, seed=seed, icc=icc, groups=groups)
    sel = funnel["selected"]
    mean, sd = zscore_fit(Ftr[sel])

    def z(rows):
        return ((rows[sel] - mean) / sd).to_numpy()

    record = {"fold": fold, "selected": sel, "counts": funnel["counts"],
              "lasso_coef": funnel["lasso_coef"], "models": {}}
    rows = []
    tune = bool(block.get("tune", False))
    settings = block.get("settings", {})
    for clf in block["classifiers"]:
        model = fit_classifier(clf, z(Ftr), ytr, seed, settings.get(clf), tune, groups=groups)
        record["models"][clf] = coefficients(model, sel)
        for cohort, pats in _sides(train, test, holdout, train_rows):
            R = _rows_of(features, pats)
            sc = _patient_scores(R, predict_proba(model, z(R)), pats)
            rows += _rows_for(f"{prefix}_{clf}", lambda p, sc=sc: sc, pats, outcome, cohort,
                              fold, seed)
    # negative control: the whole funnel and the first classifier on labels shuffled across
    # patients (a patient's slices keep one label, as in the data)
    yperm = patient_permuted(_patient_index(Ftr), ytr, seed)
    pf = run_funnel(Ftr, yperm, steps, seed=seed, icc=icc, groups=groups)["selected"]
    pm, psd = zscore_fit(Ftr[pf])
    clf0 = block["classifiers"][0]
    perm = fit_classifier(clf0, ((Ftr[pf] - pm) / psd).to_numpy(), yperm, seed,
                          settings.get(clf0), groups=groups)
    R = _rows_of(features, test)
    sc = _patient_scores(R, predict_proba(perm, ((R[pf] - pm) / psd).to_numpy()), test)
    rows += _rows_for(f"{prefix}_{clf0}_perm", lambda p: sc, test, outcome, "test", fold, seed)
    record["permutation"] = {"classifier": clf0, "selected": pf}
    if clinical_design is not None and block.get("combined"):
        rows += _combined(features, clinical_design, outcome, train, test, holdout, train_rows,
                          block["combined"], sel, mean, sd, fold, seed, record)
    return pd.concat(rows, ignore_index=True), record


def _combined(features, design, outcome, train, test, holdout, train_rows, spec, sel, mean, sd,
              fold, seed, record):
    """Radiomics + clinical (RCR): selected z-scored features + coded clinical variables."""
    if isinstance(features.index, pd.MultiIndex):
        raise ValueError("the combined radiomics-clinical model needs patient-level features")
    cols = list(design.columns)

    def X(p):
        rad = ((features.loc[p, sel] - mean) / sd).to_numpy()
        return np.column_stack([rad, design.loc[p, cols].to_numpy(float)])

    ytr = labels_of(outcome, train)
    clf = spec.get("classifier", "lr")
    model = fit_classifier(clf, X(train), ytr, seed, spec.get("settings"))
    record["combined"] = {"name": spec["name"], "clinical": cols,
                          **coefficients(model, sel + cols)}
    rows = []
    for cohort, pats in _sides(train, test, holdout, train_rows):
        rows += _rows_for(spec["name"], lambda p: predict_proba(model, X(p)), pats, outcome,
                          cohort, fold, seed)
    return rows
