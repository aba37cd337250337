"""Feature selection steps of the radiomics funnel, fit on training data only.

Each step is a pure function `(X, y, **options) -> kept column names` on a DataFrame of
features (rows = patients, or slices) and a 0/1 label; `run_funnel` applies the named steps of
a study's config in order and records how many features survive each one.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

log = logging.getLogger(__name__)


def icc_2_1(ratings: np.ndarray) -> float:
    """ICC(2,1): two-way random effects, absolute agreement, single rater (Shrout & Fleiss).

    `ratings` is (n subjects, k raters). Returns nan when the subjects do not vary at all.
    """
    x = np.asarray(ratings, dtype=float)
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_total = np.sum((x - grand) ** 2)
    ms_r = ss_rows / (n - 1)
    ms_c = ss_cols / (k - 1)
    ms_e = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))
    denom = ms_r + (k - 1) * ms_e + k * (ms_c - ms_e) / n
    if denom <= 0 or not np.isfinite(denom):
        return float("nan")
    return float((ms_r - ms_e) / denom)


def icc_table(first: pd.DataFrame, second: pd.DataFrame) -> pd.Series:
    """ICC(2,1) of every feature between two readings of the same patients (index = patient)."""
    common = first.index.intersection(second.index)
    cols = first.columns.intersection(second.columns)
    if len(common) < 3:
        raise ValueError(f"ICC needs at least 3 patients read twice; found {len(common)}")
    a, b = first.loc[common, cols], second.loc[common, cols]
    return pd.Series({c: icc_2_1(np.column_stack([a[c], b[c]])) for c in cols}, name="icc")


def icc_filter(X, y=None, *, icc: pd.Series, threshold: float = 0.9) -> list[str]:
    keep = icc.reindex(X.columns)
    return [c for c in X.columns if np.isfinite(keep[c]) and keep[c] >= threshold]


def univariate_p(a: np.ndarray, b: np.ndarray, alpha_normal: float = 0.05) -> float:
    """Shapiro-Wilk in both groups; both normal -> Student t (Welch if Levene rejects), else
    Mann-Whitney U (two-sided)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0

    def normal(v):
        return len(v) >= 3 and np.ptp(v) > 0 and stats.shapiro(v).pvalue > alpha_normal

    if normal(a) and normal(b):
        equal = stats.levene(a, b).pvalue >= alpha_normal
        return float(stats.ttest_ind(a, b, equal_var=equal).pvalue)
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def univariate_filter(X, y, *, p_threshold: float = 0.05) -> list[str]:
    y = np.asarray(y)
    return [c for c in X.columns
            if univariate_p(X[c].to_numpy()[y == 1], X[c].to_numpy()[y == 0]) < p_threshold]


CORRELATION_ORDERS = ("auc", "columns")


def correlation_filter(X, y=None, *, threshold: float = 0.9, order: str = "auc") -> list[str]:
    """Greedy: walk the features in `order` and drop any with |Pearson r| above the threshold
    to one already kept. `auc`: by decreasing |AUC - 0.5| (needs y); `columns`: as the columns
    stand (the IVIM ViT selection, seed-003 §5)."""
    if X.shape[1] == 0:
        return []
    if order == "auc":
        from hccer.stats.roc import auc

        y = np.asarray(y)
        names = sorted(X.columns, key=lambda c: -abs(auc(X[c].to_numpy(), y) - 0.5))
        corr = X[names].corr().abs().to_numpy()
    elif order == "columns":
        names = list(X.columns)
        # np.corrcoef, not pandas' pairwise sums: the two can differ in the last bit, and the
        # ViT selections were made with np.corrcoef
        corr = np.abs(np.atleast_2d(np.corrcoef(X.to_numpy(float), rowvar=False)))
    else:
        raise ValueError(f"correlation order must be one of {CORRELATION_ORDERS}, not "
                         f"{order!r}")
    kept_idx: list[int] = []
    for i in range(len(names)):
        if all(not (corr[i, j] > threshold) for j in kept_idx):
            kept_idx.append(i)
    return [names[i] for i in kept_idx]


def mrmr(X, y, *, k: int = 20) -> list[str]:
    """Minimum redundancy maximum relevance (difference form): relevance = F statistic,
    redundancy = mean |Pearson r| to the features already chosen."""
    from sklearn.feature_selection import f_classif

    k = min(k, X.shape[1])
    f, _ = f_classif(X.to_numpy(), np.asarray(y))
    f = np.nan_to_num(f)
    corr = np.nan_to_num(np.abs(np.corrcoef(X.to_numpy(), rowvar=False)))
    corr = np.atleast_2d(corr)
    chosen = [int(np.argmax(f))]
    while len(chosen) < k:
        red = corr[:, chosen].mean(axis=1)
        score = f / (f.max() or 1.0) - red
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return [X.columns[i] for i in chosen]


def lasso_eps(n_rows: int, n_features: int) -> float:
    """glmnet's default lambda.min.ratio: 0.01 when there are fewer rows than features, else
    1e-4. Below 0.01 × lambda_max on p > n data coordinate descent crawls (minutes per path on
    permuted labels) towards a near-interpolating fit that CV never picks."""
    return 0.01 if n_rows < n_features else 1e-4


