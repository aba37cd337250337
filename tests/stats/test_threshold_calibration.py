"""Threshold metrics, Youden carry-over, Hosmer-Lemeshow, Brier, recalibration, folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hccer.stats import calibration as C
from hccer.stats import folds as F
from hccer.stats import threshold as T
from scipy.stats import beta, binomtest, chi2


def test_accuracy_ci_and_nir_test_seed004():
    # seed-004 spec: SS test 32/42, CI 0.6055-0.8795, p 0.00047; NSS 24/42, 0.4096-0.7228, 0.2204
    r = T.metrics_from_confusion(tp=16, fn=5, tn=16, fp=5)["accuracy"]
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.6055, 0.8795), abs=5e-5)
    assert r["p_value_vs_nir"] == pytest.approx(0.00047, abs=5e-6)
    r = T.metrics_from_confusion(tp=12, fn=9, tn=12, fp=9)["accuracy"]
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.4096, 0.7228), abs=5e-5)
    assert r["p_value_vs_nir"] == pytest.approx(0.2204, abs=5e-5)


def test_confusion_metrics_seed003_clinical_train():
    m = T.metrics_from_confusion(tp=25, fn=9, tn=36, fp=15)
    assert m["sensitivity"]["value"] == pytest.approx(25 / 34)
    assert m["specificity"]["value"] == pytest.approx(36 / 51)
    assert m["ppv"]["value"] == pytest.approx(25 / 40)
    assert m["npv"]["value"] == pytest.approx(36 / 45)
    assert m["sensitivity"]["ci_low"] == pytest.approx(beta.ppf(0.025, 25, 10))
    assert m["npv"]["ci_high"] == pytest.approx(beta.ppf(0.975, 37, 9))
    assert m["accuracy"]["nir"] == pytest.approx(51 / 85)
    assert m["accuracy"]["p_value_vs_nir"] == pytest.approx(
        binomtest(61, 85, 51 / 85, alternative="greater").pvalue)


def test_youden_by_hand_and_carried_unchanged():
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    y = np.array([0, 0, 1, 0, 1, 1])
    r = T.youden_threshold(s, y)
    # cut at 0.45: sens 2/3, spec 1 -> J 0.667; cut at 0.25: sens 1, spec 2/3 -> J 0.667;
    # ties go to the lower threshold
    assert r["threshold"] == pytest.approx(0.25)
    assert r["youden_j"] == pytest.approx(2 / 3)
    other = T.evaluate([0.22, 0.26, 0.9, 0.1], [0, 1, 1, 0], r["threshold"])
    assert other["threshold"] == r["threshold"]
    assert other["confusion"] == {"tp": 2, "fn": 0, "tn": 2, "fp": 0}


def test_clopper_pearson_edges():
    assert T.clopper_pearson(0, 10)[0] == 0.0
    assert T.clopper_pearson(10, 10)[1] == 1.0
    assert T.clopper_pearson(0, 10)[1] == pytest.approx(1 - 0.025 ** (1 / 10))


def test_hosmer_lemeshow_by_hand():
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    y = np.array([0, 0, 1, 0, 1, 1, 0, 1])
    r = C.hosmer_lemeshow(p, y, groups=4)
    # type-7 quartiles: 0.1, 0.275, 0.45, 0.625, 0.8 -> groups {.1,.2} {.3,.4} {.5,.6} {.7,.8}
    obs = np.array([0, 1, 2, 1])
    exp = np.array([0.3, 0.7, 1.1, 1.5])
    ref = (((obs - exp) ** 2 / exp) + ((2 - obs - (2 - exp)) ** 2 / (2 - exp))).sum()
    assert [g["n"] for g in r["groups"]] == [2, 2, 2, 2]
    assert r["hl_statistic"] == pytest.approx(ref)
    assert r["hl_df"] == 2
    assert r["hl_p_value"] == pytest.approx(chi2.sf(ref, 2))


def test_hl_right_closed_groups():
    # 0.2 sits exactly on the first cut point (type-7 quantile) and joins the lower group
    p = np.array([0.1, 0.2, 0.2, 0.3, 0.9])
    idx, cuts = C.quantile_groups(p, 2)
    assert cuts.tolist() == [0.1, 0.2, 0.9]
    assert idx.tolist() == [0, 0, 0, 1, 1]


def test_hl_uniform_under_perfect_calibration():
    # HL's df = g - 2 is the null distribution for a logistic model fitted on the same data;
    # simulate that: true logistic model, refit, then test the fitted risks
    rng = np.random.default_rng(2024)
    ps, stats_known = [], []
    for _ in range(300):
        x = rng.normal(size=400)
        p_true = 1 / (1 + np.exp(-(-0.3 + 1.2 * x)))
        y = (rng.random(400) < p_true).astype(float)
        a, b = C._fit_logistic(x, y)
        ps.append(C.hosmer_lemeshow(1 / (1 + np.exp(-(a + b * x))), y)["hl_p_value"])
        stats_known.append(C.hosmer_lemeshow(p_true, y)["hl_statistic"])
    ps = np.array(ps)
    assert 0.02 <= (ps < 0.05).mean() <= 0.09
    assert abs(ps.mean() - 0.5) < 0.05
    from scipy.stats import kstest
    assert kstest(ps, "uniform").pvalue > 0.001
    # with the true risks known (nothing fitted) the statistic is about chi-square on g df
    assert np.mean(stats_known) == pytest.approx(10, abs=1.0)


def test_brier_and_recalibration():
    assert C.brier([0.2, 0.7], [0, 1]) == pytest.approx((0.04 + 0.09) / 2)
    rng = np.random.default_rng(9)
    lp = rng.normal(size=4000)
    y = rng.random(4000) < 1 / (1 + np.exp(-(0.5 + 2.0 * lp)))
    p = 1 / (1 + np.exp(-lp))
    r = C.recalibration(p, y)
    import statsmodels.api as sm
    fit = sm.Logit(y.astype(float), sm.add_constant(lp)).fit(disp=0)
    assert r["intercept"] == pytest.approx(fit.params[0], abs=1e-8)
    assert r["slope"] == pytest.approx(fit.params[1], abs=1e-8)
    glm = sm.GLM(y.astype(float), np.ones((4000, 1)), family=sm.families.Binomial(),
                 offset=lp).fit()
    assert r["calibration_in_the_large"] == pytest.approx(glm.params[0], abs=1e-8)


def test_calibration_report_fields():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=200)
    y = rng.random(200) < p
    r = C.calibration(p, y, groups=5)
    assert sum(g["n"] for g in r["groups"]) == 200
    assert len(r["curve"]) == 5
    assert r["events"] == int(y.sum())
    band = C.lowess_band(p, y, n_boot=20, seed=3)
    assert len(band["low"]) == len(band["predicted"]) == 50
    assert all(lo <= hi for lo, hi in zip(band["low"], band["high"], strict=True))


def test_fold_summary_by_hand():
    rows = []
    for fold, (s, y) in enumerate([([0.9, 0.2, 0.6, 0.4], [1, 0, 0, 1]),
                                   ([0.8, 0.7, 0.1, 0.3], [1, 1, 0, 0]),
                                   ([0.6, 0.55, 0.4, 0.45], [1, 0, 0, 1])]):
        rows += [{"model": "m", "seed": 0, "fold": fold, "score": a, "label": b, "patient":
                  f"{fold}{i}"} for i, (a, b) in enumerate(zip(s, y, strict=True))]
    per = F.per_fold(pd.DataFrame(rows))
    assert per["auc"].tolist() == pytest.approx([0.75, 1.0, 0.75])
    assert per["accuracy"].tolist() == pytest.approx([0.5, 1.0, 0.5])
    s = F.summarise(per).iloc[0]
    assert s["auc_mean"] == pytest.approx(2.5 / 3)
    assert s["auc_sd"] == pytest.approx(np.std([0.75, 1.0, 0.75], ddof=1))
    assert s["auc_text"] == "0.833 ± 0.14"
    assert s["accuracy_text"] == "66.7% ± 28.9"
    assert F.format_accuracy(0.812, 0.013) == "81.2% ± 1.3"
    assert F.format_auc(0.869, 0.03) == "0.869 ± 0.03"
