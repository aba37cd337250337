"""AUC, DeLong and AUC CIs against pROC's published values on aSAH and hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hccer.stats import roc

PROC_AUC = {"wfns": 0.823678861788618, "ndka": 0.611957994579946, "s100b": 0.731368563685637}
PROC_VAR = {"wfns": 0.00146991470882363, "ndka": 0.0031908105493913,
            "s100b": 0.00266868245717244}
PROC_COV = {("wfns", "ndka"): -0.000532967856762438, ("ndka", "s100b"): -0.000756164938056579,
            ("s100b", "wfns"): 0.00119615567376754}
PROC_TEST = {("wfns", "s100b"): (2.20898359144091, 0.0271757822291882,
                                 0.0104061769564846, 0.174214419249478),
             ("wfns", "ndka"): (2.79777591868904, 0.00514557970691098,
                                0.0634011709339876, 0.3600405634833566),
             ("ndka", "s100b"): (-1.39077002573558, 0.164295175223054,
                                 -0.2876917446341914, 0.0488706064228094)}


@pytest.fixture(scope="module")
def asah(shared_data):
    d = pd.read_csv(shared_data / "stats" / "asah" / "asah.csv")
    return d, (d["outcome"] == "Poor").to_numpy()


def test_proc_auc_variance_covariance(asah):
    d, y = asah
    names = list(PROC_AUC)
    a, cov = roc.delong_cov(np.vstack([d[n] for n in names]).astype(float), y)
    for i, n in enumerate(names):
        assert a[i] == pytest.approx(PROC_AUC[n], abs=1e-12)
        assert cov[i, i] == pytest.approx(PROC_VAR[n], abs=1e-12)
    for (p, q), ref in PROC_COV.items():
        assert cov[names.index(p), names.index(q)] == pytest.approx(ref, abs=1e-12)


def test_proc_ndka_ci(asah):
    d, y = asah
    r = roc.auc_with_ci(d["ndka"], y, "delong")
    assert (r.ci_low, r.ci_high) == pytest.approx((0.501244999271703, 0.722670989888189),
                                                  abs=1e-12)
    assert (r.n_pos, r.n_neg) == (41, 72)


@pytest.mark.parametrize("pair", list(PROC_TEST))
def test_proc_paired_delong(asah, pair):
    d, y = asah
    z, p, lo, hi = PROC_TEST[pair]
    r = roc.delong_paired(d[pair[0]], d[pair[1]], y)
    assert r["statistic"] == pytest.approx(z, abs=1e-10)
    assert r["p_value"] == pytest.approx(p, abs=1e-12)
    assert (r["diff_ci_low"], r["diff_ci_high"]) == pytest.approx((lo, hi), abs=1e-12)


def _brute_auc(s, y):
    pos, neg = s[y], s[~y]
    cmp = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return cmp.mean()


def _brute_delong(scores, y):
    """DeLong 1988 directly from the kernel matrix (O(m n)), an independent check."""
    k = len(scores)
    v10, v01, aucs = [], [], []
    for s in scores:
        pos, neg = s[y], s[~y]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        v10.append(psi.mean(1))
        v01.append(psi.mean(0))
        aucs.append(psi.mean())
    m, n = y.sum(), (~y).sum()
    s10 = np.array([[np.cov(v10[i], v10[j])[0, 1] for j in range(k)] for i in range(k)])
    s01 = np.array([[np.cov(v01[i], v01[j])[0, 1] for j in range(k)] for i in range(k)])
    return np.array(aucs), s10 / m + s01 / n


def test_delong_matches_kernel_form_with_ties():
    rng = np.random.default_rng(3)
    y = rng.random(80) < 0.4
    s1 = rng.integers(0, 5, 80).astype(float) + y  # heavy ties
    s2 = rng.normal(size=80) + 0.8 * y
    a, cov = roc.delong_cov(np.vstack([s1, s2]), y)
    ra, rcov = _brute_delong([s1, s2], y)
    np.testing.assert_allclose(a, ra, atol=1e-14)
    np.testing.assert_allclose(cov, rcov, atol=1e-14)


def test_auc_by_hand():
    # cases 0.8, 0.6, 0.4; controls 0.6, 0.3: pairs won 2 + 1.5 + 1 = 4.5 of 6
    assert roc.auc([0.8, 0.6, 0.4, 0.6, 0.3], [1, 1, 1, 0, 0]) == pytest.approx(0.75)


def test_auc_invariant_to_monotone_transforms():
    rng = np.random.default_rng(7)
    for _ in range(20):
        y = rng.random(60) < 0.5
        if y.all() or not y.any():
            continue
        s = rng.normal(size=60) + y
        s[:10] = np.round(s[:10], 1)
        base = roc.auc(s, y)
        for f in (np.exp, lambda x: 3 * x + 2, lambda x: 1 / (1 + np.exp(-x)), np.arctan):
            assert roc.auc(f(s), y) == pytest.approx(base, abs=1e-14)
            assert roc.delong_var(f(s), y) == pytest.approx(roc.delong_var(s, y), abs=1e-14)


def test_delong_symmetric():
    rng = np.random.default_rng(11)
    y = rng.random(100) < 0.3
    a, b = rng.normal(size=100) + y, rng.normal(size=100) + 0.5 * y
    ab, ba = roc.delong_paired(a, b, y), roc.delong_paired(b, a, y)
    assert ab["statistic"] == pytest.approx(-ba["statistic"], abs=1e-14)
    assert ab["p_value"] == pytest.approx(ba["p_value"], abs=1e-14)
    g = roc.delong_paired(a, b, y, "greater")["p_value"]
    lo = roc.delong_paired(a, b, y, "less")["p_value"]
    assert g + lo == pytest.approx(1.0)
    assert min(g, lo) * 2 == pytest.approx(ab["p_value"])


def test_unpaired_delong_by_hand():
    rng = np.random.default_rng(5)
    ya, yb = rng.random(70) < 0.4, rng.random(50) < 0.5
    a, b = rng.normal(size=70) + ya, rng.normal(size=50) + 0.3 * yb
    r = roc.delong_unpaired(a, ya, b, yb, form="normal")
    from scipy.stats import norm, t
    va, vb = roc.delong_var(a, ya), roc.delong_var(b, yb)
    z = (roc.auc(a, ya) - roc.auc(b, yb)) / np.sqrt(va + vb)
    assert r["statistic"] == pytest.approx(z, rel=1e-12)
    assert r["p_value"] == pytest.approx(2 * norm.sf(abs(z)), rel=1e-12)
    # pROC's form (the default): Student t, Welch-Satterthwaite df over the sample sizes
    w = roc.delong_unpaired(a, ya, b, yb)
    df = (va + vb) ** 2 / (va ** 2 / 69 + vb ** 2 / 49)
    assert w["form"] == "t" and w["df"] == pytest.approx(df, rel=1e-12)
    assert w["p_value"] == pytest.approx(2 * t.sf(abs(z), df), rel=1e-12)
    assert w["p_value"] > r["p_value"]
    g = roc.delong_unpaired(a, ya, b, yb, "greater")["p_value"]
    assert g + roc.delong_unpaired(a, ya, b, yb, "less")["p_value"] == pytest.approx(1.0)


def test_unpaired_delong_proc(asah):
    """pROC roc.test(roc(outcome, wfns), roc(outcome, s100b), paired = FALSE) on aSAH:
    D = 1.4349, df = 206.7, p = 0.1528 (the normal form would give 0.1513)."""
    d, y = asah
    r = roc.delong_unpaired(d["wfns"], y, d["s100b"], y)
    assert r["statistic"] == pytest.approx(1.4349, abs=5e-5)
    assert r["p_value"] == pytest.approx(0.1528, abs=5e-5)
    assert roc.delong_unpaired(d["wfns"], y, d["s100b"], y, form="normal")["p_value"] == \
        pytest.approx(0.1513, abs=5e-5)


def test_binomial_ci_medcalc():
    # seed-003 spec: 0.968 with n = 85 -> 0.905-0.994; 0.815 with n = 37 -> 0.653-0.923
    lo, hi = roc.ci_binomial(0.968, 85)
    assert (round(lo, 3), round(hi, 3)) == pytest.approx((0.905, 0.994), abs=1.1e-3)
    lo, hi = roc.ci_binomial(0.815, 37)
    assert (round(lo, 3), round(hi, 3)) == pytest.approx((0.653, 0.923), abs=1.1e-3)
    from scipy.stats import beta
    assert roc.ci_binomial(0.5, 10)[0] == pytest.approx(beta.ppf(0.025, 5, 6))


def test_bootstrap_weights_equal_explicit_resamples():
    rng = np.random.default_rng(0)
    y = rng.random(40) < 0.5
    s = np.round(rng.normal(size=40) + y, 1)
    boots = roc.bootstrap_aucs(s, y, n_boot=30, seed=42, batch=7)
    # replay the same multinomial draws explicitly
    rng2 = np.random.default_rng(42)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    m, n = pos.size, neg.size
    done = 0
    for b in (7, 7, 7, 7, 2):
        cp = rng2.multinomial(m, np.full(m, 1 / m), size=b)
        cn = rng2.multinomial(n, np.full(n, 1 / n), size=b)
        for r in range(b):
            idx = np.r_[np.repeat(pos, cp[r]), np.repeat(neg, cn[r])]
            assert boots[done + r, 0] == pytest.approx(_brute_auc(s[idx], y[idx]), abs=1e-12)
        done += b


def test_bootstrap_ci_covers_and_is_seeded(asah):
    d, y = asah
    a = roc.ci_bootstrap(d["ndka"], y, n_boot=500, seed=1)
    assert a == roc.ci_bootstrap(d["ndka"], y, n_boot=500, seed=1)
    assert a[0] < PROC_AUC["ndka"] < a[1]
    assert a[0] == pytest.approx(0.501, abs=0.03) and a[1] == pytest.approx(0.723, abs=0.03)


def test_holm_by_hand():
    np.testing.assert_allclose(roc.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(roc.holm([0.5, 0.2]), [0.5, 0.4])


def test_delong_matrix_pairs_and_holm(asah):
    d, y = asah
    names = ["wfns", "ndka", "s100b"]
    rows = roc.delong_matrix(np.vstack([d[n] for n in names]).astype(float), y, names)
    assert len(rows) == 3
    ps = {(r["model_a"], r["model_b"]): r["p_value"] for r in rows}
    assert ps[("wfns", "s100b")] == pytest.approx(PROC_TEST[("wfns", "s100b")][1], abs=1e-12)
    np.testing.assert_allclose([r["p_holm"] for r in rows], roc.holm([r["p_value"] for r in rows]))


def test_roc_curve_area_equals_auc():
    rng = np.random.default_rng(2)
    y = rng.random(50) < 0.5
    s = np.round(rng.normal(size=50) + y, 1)
    fpr, tpr, _ = roc.roc_curve(s, y)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc.auc(s, y), abs=1e-12)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and fpr[-1] == tpr[-1] == 1
