"""Experiment registry: presets resolve, bases chain, every run-listed experiment builds."""

import pytest
from hccer.config import load_study
from hccer.dl import experiments
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
