"""Inner CV on slice rows is grouped by patient, and permutation controls shuffle patients.

A patient's neighbouring slices are near-duplicates: an inner fold that holds some of them on
each side rewards memorising patients, so LassoCV on pure noise keeps many features. Grouped
by patient it keeps almost none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hccer.classical.fit import patient_permuted
from hccer.classical.models import fit_classifier
from hccer.errors import ConfigError
from hccer.permutation import permuted
from hccer.radiomics.select import inner_folds, lasso


def _noise_slices(n_patients=80, n_slices=5, n_features=120, seed=0):
    """Pure noise: each patient one random vector, its slices that vector + 2 % jitter; labels
    random per patient."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_patients, n_features))
    rows = np.repeat(base, n_slices, axis=0) + 0.02 * rng.normal(size=(n_patients * n_slices,
                                                                       n_features))
    y_pat = rng.permutation(np.arange(n_patients) % 2)
    pids = np.repeat([f"p{i:03d}" for i in range(n_patients)], n_slices)
    X = pd.DataFrame(rows, columns=[f"f{j}" for j in range(n_features)])
    X = (X - X.mean()) / X.std(ddof=0)
    return X, np.repeat(y_pat, n_slices), pids


def test_lasso_on_noise_slices_keeps_features_only_when_ungrouped():
    X, y, pids = _noise_slices()
    ungrouped, _ = lasso(X, y, cv=5, seed=1)
    grouped, _ = lasso(X, y, cv=5, seed=1, groups=pids)
    assert len(ungrouped) > 30           # the leak: patients memorised across inner folds
    assert len(grouped) <= 5


@pytest.mark.parametrize("stratified", [True, False])
def test_inner_folds_never_split_a_patient(stratified):
    _, y, pids = _noise_slices(n_patients=30)
    for train, test in inner_folds(y, pids, 5, seed=3, stratified=stratified):
        assert not set(pids[train]) & set(pids[test])
    # rows that are patients: the plain (stratified) K-fold, as before
    assert type(inner_folds(y, None, 5, 3)).__name__ == "StratifiedKFold"
    assert type(inner_folds(y, None, 5, 3, stratified=False)).__name__ == "KFold"


def test_svm_calibration_and_grid_search_grouped():
    X, y, pids = _noise_slices(n_patients=30, n_features=10)
    svm = fit_classifier("svm", X.to_numpy(), y, seed=0, groups=pids)
    for train, test in svm.cv:
        assert not set(pids[train]) & set(pids[test])
    with pytest.raises(ConfigError, match="not supported"):
        fit_classifier("svm", X.to_numpy(), y, seed=0, tune=True, groups=pids)
    lr = fit_classifier("lr", X.to_numpy(), y, seed=0, tune=True, groups=pids)
    assert hasattr(lr, "coef_")


def test_permutation_shuffles_patients_not_slices():
    _, y, pids = _noise_slices(n_patients=40)
    yp = patient_permuted(pids, y, seed=4)
    per_patient = pd.Series(yp).groupby(pids).nunique()
    assert (per_patient == 1).all()                 # one label per patient
    assert sorted(pd.Series(yp).groupby(pids).first()) == sorted(
        pd.Series(y).groupby(pids).first())          # the patients' labels, reordered
    assert not np.array_equal(yp, y)
    # one row per patient: exactly the plain permutation (patient-level presets unchanged)
    one = np.arange(20) % 2
    names = [f"q{i}" for i in range(20)]
    np.testing.assert_array_equal(patient_permuted(names, one, 4), permuted(one, 4))


def test_inner_folds_with_fewer_patients_than_folds():
    _, y, pids = _noise_slices(n_patients=4)
    splits = inner_folds(y, pids, 5, seed=0)
    assert len(splits) == 4 and all(len(set(pids[t])) == 1 for _, t in splits)
