"""Published vs reproduced: ledgers built to give the papers' own confusion matrices and AUCs
reproduce the printed numbers; other numbers agree with `hccer.stats` called directly; every
published model is present or has a reason."""

import re

import numpy as np
import pandas as pd
import pytest
from hccer.errors import ConfigError
from hccer.report import compare as C
from hccer.report.published import check_published, model_sources
from reportdata import PRESETS


def rows(model, cohort, scores, labels, fold=0, seed=0, prefix=None, times=None):
    prefix = prefix or cohort
    out = pd.DataFrame(
        {
            "patient": [f"{prefix}{i:03d}" for i in range(len(scores))],
            "model": model,
            "score": np.asarray(scores, float),
            "label": np.asarray(labels, int),
            "cohort": cohort,
            "fold": fold,
            "seed": seed,
        }
    )
    if times is not None:
        out["time"] = np.asarray(times[0], float)
        out["event"] = np.asarray(times[1], int)
    return out


def confusion_rows(model, tp, fn, tn, fp):
    """Test rows giving exactly this confusion matrix at the cut-off 0.45 of `train_rows`."""
    s = [0.9] * tp + [0.3] * fn + [0.1] * tn + [0.6] * fp
    y = [1] * (tp + fn) + [0] * (tn + fp)
    return rows(model, "test", s, y)


def train_rows(model):
    # Youden on these: J = 1 between 0.2 and 0.7, midpoint 0.45
    return rows(model, "train", [0.8, 0.7, 0.2, 0.1], [1, 1, 0, 0])


def pick(table, model, cohort, metric):
    hit = table[(table.model == model) & (table.cohort == cohort) & (table.metric == metric)]
    assert len(hit) == 1, (model, cohort, metric, hit)
    return hit.iloc[0]


# published models no workflow step makes: a typo in a model name would land here too
OUTSIDE_WORKFLOW: set[str] = set()


@pytest.mark.parametrize("key", PRESETS)
def test_every_preset_has_a_checked_published_block(preset, key):
    study = preset(key)
    block = check_published(study)
    assert block["items"]
    not_made = {it["model"] for it in block["items"]} - set(model_sources(study))
    defined = set((study.get("deep") or {}).get("experiments") or {})
    assert not_made <= defined | OUTSIDE_WORKFLOW, not_made - defined


def test_ct3dcnn_confusion_matrices_reproduce_the_printed_numbers(preset):
    """seed-004 §5/§8: SS test TP 13 FN 8 TN 19 FP 2, NSS TP 11 FN 10 TN 13 FP 8."""
    study = preset("ct_3dcnn")
    ledger = pd.concat(
        [
            train_rows("cnn3d_ss"),
            confusion_rows("cnn3d_ss", 13, 8, 19, 2),
            train_rows("cnn3d_nss"),
            confusion_rows("cnn3d_nss", 11, 10, 13, 8),
        ]
    )
    t = C.compare(ledger, study)
    for model in ("cnn3d_ss", "cnn3d_nss"):
        for metric in ("accuracy", "sensitivity", "specificity", "ppv", "npv"):
            r = pick(t, model, "test", metric)
            assert r.status == "ok" and r.threshold == pytest.approx(0.45)
            assert round(r.reproduced, 3) == pytest.approx(r.published, abs=1e-9), (model, metric)
        acc = pick(t, model, "test", "accuracy")
        assert acc.ci_low == pytest.approx(acc.published_ci_low, abs=1e-3)
        assert acc.ci_high == pytest.approx(acc.published_ci_high, abs=1e-3)
    assert pick(t, "cnn3d_ss", "test", "accuracy_p_nir").reproduced == pytest.approx(
        0.00047, abs=1e-5
    )
    assert pick(t, "cnn3d_nss", "test", "accuracy_p_nir").reproduced == pytest.approx(
        0.2204, abs=1e-4
    )
    # the second reader's scoring (Suppl. Fig. S1) has no rows in this ledger: listed, why
    r = pick(t, "cnn3d_ss_r2", "test", "auc")
    assert r.status != "ok" and len(r.reason) > 10


