"""Clinical tables of the twins: Table 1 counts, codes, latent-risk model, follow-up."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from hccer.synth import PRESETS, load_twin, patient_codes, simulate_clinical
from hccer.synth.clinical import allocate, level_of
from hccer.synth.twins import CODE_RE

# Published counts typed again from the specs (level order as in the twin files): an
# independent check that the twin files carry the paper's Table 1.
PAPER = {
    "phase_attention": {"n": 167, "er": 65, "afp": {"ER": [11, 54], "NER": [39, 63]},
                        "bclc": {"ER": [5, 39, 3, 18], "NER": [17, 78, 1, 6]},
                        "tumor_size": {"ER": [28, 37], "NER": [74, 28]}},
    "cemri_dlrcr": {"n": 165, "er": 96, "ast": {"ER": [56, 40], "NER": [53, 16]},
                    "tumor_size": {"ER": [56, 40], "NER": [58, 11]}},
    "ivim_vit": {"n": 122, "er": 49, "mvi": {"ER": [26, 23], "NER": [20, 53]}},
    "ct_3dcnn": {"n": 220, "er": 94, "afp": {"ER": [24, 49], "NER": [56, 49]},
                 "tumor_size": {"ER": [22, 51], "NER": [64, 41]}},
}


def test_patient_codes():
    codes = patient_codes("phase_attention", 12)
    assert codes[0] == "PA0001" and codes[-1] == "PA0012" and len(set(codes)) == 12
    prefixes = {patient_codes(p, 1)[0][:-4] for p in PRESETS}
    assert len(prefixes) == len(PRESETS)
    assert all(CODE_RE.match(c) for p in PRESETS for c in patient_codes(p, 3))


def test_allocate_largest_remainder():
    assert allocate([65, 102], 167) == [65, 102]
    assert allocate([1, 1, 1], 2) == [1, 1, 0]
    assert sum(allocate([3, 5, 7], 1000)) == 1000


@pytest.mark.parametrize("preset", PRESETS)
def test_counts_sum_to_group_sizes(preset):
    twin = load_twin(preset)
    ref = twin["strata"][0]
    for var in twin["variables"]:
        if "counts" in var:
            assert sum(var["counts"]["ER"]) == ref["n_er"], var["name"]
            assert sum(var["counts"]["NER"]) == ref["n_ner"], var["name"]
            assert len(var["levels"]) == len(var["counts"]["ER"])


@pytest.mark.parametrize("preset", PRESETS)
def test_twin_matches_study_preset(preset, project_root):
    study = yaml.safe_load((project_root / "config" / "studies" / f"{preset}.yaml").read_text())
    twin = load_twin(preset)
    for key in ("phases", "reference_phase", "mask_phases", "second_reader", "modality"):
        assert twin[key] == study[key], key
    assert twin["horizon_days"] == study["outcome"]["horizon_days"]


def _level_counts(sim, var):
    clin, truth = sim.clinical, sim.truth
    keep = (truth["censored"] == 0).to_numpy()
    er = truth["true_er"].to_numpy()[keep]
    col = clin[var["column"]].to_numpy()[keep]
    if "bins" in var:
        idx = np.array([level_of(float(v), var) for v in col])
    else:
        idx = np.array([var["levels"].index(str(v)) for v in col])
    return {g: np.bincount(idx[er == (g == "ER")], minlength=len(var["levels"])).tolist()
            for g in ("ER", "NER")}


@pytest.mark.parametrize("preset", ["phase_attention", "cemri_dlrcr", "ivim_vit", "ct_3dcnn"])
def test_paper_sized_cohort_reproduces_table1(preset):
    sim = simulate_clinical(preset, seed=5, censored_fraction=0.0)
    ref = PAPER[preset]
    assert len(sim.clinical) == ref["n"]
    assert int(sim.truth["true_er"].sum()) == ref["er"]
    twin = sim.twin
    if preset == "ct_3dcnn":  # counts are of the training stratum (surgery 2014-2017)
        train = sim.truth["stratum"].to_numpy() == "train"
        sim.clinical, sim.truth = sim.clinical[train], sim.truth[train]
        assert train.sum() == 178 and int(sim.truth["true_er"].sum()) == 73
    for var in twin["variables"]:
        if var["name"] in ref:
            assert _level_counts(sim, var) == ref[var["name"]], var["name"]


@pytest.mark.parametrize("preset", ["phase_attention", "cemri_dlrcr"])
def test_large_cohort_marginals_within_sampling_noise(preset):
    n = 9000
    sim = simulate_clinical(preset, n=n, seed=11)
    twin = sim.twin
    an = sim.truth["censored"] == 0
    er_rate = sim.truth.loc[an, "true_er"].mean()
    ref = twin["strata"][0]
    p = ref["n_er"] / (ref["n_er"] + ref["n_ner"])
    assert abs(er_rate - p) < 4 * math.sqrt(p * (1 - p) / an.sum())
    for var in twin["variables"]:
        if "counts" not in var:
            continue
        got = _level_counts(sim, var)
        for g in ("ER", "NER"):
            tot = sum(got[g])
            exp = np.asarray(var["counts"][g], float) / sum(var["counts"][g])
            sd = np.sqrt(exp * (1 - exp) / tot) + 1e-9
            assert np.all(np.abs(np.asarray(got[g]) / tot - exp) < 4 * sd + 1.0 / tot), var["name"]


def test_ivim_continuous_group_laws():
    sim = simulate_clinical("ivim_vit", n=8000, seed=3)
    t = sim.truth[sim.truth["censored"] == 0]
    d_er = t.loc[t.true_er == 1, "ivim_d_1e3_mm2_s"].mean()
    d_ner = t.loc[t.true_er == 0, "ivim_d_1e3_mm2_s"].mean()
    assert d_er == pytest.approx(0.80, abs=0.02) and d_ner == pytest.approx(0.93, abs=0.02)
    size = sim.clinical.loc[t.index]
    med_er = size.loc[t.true_er == 1, "tumor_size_mm"].median()
    assert med_er == pytest.approx(30, abs=1.5)
    assert "ivim_d_1e3_mm2_s" not in sim.clinical.columns


def test_posterior_is_calibrated_and_aucs_ordered():
    from sklearn.metrics import roc_auc_score

    sim = simulate_clinical("phase_attention", n=9000, seed=4)
    t = sim.truth[sim.truth["censored"] == 0]
    # The true probability is a posterior: in each decile the ER rate equals its mean.
    bins = np.quantile(t["true_er_prob"], np.linspace(0, 1, 11))
    which = np.clip(np.searchsorted(bins, t["true_er_prob"], side="right") - 1, 0, 9)
    for b in range(10):
        sel = which == b
        assert abs(t["true_er"][sel].mean() - t["true_er_prob"][sel].mean()) < 0.04
    overall = roc_auc_score(t["true_er"], t["latent_risk"])
    image = roc_auc_score(t["true_er"], t["logit_image"])
    clinical = roc_auc_score(t["true_er"], t["logit_clinical"])
    assert 0.85 <= overall <= 0.90
    assert 0.75 <= image <= 0.80
    assert overall > max(image, clinical)


def test_strength_zero_removes_trait_signal():
    sim = simulate_clinical("phase_attention", n=4000, seed=4, strength=0.0)
    t = sim.truth
    for trait in ("margin", "heterogeneity"):
        diff = t.loc[t.true_er == 1, f"z_{trait}"].mean() - t.loc[t.true_er == 0,
                                                                    f"z_{trait}"].mean()
        assert abs(diff) < 0.1


@pytest.mark.parametrize("preset", ["phase_attention", "ct_3dcnn"])
def test_follow_up_defines_er_at_horizon(preset):
    import pandas as pd

    sim = simulate_clinical(preset, n=600, seed=8)
    c, t = sim.clinical, sim.truth
    horizon = sim.twin["horizon_days"]
    s = pd.to_datetime(c["surgery_date"])
    r = pd.to_datetime(c["recurrence_date"].replace("", None))
    lf = pd.to_datetime(c["last_followup_date"])
    er = ((r - s).dt.days <= horizon).fillna(False).astype(int)
    assert (er == t["true_er"]).all()
    cens = t["censored"] == 1
    assert cens.sum() == round(0.03 * 600)
    assert ((lf - s).dt.days[cens] < horizon).all() and r[cens].isna().all()
    assert ((lf - s).dt.days[~cens & (er == 0)] >= horizon).all()
    if preset == "ct_3dcnn":
        test = t["stratum"] == "test"
        assert s[test].min() >= pd.Timestamp("2018-01-01")
        assert s[test].max() <= pd.Timestamp("2018-11-30")
        assert s[~test].max() < pd.Timestamp("2018-01-01")
        assert test.sum() == pytest.approx(600 * 42 / 220, abs=1)


def test_same_seed_same_tables_other_seed_differs():
    a = simulate_clinical("cemri_dlrcr", n=50, seed=1)
    b = simulate_clinical("cemri_dlrcr", n=50, seed=1)
    c = simulate_clinical("cemri_dlrcr", n=50, seed=2)
    assert a.clinical.equals(b.clinical) and a.truth.equals(b.truth)
    assert not a.clinical.equals(c.clinical)


def test_clinical_columns_describe_every_column():
    sim = simulate_clinical("cemri_dlrcr", n=20, seed=1)
    assert set(sim.columns) == set(sim.clinical.columns)
    for col in ("neutrophil_1e9_l", "lymphocyte_1e9_l", "monocyte_1e9_l", "platelet_1e9_l",
                "ecog", "macrovascular_invasion", "extrahepatic_spread", "nodule_count",
                "largest_nodule_mm", "afp_ng_ml", "tbil_umol_l", "alb_g_l"):
        assert col in sim.clinical.columns
    afp = sim.columns["afp_ng_ml"]
    assert afp["cut"] == 400 and afp["closed"] == "right" and afp["unit"] == "ng/mL"
