"""Experiment registry of `hccer.dl.experiments`: presets resolve, bases chain, every
run-listed experiment builds; the cemri_dlrcr preset carries the paper's settings,
init_from candidates run first, only tabular experiments get the train rule's extra
inputs, and the schema takes its new keys."""

import pytest
from hccer.config import load_study
from hccer.dl import experiments, networks
from hccer.errors import ConfigError

PRESETS = ["phase_attention", "deep_fusion", "ct_3dcnn"]


def _study(project_root, key, overrides=None):
    cfg = {"study": key, "data": {"source": "synthetic", "synthetic": {}},
           "study_overrides": overrides or {}}
    return load_study(cfg, project_root)


@pytest.mark.parametrize("key", PRESETS)
def test_every_preset_experiment_resolves(project_root, key):
    deep = _study(project_root, key)["deep"]
    for name in deep["experiments"]:
        cfg = experiments.resolve(deep, name)
        assert cfg["name"] == name and cfg["network"]
    assert experiments.run_list(deep)


def test_paper_settings_and_ablation_chain(project_root):
    deep = _study(project_root, "phase_attention")["deep"]
    m5 = experiments.resolve(deep, "r18_br3_dpa_fusD_joint")
    assert m5["net"] == {"backbone": "resnet18", "attention": "intra+inter", "fusion": "D",
                         "fc_dim": 30, "joint_loss": True}
    assert (m5["epochs"], m5["batch_size"], m5["lr"]) == (50, 8, 1e-4)
    assert m5["joint_weights"] == [0.25, 0.25, 0.5]
    assert experiments.resolve(deep, "r18_single_ART")["input"]["phases"] == ["ART"]
    assert experiments.resolve(deep, "r18_br3_dpa_fusD_joint_perm")["permute_labels"] is True
    df = experiments.resolve(_study(project_root, "deep_fusion")["deep"], "r50_stack3_fusC")
    assert df["batch_size"] == 16 and df["net"]["backbone"] == "resnet50"
    ct = experiments.resolve(_study(project_root, "ct_3dcnn")["deep"], "cnn3d_nss")
    assert ct["lr"] == 1e-5 and ct["class_weights"] == "balanced"
    assert ct["early_stopping"] == {"patience": 20, "restore_best": True}
    assert ct["input"]["array"] == "NSS" and ct["augment"] == "expand7"


def test_unknown_names_and_loops(project_root):
    deep = {"experiments": {"a": {"base": "b", "network": "cnn3d"}, "b": {"base": "a"},
                            "c": {"base": "zz"}}}
    with pytest.raises(ConfigError, match="loops"):
        experiments.resolve(deep, "a")
    with pytest.raises(ConfigError, match="unknown base"):
        experiments.resolve(deep, "c")
    with pytest.raises(ConfigError, match="not defined"):
        experiments.resolve(deep, "d")


def test_schema_rejects_typos(project_root):
    with pytest.raises(ConfigError, match="epoch"):
        _study(project_root, "ct_3dcnn", {"deep": {"defaults": {"epoch": 3}}})
    with pytest.raises(ConfigError, match="augment"):
        _study(project_root, "ct_3dcnn", {"deep": {"defaults": {"augment": "mixup"}}})


def _preset(project_root, overrides=None):
    return load_study({"study": "cemri_dlrcr", "data": {"source": "synthetic", "synthetic": {}},
                       "study_overrides": overrides or {}}, project_root)