def test_ivim_binomial_auc_ci_and_own_cohort_youden(preset):
    """seed-003 §9 ViT-fDL training row: AUC 0.968 (0.905-0.994) by MedCalc's exact binomial
    CI, sens 94.1 %, spec 100 %, PPV 100 %, NPV 96.2 % at the cohort's own Youden cut-off."""
    study = preset("ivim_vit")
    # 32 ER clearly high; one ER below all 51 non-ER; one tied with a non-ER and below 4 more:
    # 51 + 4.5 discordant pairs of 34 x 51 -> AUC 0.96799
    s = [0.95] * 32 + [0.05, 0.5] + [0.6] * 4 + [0.5] + [0.2] * 46
    y = [1] * 34 + [0] * 51
    t = C.compare(rows("vit_fdl", "train", s, y), study)
    auc = pick(t, "vit_fdl", "train", "auc")
    assert auc.reproduced == pytest.approx(1 - 55.5 / (34 * 51))
    assert (auc.ci_low, auc.ci_high) == pytest.approx((0.905, 0.994), abs=1e-3)
    for metric in ("sensitivity", "specificity", "ppv", "npv"):
        r = pick(t, "vit_fdl", "train", metric)
        assert round(r.reproduced, 3) == pytest.approx(r.published, abs=1e-9), metric
    # no test rows for this model: said so, not dropped
    r = pick(t, "vit_fdl", "test", "auc")
    assert r.status == "not computed" and "no test rows" in r.reason


def test_kfold_mean_sd_over_folds(preset):
    from hccer.stats import folds as F

    study = preset("phase_attention")
    # a run that trains only the headline model, and one published model no step makes
    study["deep"] = {**study["deep"], "run": ["r18_br3_dpa_fusD_joint"]}
    extra = {
        "item": "x",
        "table": "T",
        "model": "no_such_model",
        "cohort": "test",
        "metric": "auc",
        "value": 0.7,
    }
    study["published"] = {**study["published"], "items": [*study["published"]["items"], extra]}
    parts = []
    for f in range(10):  # folds 0-4 separate perfectly (AUC 1), folds 5-9 not at all (0.5)
        s = [0.9, 0.8, 0.2, 0.1] if f < 5 else [0.5, 0.5, 0.5, 0.5]
        parts.append(rows("clinical", "test", s, [1, 1, 0, 0], fold=f, prefix=f"f{f}_"))
    ledger = pd.concat(parts)
    t = C.compare(ledger, study)
    auc = pick(t, "clinical", "test", "auc")
    assert auc.reproduced == pytest.approx(0.75)
    assert auc.sd == pytest.approx(np.std([1.0] * 5 + [0.5] * 5, ddof=1))
    assert auc.n_folds == 10 and "pooled" in auc.extra
    acc = pick(t, "clinical", "test", "accuracy")
    ref = F.summarise(F.per_fold(ledger, 0.5)).iloc[0]
    assert (acc.reproduced, acc.sd) == pytest.approx((ref.accuracy_mean, ref.accuracy_sd))
    reasons = {r.model: r.reason for r in t.itertuples() if r.status != "ok"}
    assert "not listed in deep.run" in reasons["r18_br3"]
    assert "does not build it yet" in reasons["no_such_model"]
    assert "the ledger has no rows" in reasons["radiomics_rf"]


