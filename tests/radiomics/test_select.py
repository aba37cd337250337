"""Selection steps against hand computations and published values."""

import numpy as np
import pandas as pd
import pytest
from hccer.radiomics import select
from scipy import stats


def test_icc21_shrout_fleiss_example():
    # Shrout & Fleiss (1979) Table 2: 6 targets x 4 judges; ICC(2,1) = 0.29
    x = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
                  [6, 2, 4, 7]], float)
    assert select.icc_2_1(x) == pytest.approx(0.2897, abs=5e-4)


def test_icc21_perfect_and_offset():
    a = np.arange(10.0)
    assert select.icc_2_1(np.column_stack([a, a])) == pytest.approx(1.0)
    # absolute agreement penalises a constant offset between readers
    assert select.icc_2_1(np.column_stack([a, a + 3])) < 0.8


def test_icc_table_and_filter():
    rng = np.random.default_rng(1)
    r1 = pd.DataFrame({"stable": rng.normal(size=30), "noisy": rng.normal(size=30)},
                      index=[f"p{i}" for i in range(30)])
    r2 = r1.copy()
    r2["stable"] += rng.normal(0, 0.05, 30)
    r2["noisy"] = rng.normal(size=30)
    icc = select.icc_table(r1, r2.iloc[:20])
    assert icc["stable"] > 0.95 and icc["noisy"] < 0.5
    assert select.icc_filter(r1, icc=icc, threshold=0.9) == ["stable"]


def test_univariate_test_choice():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 40), rng.normal(0.5, 1, 40)
    assert select.univariate_p(a, b) == pytest.approx(stats.ttest_ind(a, b).pvalue)
    c, d = rng.exponential(1, 40), rng.exponential(2, 40)
    assert select.univariate_p(c, d) == pytest.approx(
        stats.mannwhitneyu(c, d, alternative="two-sided").pvalue)
    e = rng.normal(0, 5, 40)   # unequal variances -> Welch
    assert select.univariate_p(a, e) == pytest.approx(
        stats.ttest_ind(a, e, equal_var=False).pvalue)


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = pd.DataFrame(rng.normal(size=(n, 30)), columns=[f"f{i}" for i in range(30)])
    X["f0"] += 1.5 * y
    X["f1"] -= 1.0 * y
    X["f0_copy"] = X["f0"] + rng.normal(0, 0.01, n)
    return X, y


def test_filters_find_the_signal():
    X, y = _data()
    uni = select.univariate_filter(X, y, p_threshold=0.001)
    assert {"f0", "f1", "f0_copy"} <= set(uni) and len(uni) <= 5
    corr = select.correlation_filter(X, y, threshold=0.9)
    assert ("f0" in corr) != ("f0_copy" in corr)
    assert select.anova_topk(X, y, k=3)[:3] == sorted(select.anova_topk(X, y, k=3)[:3],
                                                      key=lambda c: -stats.f_oneway(
                                                          X[c][y == 1], X[c][y == 0])[0])
    mr = select.mrmr((X - X.mean()) / X.std(), y, k=2)
    assert "f1" in mr   # redundancy keeps the copy of f0 out of the top 2
    kept, coef = select.lasso((X - X.mean()) / X.std(), y, seed=0)
    assert "f1" in kept and coef["f1"] < 0


def test_correlation_filter_order():
    """By |AUC - 0.5| the signal column wins over its earlier copy; in column order the first of
    the two stays. Either way only one of them."""
    X, y = _data()
    X = X[["f0_copy"] + [c for c in X.columns if c != "f0_copy"]]
    X["f0_copy"] -= 0.5 * y                   # still r > 0.9 to f0, but a weaker signal
    by_auc = select.correlation_filter(X, y, threshold=0.9)
    in_order = select.correlation_filter(X, threshold=0.9, order="columns")
    assert "f0" in by_auc and "f0_copy" not in by_auc
    assert in_order[0] == "f0_copy" and "f0" not in in_order
    assert set(by_auc) - {"f0"} == set(in_order) - {"f0_copy"}
    assert select.correlation_filter(X.iloc[:, :0], threshold=0.9, order="columns") == []
    with pytest.raises(ValueError, match="order must be one of"):
        select.correlation_filter(X, y, order="name")


def test_run_funnel_counts_and_fallback():
    X, y = _data()
    icc = pd.Series(1.0, index=X.columns)
    icc["f1"] = 0.5
    out = select.run_funnel(X, y, [{"step": "icc", "threshold": 0.9},
                                   {"step": "univariate", "p_threshold": 0.05},
                                   {"step": "lasso", "cv": 5}], seed=0, icc=icc)
    assert out["counts"][0] == ("start", 31)
    assert out["counts"][1] == ("icc", 30)
    assert "f1" not in out["selected"] and "f0" in out["selected"] + ["f0_copy"]
    noise = pd.DataFrame(np.random.default_rng(5).normal(size=(40, 3)), columns=list("abc"))
    fb = select.run_funnel(noise, np.r_[np.zeros(20), np.ones(20)],
                           [{"step": "univariate", "p_threshold": 1e-9}])
    assert len(fb["selected"]) == 1 and fb["counts"][-1][0] == "fallback_anova_top1"
    with pytest.raises(ValueError, match="unknown selection step"):
        select.run_funnel(X, y, [{"step": "boruta"}])


def test_funnel_drops_non_finite_and_constant_features():
    X, y = _data(n=60)
    X["const"] = 1.0
    X.loc[3, "f2"] = np.nan
    out = select.run_funnel(X, y, [{"step": "anova", "k": 40}])
    assert out["counts"][0] == ("start", 30)
    assert "f2" not in out["selected"] and "const" not in out["selected"]


def test_lasso_grid_follows_glmnet_and_matches_an_explicit_grid():
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import KFold

    # glmnet's lambda.min.ratio: 0.01 for p > n, 1e-4 otherwise
    assert select.lasso_eps(40, 300) == 0.01 and select.lasso_eps(300, 40) == 1e-4
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(60, 120)), columns=[f"f{i}" for i in range(120)])
    y = (X["f3"] - X["f7"] + rng.normal(scale=0.7, size=60) > 0).astype(int).to_numpy()
    Z = (X - X.mean()) / X.std(ddof=0)
    kept, coef = select.lasso(Z, y, seed=2)
    # the same fit by hand: alphas from lambda_max = max|X'y_c|/n down to 0.01 × lambda_max
    yc = y - y.mean()
    amax = np.abs(Z.to_numpy().T @ yc).max() / len(y)
    grid = np.geomspace(amax, 0.01 * amax, 100)
    ref = LassoCV(alphas=grid, cv=KFold(5, shuffle=True, random_state=2),
                  max_iter=10000).fit(Z.to_numpy(), y)
    assert kept == [c for c, b in zip(Z.columns, ref.coef_, strict=True) if b != 0]
    assert {"f3", "f7"} <= set(kept) and coef["f3"] > 0 > coef["f7"]
