"""ViT-bDL, ViT-mDL, ViT-fDL and the combined model of the IVIM study (seed-003 §5, §8.6-10).

Fitted on the training cohort only:
  * fusion (fDL): per-patient LayerNorm without affine parameters of concat(bDL, mDL);
  * selection, per feature set: z-score with the training scaler, drop features constant in
    training, greedy Pearson filter in index order (drop a feature whose |r| to one already
    kept exceeds the threshold, 0.8), ANOVA F top k (10): the steps of `radiomics.select`;
  * classifier: L2 logistic regression, C chosen on the declared inner folds by AUC over a
    log grid (1e-3 .. 1e2);
  * combined: the selected fDL features plus the clinical model's predictors (tumour size, D),
    z-scored, into an L1 logistic regression with C chosen on the inner folds by log loss; its
    probabilities are the score (an unpenalised refit diverges on separable data).
Every model scores the training cohort (apparent, as the paper reports) and the test cohort.
The label-permutation control repeats the feature models on the permutation ViTs' features
with the same shuffled training labels those ViTs were trained on (test rows only).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hccer.errors import InputError

log = logging.getLogger(__name__)


# --- pure steps ---------------------------------------------------------------------------

def layer_norm(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Row-wise standardisation, as torch.nn.functional.layer_norm without weights."""
    x = np.asarray(x, float)
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def select_features(X: pd.DataFrame, y, threshold: float = 0.8, k: int = 10) -> dict:
    """Training-only selection: scaler, constant drop, correlation filter, ANOVA top k."""
    from hccer.radiomics.select import anova_topk, correlation_filter, zscore_fit

    y = np.asarray(y).astype(int)
    if len(set(y)) < 2:
        raise InputError("feature selection needs both classes among the training patients")
    mean, sd = zscore_fit(X)
    varying = [c for c in X.columns if X[c].std(ddof=0) > 0]
    Z = (X[varying] - mean[varying]) / sd[varying]
    kept = correlation_filter(Z, y, threshold=threshold, order="columns")
    selected = anova_topk(Z[kept], y, k=k) if kept else []
    if not selected:
        raise InputError("no deep feature varies across the training patients")
    return {"mean": mean[selected], "sd": sd[selected], "selected": selected,
            "counts": {"start": X.shape[1], "non_constant": len(varying),
                       "after_correlation": len(kept), "after_anova": len(selected)}}


def zscore(X: pd.DataFrame, sel: dict) -> np.ndarray:
    cols = sel["selected"]
    return ((X[cols] - sel["mean"]) / sel["sd"]).to_numpy(float)