def test_holdout_tests_agree_with_hccer_stats(preset):
    from hccer.stats.roc import auc_with_ci, delong_paired, delong_unpaired

    study = preset("cemri_dlrcr")
    rng = np.random.default_rng(3)
    parts = []
    y = {"train": rng.integers(0, 2, 60), "test": rng.integers(0, 2, 25)}
    for cohort in ("train", "test"):
        base = y[cohort] + rng.normal(0, 0.8, y[cohort].size)
        for model, noise in (("cr", 1.0), ("rcr", 0.4)):
            s = 1 / (1 + np.exp(-(base + rng.normal(0, noise, base.size))))
            parts.append(rows(model, cohort, s, y[cohort]))
    ledger = pd.concat(parts)
    t = C.compare(ledger, study)
    te, tr = ledger[ledger.cohort == "test"], ledger[ledger.cohort == "train"]
    a = te[te.model == "rcr"].set_index("patient")
    b = te[te.model == "cr"].set_index("patient").loc[a.index]
    assert pick(t, "rcr", "test", "auc_p_paired").reproduced == pytest.approx(
        delong_paired(a.score, b.score, a.label)["p_value"]
    )
    r_tr, r_te = tr[tr.model == "cr"], te[te.model == "cr"]
    assert pick(t, "cr", "test", "auc_p_train_test").reproduced == pytest.approx(
        delong_unpaired(r_tr.score, r_tr.label, r_te.score, r_te.label)["p_value"]
    )
    ref = auc_with_ci(r_te.score, r_te.label, "delong")
    got = pick(t, "cr", "test", "auc")
    assert (got.reproduced, got.ci_low, got.ci_high) == pytest.approx(
        (ref.auc, ref.ci_low, ref.ci_high)
    )
    # ERASL-pre is a configured comparator the staging step leaves out, with its reason
    assert "ERASL-pre is left out" in pick(t, "erasl_pre", "test", "auc").reason
    assert pick(t, "resnet10", "test", "auc").status == "not run"


