"""Fusion, the greedy correlation filter (`radiomics.select`, column order) + ANOVA top k, and
the classifiers of the IVIM ViT pipeline, against hand computations and scikit-learn."""

import numpy as np
import pandas as pd
import pytest
import torch
from hccer.errors import InputError
from hccer.ivimvit.models import cv_splits, fit_lasso, fit_logistic, layer_norm, select_features
from hccer.radiomics.select import correlation_filter


def _filter(x, threshold):
    """The ViT's filter: greedy in column order, column positions kept."""
    return correlation_filter(pd.DataFrame(x), threshold=threshold, order="columns")


def test_layer_norm_is_torch_layer_norm_without_weights():
    x = np.random.default_rng(0).normal(3.0, 2.0, (5, 12))
    want = torch.nn.functional.layer_norm(torch.tensor(x), (12,)).numpy()
    np.testing.assert_allclose(layer_norm(x), want, rtol=1e-10, atol=1e-12)


def test_correlation_filter_by_hand():
    # a; b = 2a + 1 (r = 1); c = a + e with r(a, c) = 0.6 by construction; d = -a (|r| = 1)
    a = np.array([1.0, -1.0, 1.0, -1.0, 0.0, 0.0])
    e = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0])
    c = 0.6 * a + 0.8 * e                      # |a| = |e|, a.e = 0: r(a, c) = 0.6
    x = np.column_stack([a, 2 * a + 1, c, -a])
    assert np.corrcoef(a, c)[0, 1] == pytest.approx(0.6)
    assert _filter(x, 0.8) == [0, 2]
    assert _filter(x, 0.5) == [0]
    assert _filter(x, 1.0) == [0, 1, 2, 3]   # |r| must exceed the threshold