def inner_folds(y, groups, k: int, seed: int, stratified: bool = True):
    """The inner CV: rows of one patient (`groups`, e.g. the slices of a 2D model) always on
    one side, so the CV error is that of new patients, not of a patient's neighbouring slice;
    plain (stratified) K-fold when rows are patients (`groups` None)."""
    from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold

    if groups is None:
        return StratifiedKFold(k, shuffle=True, random_state=seed) if stratified \
            else KFold(k, shuffle=True, random_state=seed)
    y = np.asarray(y).astype(int)
    k = max(2, min(k, len(set(np.asarray(groups).tolist()))))  # tiny folds: fewer patients
    return list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(
        np.zeros((len(y), 1)), y, np.asarray(groups)))


def lasso(X, y, *, cv: int = 5, seed: int = 0, max_iter: int = 10000,
          kind: str = "lasso_cv", eps: float | None = None,
          n_alphas: int = 100, groups=None) -> tuple[list[str], dict[str, float]]:
    """Non-zero coefficients of LassoCV (squared error on the 0/1 label, lambda at the CV
    minimum over `n_alphas` values from lambda_max down to eps × lambda_max, eps by default
    glmnet's rule) or of an L1 logistic regression with CV; X must already be z-scored.
    `groups` (the patient of each row) keeps a patient's rows in one inner fold."""
    from sklearn.linear_model import LassoCV, LogisticRegressionCV

    Xv, y = X.to_numpy(), np.asarray(y)
    if kind == "lasso_cv":
        eps = lasso_eps(*Xv.shape) if eps is None else float(eps)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model = LassoCV(cv=inner_folds(y, groups, cv, seed, stratified=False),
                            random_state=seed, max_iter=max_iter, eps=eps,
                            alphas=n_alphas).fit(Xv, y)
        n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        for w in caught:  # only the convergence noise is collapsed; anything else stands
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if n_warn:
            log.warning("LassoCV: coordinate descent stopped at max_iter=%d before converging "
                        "on %d fit(s) of the path (raise max_iter or eps in the lasso step)",
                        max_iter, n_warn)
        coef = model.coef_
    elif kind == "l1_logistic":
        model = LogisticRegressionCV(penalty="l1", solver="saga", max_iter=max_iter,
                                     cv=inner_folds(y, groups, cv, seed),
                                     random_state=seed).fit(Xv, y)
        coef = model.coef_[0]
    else:
        raise ValueError(f"unknown LASSO kind {kind!r}")
    coefs = {c: float(b) for c, b in zip(X.columns, coef, strict=True) if b != 0}
    return list(coefs), coefs


def anova_topk(X, y, *, k: int = 10) -> list[str]:
    from sklearn.feature_selection import f_classif

    f, _ = f_classif(X.to_numpy(), np.asarray(y))
    order = np.argsort(-np.nan_to_num(f), kind="stable")[: min(k, X.shape[1])]
    return [X.columns[i] for i in order]


STEPS = ("icc", "univariate", "correlation", "mrmr", "lasso", "anova")


def zscore_fit(X: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    mean, sd = X.mean(), X.std(ddof=0)
    return mean, sd.where(sd > 0, 1.0)


def run_funnel(X: pd.DataFrame, y, steps: list[dict], *, seed: int = 0,
               icc: pd.Series | None = None, groups=None) -> dict:
    """Apply the configured steps in order (training data only). `groups`: the patient of each
    row when rows are slices (the LASSO's inner CV keeps a patient's slices together).

    Returns {"selected": names, "counts": [(step, n_left)], "lasso_coef": {...}}. Constant
    features and features with non-finite training values are dropped first (logged); an
    empty result keeps the single best ANOVA feature so a model can still be fit (warning).
    """
    y = np.asarray(y).astype(int)
    finite = np.isfinite(X.to_numpy(dtype=float)).all(axis=0)
    if not finite.all():
        log.warning("%d feature(s) with missing or infinite values in training left out: %s",
                    int((~finite).sum()), ", ".join(X.columns[~finite][:5]))
    X = X.loc[:, finite]
    X = X.loc[:, X.std(ddof=0) > 0]
    counts = [("start", X.shape[1])]
    lasso_coef: dict[str, float] = {}
    cols = list(X.columns)
    for step in steps:
        name = step["step"]
        opts = {k: v for k, v in step.items() if k != "step"}
        sub = X[cols]
        if not cols:
            break
        if name == "icc":
            if icc is None:
                raise ValueError("the icc step needs an ICC table (second-reader features)")
            cols = icc_filter(sub, y, icc=icc, **opts)
        elif name == "univariate":
            cols = univariate_filter(sub, y, **opts)
        elif name == "correlation":
            cols = correlation_filter(sub, y, **opts)
        elif name == "mrmr":
            cols = mrmr(_z(sub), y, **opts)
        elif name == "lasso":
            cols, lasso_coef = lasso(_z(sub), y, seed=seed, groups=groups, **opts)
        elif name == "anova":
            cols = anova_topk(sub, y, **opts)
        else:
            raise ValueError(f"unknown selection step {name!r}; known: {', '.join(STEPS)}")
        counts.append((name, len(cols)))
        log.info("selection step %s: %d features left", name, len(cols))
    if not cols:
        best = anova_topk(X, y, k=1)
        log.warning("no feature survived the funnel; keeping the best ANOVA feature %s", best)
        cols = best
        counts.append(("fallback_anova_top1", 1))
    return {"selected": cols, "counts": counts, "lasso_coef": lasso_coef}


def _z(X: pd.DataFrame) -> pd.DataFrame:
    mean, sd = zscore_fit(X)
    return (X - mean) / sd