def test_logrank_groups_at_the_training_cutoff(preset):
    from hccer.stats.survival import logrank

    study = preset("ct_3dcnn")
    s = [0.9] * 6 + [0.1] * 6
    y = [1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    times = ([100, 150, 200, 300, 900, 950, 500, 800, 850, 900, 950, 1000], y)
    ledger = pd.concat([train_rows("cnn3d_ss"), rows("cnn3d_ss", "test", s, y, times=times)])
    r = pick(C.compare(ledger, study), "cnn3d_ss", "test", "logrank_p")
    high = (np.array(s) >= 0.45).astype(int)
    assert r.reproduced == pytest.approx(logrank(times[0], times[1], high)["p_value"])
    assert r.extra == "6 high / 6 low risk"


def test_one_class_cohort_is_not_computed_with_reason(preset):
    study = preset("ct_3dcnn")
    ledger = pd.concat([train_rows("cnn3d_ss"), rows("cnn3d_ss", "test", [0.2, 0.7], [0, 0])])
    r = pick(C.compare(ledger, study), "cnn3d_ss", "test", "auc")
    assert r.status == "not computed" and "label 0" in r.reason


def test_no_ledger_lists_every_item_as_not_run(preset):
    study = preset("deep_fusion")
    t = C.compare(None, study)
    assert len(t) == len(study["published"]["items"])
    assert set(t.status) == {"not run"}


def test_markdown_names_data_and_reasons(preset):
    study = preset("ct_3dcnn")
    ledger = pd.concat(
        [
            train_rows("cnn3d_ss"),
            confusion_rows("cnn3d_ss", 13, 8, 19, 2),
            rows("cnn3d_ss_perm", "test", [0.3, 0.6], [1, 0]),
        ]
    )
    t = C.compare(ledger, study)
    data = C.data_text(
        "synthetic",
        {
            "n": 220,
            "seed": 7,
            "generator_version": "1.0",
            "n_analysed": 213,
            "n_er_analysed": 90,
            "n_censored": 7,
            "oracle_auc": {"overall": 0.91, "image_only": 0.8, "clinical_only": 0.75},
        },
        None,
        {
            "n": 200,
            "seed": 7,
            "method": "holdout_date",
            "folds": [{"fold": 0, "train": ["a"] * 160, "test": ["b"] * 40}],
        },
    )
    from hccer.config import settings_statement

    md = C.render_markdown(
        t, C.other_models(ledger, study, study["published"]), study, study["published"], data,
        settings_statement({"crop": {}, "deep": {}}),
    )
    # the first lines say that demo settings were in force
    assert "Demo settings were in force (config/demo.yaml: crop, deep" in "".join(
        md.splitlines()[:3])
    assert "n = 220 simulated patients, seed 7" in md and "overall 0.910" in md
    assert "160 training, 40 test patients" in md
    body = [ln for ln in md.splitlines() if ln.startswith("| ") and "`" in ln]
    assert len(body) == len(t) + 1  # every published number, plus the permutation control
    notes = {r.reason for r in t.itertuples() if r.status != "ok"}
    assert re.search(r"\| not run \([a-z]\) \|", md)
    assert sum(ln.startswith("- (") for ln in md.splitlines()) == len(notes)
    assert "| 0.762 (0.606–0.880) | 0.762 (0.605–0.879) | -0.000 |" in md


def test_kfold_rejects_numbers_it_cannot_aggregate(preset):
    study = preset("phase_attention")
    bad = dict(
        study["published"],
        items=[
            {
                "item": "x",
                "table": "T",
                "model": "clinical",
                "cohort": "test",
                "metric": "logrank_p",
                "value": 0.01,
            }
        ],
    )
    with pytest.raises(ConfigError, match="k-fold"):
        check_published({**study, "published": bad})
    paired = dict(
        study["published"],
        threshold={"method": "fixed", "value": 0.5},
        items=[
            {
                "item": "x",
                "table": "T",
                "model": "a",
                "cohort": "test",
                "metric": "auc_p_paired",
                "value": 0.1,
            }
        ],
    )
    with pytest.raises(ConfigError, match="versus"):
        check_published({**preset("cemri_dlrcr"), "published": paired})


def test_twin_check_ranks_models_against_the_ceilings():
    rows = []
    for i in range(10):
        y = i % 2
        rows.append({"patient": f"p{i}", "model": "good", "score": 0.2 + 0.6 * y + i / 100,
                     "label": y, "cohort": "test", "fold": i % 2, "seed": 0})
        # two seeds of a weaker model: scores averaged per patient before the AUC
        for seed, s in ((0, 0.9 if i in (0, 1) else 0.1 + 0.5 * y), (1, 0.5)):
            rows.append({"patient": f"p{i}", "model": "weak", "score": s, "label": y,
                         "cohort": "test", "fold": 0, "seed": seed})
        rows.append({"patient": f"p{i}", "model": "weak_perm", "score": 0.5, "label": y,
                     "cohort": "test", "fold": 0, "seed": 0})
        rows.append({"patient": f"p{i}", "model": "good", "score": 0.5, "label": y,
                     "cohort": "train", "fold": 0, "seed": 0})
    ledger = pd.DataFrame(rows)
    syn = {"oracle_auc": {"overall_learnable_cv5": 0.8, "image_learnable_cv5": None,
                          "image_only": 0.9}}
    text = C.twin_check(ledger, syn)
    lines = [ln for ln in text.splitlines() if ln.startswith("| `")]
    assert [ln.split("`")[1] for ln in lines] == ["good", "weak", "weak_perm"]
    # good: perfect separation -> AUC 1 -> 1/0.8, no image ceiling, 1/0.9
    assert lines[0].split("|")[4:7] == [" 1.25 ", " — ", " 1.11 "]
    # weak, seed-mean scores: ER p1 0.7, p3-p9 0.55; NER p0 0.7, p2-p8 0.3. Pairs won:
    # p1 4 + tie with p0 0.5, each 0.55 ER 4 -> 20.5 of 25
    assert f"{20.5 / 25:.3f}" in lines[1]
    assert C.twin_check(ledger, None) == "" and C.twin_check(None, syn) == ""