def test_correlation_filter_is_greedy_in_index_order():
    """f1 goes (r 0.85 to f0); f2 stays: it is close to the dropped f1 only (r 0.85), not to
    f0 (r 0.72), and only kept features count."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4000, 3))
    f0 = z[:, 0]
    f1 = 0.85 * f0 + np.sqrt(1 - 0.85**2) * z[:, 1]
    f2 = 0.85 * f1 + np.sqrt(1 - 0.85**2) * z[:, 2]
    x = np.column_stack([f0, f1, f2])
    r = np.corrcoef(x, rowvar=False)
    assert r[0, 1] > 0.8 and r[1, 2] > 0.8 and r[0, 2] < 0.8
    assert _filter(x, 0.8) == [0, 2]


def test_selection_matches_sklearn_selectkbest_after_the_filter():
    from sklearn.feature_selection import SelectKBest, f_classif

    rng = np.random.default_rng(2)
    n = 60
    y = np.array([0, 1] * (n // 2))
    base = rng.normal(size=(n, 30)) + np.outer(y, np.linspace(0, 1.5, 30))
    dup = base[:, :5] * 3.0 + 0.01 * rng.normal(size=(n, 5))        # redundant copies
    const = np.ones((n, 2))
    X = pd.DataFrame(np.column_stack([base, dup, const]),
                     columns=[f"f{i:02d}" for i in range(37)])
    sel = select_features(X, y, threshold=0.8, k=10)
    assert sel["counts"] == {"start": 37, "non_constant": 35,
                             "after_correlation": sel["counts"]["after_correlation"],
                             "after_anova": 10}
    kept = [X.columns[i] for i in _filter(X.iloc[:, :35].to_numpy(), 0.8)]
    assert not set(kept) & {f"f{i:02d}" for i in range(30, 35)}     # copies dropped
    assert sel["counts"]["after_correlation"] == len(kept)
    skb = SelectKBest(f_classif, k=10).fit(X[kept].to_numpy(), y)
    want = [kept[i] for i in np.flatnonzero(skb.get_support())]
    assert sorted(sel["selected"]) == sorted(want)
    # ranked by F, best first; the scaler is the training mean and population SD
    f = dict(zip(kept, skb.scores_, strict=True))
    assert [f[c] for c in sel["selected"]] == sorted(f[c] for c in want)[::-1]
    np.testing.assert_allclose(sel["mean"], X[sel["selected"]].mean())
    np.testing.assert_allclose(sel["sd"], X[sel["selected"]].std(ddof=0))


def test_selection_needs_both_classes_and_a_varying_feature():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 0.0, 0.0]})
    with pytest.raises(InputError, match="both classes"):
        select_features(X, [1, 1, 1])
    with pytest.raises(InputError, match="varies"):
        select_features(X[["b"]], [0, 1, 1])


def _split(train, folds):
    return {"inner_folds": [{"fold": i, "train": [p for p in train if p not in v],
                             "validation": v} for i, v in enumerate(folds)]}


def test_cv_splits_are_the_declared_inner_folds():
    train = ["pa", "pb", "pc", "pd"]
    cv = cv_splits(train, _split(train, [["pa", "pc"], ["pb", "pd"]]))
    assert [(tr.tolist(), va.tolist()) for tr, va in cv] == [([1, 3], [0, 2]), ([0, 2], [1, 3])]
    with pytest.raises(InputError, match="outside the training cohort"):
        cv_splits(train, _split(train, [["pa", "px"], ["pb"]]))


def test_classifiers_tune_c_on_the_inner_folds():
    rng = np.random.default_rng(3)
    n = 40
    y = np.array([0, 1] * (n // 2))
    Z = rng.normal(size=(n, 4)) + np.outer(y, [1.5, 0, 0, 0])
    folds = [list(range(i, n, 5)) for i in range(5)]
    cv = [(np.setdiff1d(np.arange(n), f), np.array(f)) for f in folds]
    grid = np.logspace(-3, 2, 6)
    m = fit_logistic(Z, y, cv, grid, seed=0)
    assert m.C_ in grid and m.scoring == "roc_auc"
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    def cv_auc(c):
        return np.mean([roc_auc_score(y[va], LogisticRegression(C=c, max_iter=10000)
                                      .fit(Z[tr], y[tr]).decision_function(Z[va]))
                        for tr, va in cv])
    assert cv_auc(m.C_) == pytest.approx(max(cv_auc(c) for c in grid))
    lasso = fit_lasso(Z, y, cv, 20, seed=0)
    assert lasso.coef_[0, 0] > 0 and (lasso.coef_[0, 1:] == 0).sum() >= 1
    # an inner training fold with one class: C cannot be tuned, the fixed C = 1 is used
    y_bad = np.zeros(n, int)
    y_bad[folds[0]] = 1
    fixed = fit_logistic(Z, y_bad, cv, grid, seed=0)
    assert fixed.C == 1.0 and not hasattr(fixed, "C_")


def _preset(root):
    import copy

    import yaml
    from hccer.config import load_study

    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text(encoding="utf-8"))
    cfg["study"] = "ivim_vit"
    return copy.deepcopy(load_study(cfg, root))


def test_vit_block_cross_checks_and_model_names(project_root):
    from hccer.errors import ConfigError
    from hccer.ivimvit import config as ivim_config

    study = _preset(project_root)
    assert ivim_config.experiments_of(ivim_config.block(study)) == [
        "vit_b", "vit_m", "vit_b_perm", "vit_m_perm"]
    assert ivim_config.ledger_models(study) == [
        "vit_bdl", "vit_mdl", "vit_fdl", "combined", "vit_bdl_perm", "vit_mdl_perm",
        "vit_fdl_perm"]
    swapped = dict(study, vit=dict(study["vit"], extractors={"bdl": "vit_m", "mdl": "vit_b"}))
    with pytest.raises(ConfigError, match="reads array 'maps'; the bdl ViT reads 'x'"):
        ivim_config.block(swapped)
    unpermuted = dict(study, vit=dict(study["vit"], permutation={"bdl": "vit_b", "mdl": "vit_m"}))
    with pytest.raises(ConfigError, match="must set permute_labels"):
        ivim_config.block(unpermuted)
    with pytest.raises(ConfigError, match="inner_folds >= 2"):
        ivim_config.block(dict(study, split=dict(study["split"], inner_folds=0)))
    assert "vit_fdl_perm" not in ivim_config.ledger_models(
        dict(study, vit=dict(study["vit"], permutation=None)))