def test_preset_experiments_carry_the_papers_settings(project_root):
    deep = _preset(project_root)["deep"]
    assert experiments.run_list(deep) == ["resnet10", "resnet18", "resnet34", "dlrcr",
                                          "resnet10_perm"]
    r10 = experiments.resolve(deep, "resnet10")
    assert (r10["optimizer"], r10["lr"], r10["momentum"], r10["weight_decay"]) == (
        "sgd", 1e-4, 0.9, 1e-4)
    assert (r10["epochs"], r10["batch_size"], r10["class_weights"]) == (200, 64, "balanced")
    assert r10["early_stopping"] == {"patience": 20, "restore_best": True,
                                     "monitor": "val_auc"}
    assert r10["net"]["backbone"] == "resnet10" and r10["score_train"] is True
    assert experiments.resolve(deep, "resnet10_perm")["permute_labels"] is True
    d = experiments.resolve(deep, "dlrcr")
    assert d["tabular"] == ["radiomics", "clinical"] and d["net"]["fusion"] == "A"
    for name in experiments.run_list(deep):
        cfg = experiments.resolve(deep, name)
        networks.build(cfg["network"], cfg["net"], n_phases=3, clinical_dim=4)


def test_init_from_candidates_are_trained_first_and_loops_fail():
    deep = {"run": ["d"], "experiments": {
        "a": {"network": "stack"}, "b": {"network": "stack"},
        "d": {"network": "stack", "init_from": ["b", "a"]}}}
    assert experiments.run_list(deep) == ["b", "a", "d"]
    deep["experiments"]["a"]["init_from"] = ["d"]
    with pytest.raises(ConfigError, match="init_from loops"):
        experiments.run_list(deep)


def test_only_tabular_experiments_get_extra_rule_inputs(project_root):
    deep = _preset(project_root)["deep"]
    paths = {"radiomics_features": "r/radiomics/features_reader-r1.tsv",
             "radiomics_record": "r/models/classical/fold-{fold}_radiomics.json",
             "clinical_record": "r/models/classical/fold-{fold}_cr.json"}
    assert experiments.extra_inputs(deep, "resnet34", 0, 0, "r", paths) == {}
    got = experiments.extra_inputs(deep, "dlrcr", 0, 0, "r", paths)
    assert got["radiomics_record"] == "r/models/classical/fold-0_radiomics.json"
    assert got["init_summaries"] == [f"r/models/{m}/fold-0_seed-0/summary.json"
                                     for m in ("resnet10", "resnet18", "resnet34")]
    args = experiments.extra_args(got)
    assert "--clinical-record r/models/classical/fold-0_cr.json" in args
    assert args.endswith("--init-from r/models/resnet10/fold-0_seed-0 "
                         "r/models/resnet18/fold-0_seed-0 r/models/resnet34/fold-0_seed-0")
    with pytest.raises(ConfigError, match="no radiomics record"):
        experiments.extra_inputs(deep, "dlrcr", 0, 0, "r", dict(paths, radiomics_record=None))


def test_schema_takes_the_new_keys_and_rejects_bad_values(project_root):
    _preset(project_root, {"deep": {"defaults": {"augment": "affine"}}})
    with pytest.raises(ConfigError, match="monitor"):
        _preset(project_root, {"deep": {"defaults": {"early_stopping": {"monitor": "acc"}}}})
    with pytest.raises(ConfigError, match="tabular"):
        _preset(project_root, {"deep": {"experiments": {"dlrcr": {"tabular": ["ct"]}}}})


def test_schema_enums_are_the_training_loops_own_lists(project_root):
    """The study schema is the one check of an experiment's choices; the loop's lists of what
    it implements must say the same."""
    import yaml
    from hccer.dl.data import AUGMENT
    from hccer.dl.train import MONITORS, OPTIMIZERS

    schema = yaml.safe_load((project_root / "config" / "schemas" / "study.schema.yaml").read_text())
    found: dict[str, list] = {}

    def walk(node):
        if isinstance(node, dict):
            for key, sub in node.items():
                if isinstance(sub, dict) and "enum" in sub:
                    found.setdefault(key, []).append(sub["enum"])
                walk(sub)
        elif isinstance(node, list):
            for sub in node:
                walk(sub)

    walk(schema)
    for key, values in (("augment", AUGMENT), ("optimizer", OPTIMIZERS), ("monitor", MONITORS),
                        ("class_weights", ("none", "balanced"))):
        assert found[key] and all(list(e) == list(values) for e in found[key]), key
