"""Decision curves against R dcurves; KM / log-rank / Cox against R survival on lung."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hccer.stats import dca as D
from hccer.stats import survival as S


@pytest.fixture(scope="module")
def dcurves_case1(shared_data):
    base = shared_data / "stats" / "dcurves_case1"
    return pd.read_csv(base / "df_binary.csv"), pd.read_csv(base / "r_case1_results.csv")


def test_dcurves_case1_every_threshold(dcurves_case1):
    df, ref = dcurves_case1
    th = D.parse_thresholds("0:0.99:0.01")
    out = D.binary_dca({"famhistory": df["famhistory"].to_numpy()}, df["cancer"].to_numpy(), th)
    out["key"] = out["threshold"].round(6)
    ref = ref.assign(key=ref["threshold"].round(6))
    m = out.merge(ref, on=["variable", "key"], suffixes=("", "_r"))
    assert len(m) == len(ref) == 300
    for col in ("pos_rate", "test_pos_rate", "tp_rate", "fp_rate", "net_benefit"):
        np.testing.assert_allclose(m[col], m[col + "_r"], atol=1e-9, err_msg=col)
    a, b = m["net_intervention_avoided"].to_numpy(), m["net_intervention_avoided_r"].to_numpy()
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b))
    fin = np.isfinite(b)
    np.testing.assert_allclose(a[fin], b[fin], atol=1e-9)


def test_dcurves_spot_values(dcurves_case1):
    df, _ = dcurves_case1
    out = D.binary_dca({"m": df["cancerpredmarker"].to_numpy()}, df["cancer"].to_numpy(), [0.25])
    nb = dict(zip(out["variable"], out["net_benefit"], strict=True))
    assert nb["all"] == pytest.approx(-0.1466667, abs=1e-7)
    assert nb["none"] == 0
    assert nb["m"] == pytest.approx(0.064, abs=1e-12)


def test_treat_none_is_zero_and_strict_rule():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=100)
    y = rng.random(100) < p
    out = D.binary_dca({"m": p}, y, D.parse_thresholds("0:0.99:0.01"))
    assert (out.loc[out["variable"] == "none", "net_benefit"] == 0).all()
    # a risk equal to the threshold is test negative
    t = D.binary_dca({"m": np.array([0.2, 0.3])}, [1, 0], [0.2])
    assert t.loc[t["variable"] == "m", "test_pos_rate"].item() == 0.5


def test_survival_dca_by_hand():
    time = np.array([1.0, 2, 3, 4, 5, 6])
    event = np.array([1, 0, 1, 1, 0, 0])
    risk = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3])
    out = D.survival_dca({"m": risk}, time, event, 3.5, [0.5])
    # overall KM at 3.5: (1 - 1/6)(1 - 1/4) = 0.625 -> prevalence 0.375
    assert out["pos_rate"].iloc[0] == pytest.approx(0.375)
    # positives: t 1 (event), 2 (cens), 3 (event): S = (1 - 1/3)(1 - 1/1) = 0
    row = out[out["variable"] == "m"].iloc[0]
    assert row["test_pos_rate"] == pytest.approx(0.5)
    assert row["tp_rate"] == pytest.approx(0.5)
    assert row["net_benefit"] == pytest.approx(0.5)


def test_survival_dca_matches_python_dcurves():
    dcurves = pytest.importorskip("dcurves")
    rng = np.random.default_rng(4)
    n = 300
    risk = rng.uniform(size=n)
    t = rng.exponential(1 / (0.2 + risk))
    c = rng.uniform(0, 4, n)
    df = pd.DataFrame({"ttcancer": np.minimum(t, c), "cancer": (t <= c).astype(int),
                       "risk": risk})
    th = np.round(np.arange(0, 0.9, 0.05), 2)
    ref = dcurves.dca(data=df, outcome="cancer", modelnames=["risk"], thresholds=th,
                      time=1.0, time_to_outcome_col="ttcancer")
    ours = D.survival_dca({"risk": risk}, df["ttcancer"], df["cancer"], 1.0, th)
    ref = ref.assign(key=ref["threshold"].round(6), variable=ref["model"])
    ours = ours.assign(key=ours["threshold"].round(6))
    m = ours.merge(ref, on=["variable", "key"], suffixes=("", "_r"))
    assert len(m) == 3 * th.size
    np.testing.assert_allclose(m["net_benefit"], m["net_benefit_r"], atol=1e-9)


@pytest.fixture(scope="module")
def lung(shared_data):
    return pd.read_csv(shared_data / "stats" / "lifelines_lung" / "lung.csv")


def test_logrank_r_survdiff(lung):
    r = S.logrank(lung["time"], lung["status"], lung["sex"])
    assert r["statistic"] == pytest.approx(10.3267, abs=1e-4)
    assert r["statistic"] == pytest.approx(10.326741954885648, abs=1e-9)
    assert r["p_value"] == pytest.approx(0.00131116, abs=1e-6)
    assert r["df"] == 1
    g = {x["group"]: x for x in r["groups"]}
    assert g[1]["observed"] == 112 and g[1]["expected"] == pytest.approx(91.5817, abs=1e-4)
    assert g[2]["expected"] == pytest.approx(73.4183, abs=1e-4)


def test_logrank_three_groups_against_lifelines(lung):
    from lifelines.statistics import multivariate_logrank_test
    d = lung.dropna(subset=["ph.ecog"])
    d = d[d["ph.ecog"] < 3]
    ours = S.logrank(d["time"], d["status"], d["ph.ecog"])
    ref = multivariate_logrank_test(d["time"], d["ph.ecog"], d["status"])
    assert ours["statistic"] == pytest.approx(ref.test_statistic, rel=1e-10)
    assert ours["df"] == 2


def test_km_medians_and_r_log_ci(lung):
    overall = S.median_survival(S.kaplan_meier(lung["time"], lung["status"]))
    assert overall == {"median": 310.0, "median_ci_low": 285.0, "median_ci_high": 363.0}
    r = S.km_summary(lung["time"], lung["status"], lung["sex"], times=[365])
    by = {g["group"]: g for g in r["groups"]}
    assert (by[1]["median"], by[2]["median"]) == (270.0, 426.0)
    # R: survfit(Surv(time, status) ~ sex, data = lung) prints 212-310 and 348-550
    assert (by[1]["median_ci_low"], by[1]["median_ci_high"]) == (212.0, 310.0)
    assert (by[2]["median_ci_low"], by[2]["median_ci_high"]) == (348.0, 550.0)


def test_km_against_lifelines_and_hand():
    from lifelines import KaplanMeierFitter
    t = np.array([1, 2, 2, 3, 4, 5, 5, 6, 8, 9.0])
    e = np.array([1, 1, 0, 1, 0, 1, 1, 0, 1, 0])
    km = S.kaplan_meier(t, e)
    kmf = KaplanMeierFitter().fit(t, e)
    ref = kmf.survival_function_.loc[km["time"]].to_numpy().ravel()
    np.testing.assert_allclose(km["surv"], ref, atol=1e-14)
    assert km["surv"][0] == pytest.approx(0.9)
    assert km["surv"][1] == pytest.approx(0.9 * 8 / 9)
    at = S.survival_at(km, [0.5, 2.5])
    assert at[0]["surv"] == 1.0 and at[1]["surv"] == pytest.approx(0.8)


def test_median_midpoint_when_curve_sits_at_half():
    # S drops to exactly 0.5 at t = 2 and stays until the next event at t = 4
    t = np.array([1, 2, 3, 4.0])
    e = np.array([1, 1, 0, 1])
    assert S.median_survival(S.kaplan_meier(t, e))["median"] == 3.0


def test_cox_and_cindex(lung):
    r = S.cox(lung["time"], lung["status"], (lung["sex"] == 2).astype(float), "female")
    # R coxph(Surv(time, status) ~ sex, lung): exp(coef) 0.588, 95% CI 0.424-0.816
    assert r["hazard_ratio"] == pytest.approx(0.588, abs=5e-4)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.424, 0.816), abs=5e-4)
    # C-index by hand on a tiny set: pairs (i, j) with t_i < t_j and event i
    t = np.array([1, 2, 3, 4.0])
    e = np.array([1, 1, 0, 1])
    s = np.array([0.9, 0.3, 0.5, 0.1])
    # comparable: (1,2),(1,3),(1,4),(2,3),(2,4); concordant when s_i > s_j: 1,1,1,0,1
    assert S.concordance(t, e, s) == pytest.approx(4 / 5)
