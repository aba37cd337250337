"""Classifier factory and the per-fold fit/score helpers shared by the clinical and radiomics
tracks. Settings follow the papers; where a paper is silent, library defaults with a fixed
seed (spec seed-002 section 4), or a seeded inner-CV grid search when the config asks."""

from __future__ import annotations

import numpy as np

CLASSIFIERS = ("lr", "svm", "knn", "xgboost", "mlp", "rf", "logit")

# Small grids for the optional seeded inner-CV search (config `tune: true`).
GRIDS = {
    "lr": {"C": [0.01, 0.1, 1.0, 10.0]},
    "svm": {"estimator__C": [0.1, 1.0, 10.0], "estimator__gamma": ["scale", 0.01]},
    "knn": {"n_neighbors": [3, 5, 9, 15]},
    "xgboost": {"max_depth": [2, 3, 6], "n_estimators": [100, 300]},
    "mlp": {"alpha": [1e-4, 1e-2, 1.0]},
    "rf": {"max_depth": [None, 4, 8]},
}


def make_classifier(name: str, seed: int, **settings):
    """A fresh unfitted classifier; `settings` override the defaults."""
    if name == "lr":
        from sklearn.linear_model import LogisticRegression

        kw = dict(C=1.0, max_iter=5000)
        return LogisticRegression(**{**kw, **settings}, random_state=seed)
    if name == "logit":  # unpenalised, as statsmodels Logit (clinical models)
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=np.inf, max_iter=5000, **settings)
    if name == "svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        # Platt scaling by internal 5-fold CV: what SVC(probability=True) did before
        # scikit-learn 1.9 deprecated it
        kw = dict(kernel="rbf", C=1.0, gamma="scale")
        svc = SVC(**{**kw, **settings}, random_state=seed)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=5, ensemble=False)
    if name == "knn":
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(**{"n_neighbors": 5, **settings})
    if name == "xgboost":
        from xgboost import XGBClassifier

        kw = dict(eval_metric="logloss", n_jobs=1)
        return XGBClassifier(**{**kw, **settings}, random_state=seed)
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier

        kw = dict(hidden_layer_sizes=(100,), max_iter=1000)
        return MLPClassifier(**{**kw, **settings}, random_state=seed)
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        kw = dict(n_estimators=500, n_jobs=1)
        return RandomForestClassifier(**{**kw, **settings}, random_state=seed)
    raise ValueError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")


def fit_classifier(name: str, X: np.ndarray, y: np.ndarray, seed: int, settings: dict | None = None,
                   tune: bool = False, inner_folds: int = 5, groups=None):
    """Fit on training data; with `tune`, pick the grid point by inner stratified CV AUC.
    `groups` (the patient of each row, when rows are slices) keeps a patient's rows on one
    side of every inner split: the grid search's and the SVM's internal calibration."""
    from hccer.radiomics.select import inner_folds as folds_of

    settings = dict(settings or {})
    y = np.asarray(y).astype(int)
    if name == "knn":
        # k cannot exceed the training size (tiny folds)
        settings["n_neighbors"] = min(int(settings.get("n_neighbors", 5)), len(y) - 1)
    model = make_classifier(name, seed, **settings)
    if name == "svm" and groups is not None:
        if tune:
            from hccer.errors import ConfigError

            raise ConfigError("classical: tune: true with the SVM on slice rows is not "
                              "supported (its internal calibration could not be grouped by "
                              "patient inside the grid search); set tune: false")
        model.set_params(cv=folds_of(y, groups, 5, seed))
    if tune and name in GRIDS:
        from sklearn.model_selection import GridSearchCV

        n_min = int(np.bincount(y).min()) if groups is None else int(min(
            len(set(np.asarray(groups)[y == c])) for c in (0, 1)))
        k = max(2, min(inner_folds, n_min))
        search = GridSearchCV(model, GRIDS[name], scoring="roc_auc",
                              cv=folds_of(y, groups, k, seed), n_jobs=1)
        return search.fit(X, y).best_estimator_
    return model.fit(X, y)


def predict_proba(model, X: np.ndarray) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


def coefficients(model, names: list[str]) -> dict:
    """What a fitted model exposes as weights (coefficients or importances), for the record."""
    if hasattr(model, "coef_"):
        out = {"coef": dict(zip(names, np.ravel(model.coef_).tolist(), strict=True))}
        if hasattr(model, "intercept_"):
            out["intercept"] = float(np.ravel(model.intercept_)[0])
        return out
    if hasattr(model, "feature_importances_"):
        imp = np.ravel(model.feature_importances_).tolist()
        return {"importance": dict(zip(names, imp, strict=True))}
    return {}
