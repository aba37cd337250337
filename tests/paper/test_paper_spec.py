"""The `reproduce` block: the CT presets' blocks load and name only models their tracks write,
the schema and the spec checks reject typos with a message naming the item, and the model
catalogue says why a model is not run."""

from __future__ import annotations

import pytest
from hccer.config import load_study
from hccer.errors import ConfigError
from hccer.paper.spec import (
    KINDS,
    STATS_DEFAULTS,
    model_catalogue,
    paper_spec,
    referenced_models,
    stats_options,
)

CT = ["phase_attention", "deep_fusion", "ct_3dcnn"]


def _study(project_root, key, overrides=None, by_study=None):
    cfg = {
        "study": key,
        "data": {"source": "synthetic", "synthetic": {}},
        "study_overrides": overrides or {},
    }
    if by_study:
        cfg["demo"] = {key: by_study}
    return load_study(cfg, project_root)


@pytest.mark.parametrize("key", CT)
def test_ct_presets_list_every_paper_item(project_root, key):
    spec = paper_spec(_study(project_root, key))
    ids = [i["id"] for s in ("tables", "figures") for i in spec[s]]
    assert len(ids) == len(set(ids))
    expected = {
        "phase_attention": {
            "table1",
            "table2",
            "table3",
            "table4",
            "table5",
            "table6",
            "table7",
            "fig1_phases",
        },
        "deep_fusion": {"table1", "table2", "table3", "table4", "table5", "fig5_roc"},
        "ct_3dcnn": {
            "table_s2",
            "table_s3",
            "table_s4",
            "fig1_flow",
            "fig4_roc",
            "fig5_calibration",
            "fig6_confusion",
            "fig7_km",
            "fig8_gradcam",
        },
    }
    assert expected[key] <= set(ids)
    # the paper-size preset trains every model its items name
    for section in ("tables", "figures"):
        for item in spec[section]:
            for m in referenced_models(item):
                assert spec["models"][m] is None, (item["id"], m, spec["models"][m])


def test_demo_subset_gives_not_run_hints(project_root):
    study = _study(
        project_root, "phase_attention", by_study={"deep": {"run": ["r18_br3_dpa_fusD_joint"]}}
    )
    cat = model_catalogue(study)
    assert cat["r18_br3_dpa_fusD_joint"] is None
    assert cat["r18_br3_se"] == "not run (add r18_br3_se to deep.run)"
    assert cat["clinical"] is None and cat["radiomics_rf"] is None
    assert cat["radiomics_rf_perm"] is None
    spec = paper_spec(study)  # still valid: not-run models give not-run rows
    assert spec["models"]["r50_br3"].startswith("not run")


def _with_item(project_root, item, section="tables", key="ct_3dcnn"):
    return _study(project_root, key, {"reproduce": {section: [item]}})


def test_schema_rejects_unknown_item_key(project_root):
    item = {"id": "t", "title": "T", "kind": "holdout_metrics", "modelz": ["cnn3d_ss"]}
    with pytest.raises(ConfigError, match="modelz"):
        _with_item(project_root, item)


def test_schema_rejects_unknown_kind(project_root):
    with pytest.raises(ConfigError, match="kind"):
        _with_item(project_root, {"id": "t", "title": "T", "kind": "forest_plot"})


def test_kind_takes_only_its_keys(project_root):
    item = {
        "id": "t",
        "title": "T",
        "kind": "holdout_metrics",
        "models": ["cnn3d_ss"],
        "panels": [{"models": ["cnn3d_ss"], "cohort": "test"}],
    }
    with pytest.raises(ConfigError, match=r"item 't': kind holdout_metrics takes no key"):
        paper_spec(_with_item(project_root, item))


def test_unknown_model_is_named(project_root):
    item = {"id": "t", "title": "T", "kind": "holdout_metrics", "models": ["cnn3d_sss"]}
    with pytest.raises(
        ConfigError, match="no track of study ct_3dcnn writes a model named 'cnn3d_sss'"
    ):
        paper_spec(_with_item(project_root, item))


def test_figure_kind_under_tables_and_duplicate_ids(project_root):
    item = {
        "id": "f",
        "title": "F",
        "kind": "roc",
        "panels": [{"models": ["cnn3d_ss"], "cohort": "test"}],
    }
    with pytest.raises(ConfigError, match="belongs under reproduce.figures"):
        paper_spec(_with_item(project_root, item))
    study = _study(project_root, "ct_3dcnn", {"reproduce": {"figures": [item, item]}})
    with pytest.raises(ConfigError, match="used twice"):
        paper_spec(study)


def test_kfold_study_has_no_training_cohort(project_root):
    item = {
        "id": "t",
        "title": "T",
        "kind": "holdout_metrics",
        "models": ["clinical"],
        "cohorts": ["train"],
    }
    with pytest.raises(ConfigError, match="k-fold study scores out-of-fold patients only"):
        paper_spec(_with_item(project_root, item, key="deep_fusion"))


def test_threshold_or_youden_not_both(project_root):
    item = {
        "id": "t",
        "title": "T",
        "kind": "holdout_metrics",
        "models": ["cnn3d_ss"],
        "threshold": 0.5,
        "youden_from": "train",
    }
    with pytest.raises(ConfigError, match="not both"):
        paper_spec(_with_item(project_root, item))


def test_stats_options_and_kind_table():
    assert stats_options(None) == STATS_DEFAULTS
    assert stats_options({"n_boot": 500})["n_boot"] == 500
    assert stats_options({"n_boot": 500})["level"] == STATS_DEFAULTS["level"]
    assert {v[0] for v in KINDS.values()} == {"tables", "figures", "both"}


@pytest.mark.parametrize("key", ["cemri_dlrcr", "ivim_vit"])
def test_mri_presets_cohort_items_load(project_root, key):
    spec = paper_spec(_study(project_root, key))
    assert {"table1", "fig1_flow"} <= {i["id"] for s in ("tables", "figures") for i in spec[s]}
    table1 = next(i for i in spec["tables"] if i["id"] == "table1")
    assert table1["rule"] == {"cemri_dlrcr": "yates_fisher5", "ivim_vit": "spss"}[key]


def test_ivim_catalogue_lists_the_vit_ledger_models(project_root):
    cat = model_catalogue(_study(project_root, "ivim_vit"))
    for name in ("vit_bdl", "vit_mdl", "vit_fdl", "combined"):
        assert cat[name] is None, name


def test_per_cohort_youden_only_for_holdout_tables(project_root):
    item = {"id": "t", "title": "T", "kind": "km", "youden_from": "own",
            "panels": [{"title": "p", "models": ["cnn3d_ss"], "cohort": "test"}]}
    with pytest.raises(ConfigError, match="own"):
        paper_spec(_with_item(project_root, item, section="figures"))