def cv_splits(train: list[str], split: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """The declared inner folds as index pairs into `train`."""
    pos = {p: i for i, p in enumerate(train)}
    out = []
    for f in split.get("inner_folds") or []:
        try:
            out.append((np.array([pos[p] for p in f["train"]]),
                        np.array([pos[p] for p in f["validation"]])))
        except KeyError as exc:
            raise InputError(f"inner fold {f['fold']} names patient {exc} outside the training "
                             "cohort") from None
    if len(out) < 2:
        raise InputError("the classifiers tune C on the inner folds; folds.json has fewer than 2")
    return out


def _scoring(y: np.ndarray, cv, wanted: str) -> str:
    if wanted == "roc_auc" and any(len(set(y[va])) < 2 for _, va in cv):
        log.warning("an inner validation fold holds one class only: C is tuned on log loss "
                    "instead of AUC")
        return "neg_log_loss"
    return wanted


def _tunable(y: np.ndarray, cv) -> bool:
    """C can be tuned only if every inner training fold holds both classes (on tiny or
    permuted training sets one may not; the fixed C = 1 is then used, with a warning)."""
    if any(len(set(y[tr])) < 2 for tr, _ in cv):
        log.warning("an inner training fold holds one class only: C is not tuned (C = 1)")
        return False
    return True


def fit_logistic(Z: np.ndarray, y, cv, Cs, seed: int):
    """L2 logistic regression, C by inner-fold AUC (log loss when a fold has one class)."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    y = np.asarray(y).astype(int)
    if not _tunable(y, cv):
        return LogisticRegression(C=1.0, l1_ratio=0.0, max_iter=10000).fit(Z, y)
    model = LogisticRegressionCV(Cs=list(Cs), l1_ratios=(0.0,), solver="lbfgs", cv=cv,
                                 scoring=_scoring(y, cv, "roc_auc"), max_iter=10000,
                                 random_state=seed, use_legacy_attributes=False)
    return model.fit(Z, y)


def fit_lasso(Z: np.ndarray, y, cv, Cs: int, seed: int):
    """L1 logistic regression, C by inner-fold log loss (the combined model)."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    y = np.asarray(y).astype(int)
    if not _tunable(y, cv):
        return LogisticRegression(C=1.0, l1_ratio=1.0, solver="saga", max_iter=20000,
                                  random_state=seed).fit(Z, y)
    model = LogisticRegressionCV(Cs=int(Cs), l1_ratios=(1.0,), solver="saga", cv=cv,
                                 scoring="neg_log_loss", max_iter=20000, random_state=seed,
                                 use_legacy_attributes=False)
    return model.fit(Z, y)


def c_grid(spec: dict) -> np.ndarray:
    return np.logspace(np.log10(float(spec["low"])), np.log10(float(spec["high"])),
                       int(spec["n"]))


def _model_record(model, names: list[str]) -> dict:
    coef = np.ravel(model.coef_)
    tuned = hasattr(model, "C_")
    return {"C": float(np.ravel(model.C_ if tuned else model.C)[0]), "C_tuned": tuned,
            "scoring": getattr(model, "scoring", None),
            "intercept": float(np.ravel(model.intercept_)[0]),
            "coef": dict(zip(names, coef.tolist(), strict=True)),
            "nonzero": [n for n, c in zip(names, coef, strict=True) if c != 0]}


# --- the job ------------------------------------------------------------------------------

def _feature_sets(paths: dict[str, str], patients: list[str], cohorts: dict) -> dict:
    """bdl, mdl (as read, columns prefixed) and fdl = LayerNorm(concat) over `patients`."""
    from hccer.ivimvit.features import read_features

    sets = {}
    for role in ("bdl", "mdl"):
        df = read_features(paths[role])
        missing = sorted(set(patients) - set(df.index))
        if missing:
            raise InputError(f"no {role} features for patient(s) {', '.join(missing[:5])}",
                             file=paths[role])
        wrong = [p for p in patients if df.loc[p, "cohort"] != cohorts[p]]
        if wrong:
            raise InputError(f"patient(s) {', '.join(wrong[:5])} are in another cohort than in "
                             "folds.json; re-run feature extraction", file=paths[role])
        sets[role] = df.loc[patients].drop(columns="cohort").add_prefix(f"{role}_").astype(float)
    both = pd.concat([sets["bdl"], sets["mdl"]], axis=1)
    sets["fdl"] = pd.DataFrame(layer_norm(both.to_numpy()), index=both.index,
                               columns=both.columns)
    return sets


def _clinical_design(study: dict, outcome: pd.DataFrame, record: dict, ivim_path, file):
    """Coded clinical predictors of the clinical model (its record's selected variables)."""
    from hccer.classical.clinical import code_table
    from hccer.errors import ConfigError

    clin = study.get("clinical") or {}
    chosen = record.get("selected") or []
    specs = [v for v in clin.get("variables", []) if v["name"] in chosen]
    if not specs:
        raise ConfigError("vit: the combined model needs the clinical model's predictors "
                          "(clinical.variables and its record)")
    table = outcome
    if ivim_path:
        extra = pd.read_csv(ivim_path, sep="\t", dtype={"patient": str}).set_index("patient")
        missing = sorted(set(outcome.index) - set(extra.index))
        if missing:
            raise InputError(f"no IVIM parameters for patient(s) {', '.join(missing[:5])}",
                             file=ivim_path)
        table = outcome.join(extra.astype(str), how="left")
    return code_table(table, specs, file)


def fit_all(study: dict, features: dict[str, str], outcome: pd.DataFrame, split: dict,
            seed: int, base_seed: int = 0, perm_features: dict[str, str] | None = None,
            clinical_record: dict | None = None, ivim_path=None,
            outcome_file=None) -> tuple[pd.DataFrame, dict]:
    """Ledger rows (train and test cohorts) and the record of every selection and fit."""
    from hccer.classical.fit import labels_of
    from hccer.classical.models import predict_proba
    from hccer.ivimvit import config as ivim_config
    from hccer.ledger import rows as ledger_rows
    from hccer.stats.roc import auc

    cfg = ivim_config.block(study)
    train, test = ivim_config.outer_sides(split)
    patients = sorted(train + test)
    cohorts = {p: "train" for p in train} | {p: "test" for p in test}
    y = {"train": labels_of(outcome, train), "test": labels_of(outcome, test)}
    true_train = ivim_config.training_labels(split, False, 0)
    if [true_train[p] for p in train] != y["train"].tolist():
        raise InputError("folds.json and outcome.tsv disagree on training labels; re-run the "
                         "split", file=outcome_file)
    cv = cv_splits(train, split)
    Cs = c_grid(cfg["C_grid"])
    thr, k = float(cfg["correlation"]), int(cfg["k"])
    rows, record = [], {"seed": seed, "settings": {"correlation": thr, "k": k,
                                                  "C_grid": Cs.tolist()}}

    def add_rows(name, model, Z_of, cohorts_wanted):
        for cohort in cohorts_wanted:
            pids = train if cohort == "train" else test
            s = predict_proba(model, Z_of(pids))
            rows.append(ledger_rows(pids, s, y[cohort], name, cohort, 0, seed, outcome))
            record.setdefault("auc", {}).setdefault(name, {})[cohort] = (
                float(auc(s, y[cohort])) if 0 < y[cohort].sum() < len(pids) else None)

    sets = _feature_sets(features, patients, cohorts)
    chosen = {}
    for role in ("bdl", "mdl", "fdl"):
        X = sets[role]
        sel = select_features(X.loc[train], y["train"], thr, k)
        model = fit_logistic(zscore(X.loc[train], sel), y["train"], cv, Cs, seed)
        chosen[role] = sel
        record[ivim_config.MODEL_NAMES[role]] = {"counts": sel["counts"],
                                                 "selected": sel["selected"],
                                                 **_model_record(model, sel["selected"])}
        add_rows(ivim_config.MODEL_NAMES[role], model,
                 lambda p, X=X, sel=sel: zscore(X.loc[p], sel), ("train", "test"))

    if clinical_record is not None:
        design = _clinical_design(study, outcome, clinical_record, ivim_path, outcome_file)
        cmean, csd = design.loc[train].mean(), design.loc[train].std(ddof=0)
        csd = csd.where(csd > 0, 1.0)

        def combined_X(p):
            deep = zscore(sets["fdl"].loc[p], chosen["fdl"])
            return np.column_stack([deep, ((design.loc[p] - cmean) / csd).to_numpy(float)])

        names = chosen["fdl"]["selected"] + list(design.columns)
        name = cfg["combined"]["name"]
        lasso = fit_lasso(combined_X(train), y["train"], cv, int(cfg["combined"]["Cs"]), seed)
        record[name] = {"inputs": names, "clinical": list(design.columns),
                        **_model_record(lasso, names)}
        add_rows(name, lasso, combined_X, ("train", "test"))

    if perm_features:
        # the permutation ViTs were trained on these shuffled labels; the models see them too
        perm = ivim_config.training_labels(split, True, int(base_seed) + int(seed))
        yp = np.array([perm[p] for p in train])
        psets = _feature_sets(perm_features, patients, cohorts)
        for role in ("bdl", "mdl", "fdl"):
            X = psets[role]
            sel = select_features(X.loc[train], yp, thr, k)
            model = fit_logistic(zscore(X.loc[train], sel), yp, cv, Cs, seed)
            name = f"{ivim_config.MODEL_NAMES[role]}_perm"
            record[name] = {"selected": sel["selected"], **_model_record(model, sel["selected"])}
            add_rows(name, model, lambda p, X=X, sel=sel: zscore(X.loc[p], sel), ("test",))
    return pd.concat(rows, ignore_index=True), record


def run_fit(study: dict, features: dict[str, str], outcome_path: str, folds_path: str,
            seed: int, out_ledger: str, out_record: str, base_seed: int = 0,
            perm_features: dict[str, str] | None = None, clinical_record: str | None = None,
            ivim_path: str | None = None, extractors: list[str] | None = None) -> dict:
    from hccer.classical.clinical import outcome_frame
    from hccer.jsonio import provenance, read_json, write_json, write_text
    from hccer.ledger import validate_ledger

    split = read_json(folds_path)
    outcome = outcome_frame(outcome_path)
    crec = read_json(clinical_record) if clinical_record else None
    ledger, record = fit_all(study, features, outcome, split, seed, base_seed, perm_features,
                             crec, ivim_path, outcome_path)
    record["extractors"] = [read_json(p) for p in extractors or []]
    ledger = validate_ledger(ledger, file=out_ledger)
    write_text(out_ledger, ledger.to_csv(index=False))
    write_json(out_record, {**record, "provenance": provenance(seed)})
    for name, a in record.get("auc", {}).items():
        log.info("%s AUC train %s test %s", name, a.get("train"), a.get("test"))
    return record
