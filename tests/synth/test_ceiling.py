"""The learnable ceiling: its logistic fit and AUC against scikit-learn, its behaviour on
random labels, and its approach to the oracle as the cohort grows."""

import numpy as np
import pytest
from hccer.synth.ceiling import learnable_ceiling, rank_auc, ridge_logistic
from hccer.synth.clinical import simulate_clinical
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


def test_ridge_logistic_matches_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    y = (x @ [1.0, -0.5, 0.0, 2.0] + rng.normal(size=80) > 0).astype(int)
    b0, w = ridge_logistic(x, y, c=0.7)
    ref = LogisticRegression(C=0.7, tol=1e-12, max_iter=10_000).fit(x, y)
    assert b0 == pytest.approx(ref.intercept_[0], abs=1e-5)
    assert np.allclose(w, ref.coef_[0], atol=1e-5)


def test_rank_auc_matches_sklearn_with_ties():
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.4, 0.4, 0.8, 0.3, 0.3, 0.9, 0.2])
    assert rank_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_random_labels_give_about_half_and_too_few_give_nan():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 5))
    y = rng.integers(0, 2, 200)
    assert abs(learnable_ceiling(x, y) - 0.5) < 0.07
    assert np.isnan(learnable_ceiling(x[:3], np.array([0, 1, 0])))


def test_ceiling_is_far_below_the_oracle_at_demo_size_and_reaches_it_when_large():
    def ratio(n: int) -> float:
        sim = simulate_clinical("phase_attention", n=n, seed=5)
        an = (sim.truth["censored"] == 0).to_numpy()
        y = sim.truth["true_er"].to_numpy()[an]
        oracle = roc_auc_score(y, sim.truth["logit_image"].to_numpy()[an])
        return learnable_ceiling(sim.image_features[an], y) / oracle

    assert ratio(1500) > 0.97
    assert ratio(40) < 0.9


def test_clinical_features_complete_the_overall_oracle():
    """Image and clinical log-LRs plus the weighted traits sum back to the overall log-odds."""
    sim = simulate_clinical("cemri_dlrcr", n=60, seed=2)
    t = sim.truth
    assert sim.image_features.shape[0] == sim.clinical_features.shape[0] == 60
    inside = t["latent_risk"].abs() < 11.9  # not clamped
    twin = sim.twin
    deltas = [float(twin["image_traits"].get(k, 0.0)) for k in
              ("margin", "peritumoral", "heterogeneity", "enhancement")]
    n_traits = sum(d != 0 for d in deltas)
    lr_vars = sim.image_features[:, : sim.image_features.shape[1] - n_traits].sum(1)
    traits = sim.image_features[:, -n_traits:] @ np.array([d for d in deltas if d])
    prior = np.log(96 / 69)
    total = prior + lr_vars + traits + sim.clinical_features.sum(1)
    assert np.allclose(total[inside], t["latent_risk"][inside], atol=1e-5)


def test_zero_count_levels_give_finite_features():
    """phase_attention's ALB < 40 g/L has no ER patient: its log-LR is bounded, not -inf."""
    sim = simulate_clinical("phase_attention", n=167, seed=0)
    assert np.isfinite(sim.image_features).all() and np.isfinite(sim.clinical_features).all()
    an = (sim.truth["censored"] == 0).to_numpy()
    y = sim.truth["true_er"].to_numpy()[an]
    both = np.hstack([sim.image_features, sim.clinical_features])[an]
    assert learnable_ceiling(both, y) > 0.7
