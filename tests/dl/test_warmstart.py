"""Warm starts of `hccer.dl.warmstart` (spec seed-002 §6): the best candidate ResNet chosen on
its inner validation AUC and adopted, and its trunk weights copied into the new network while
the head is left alone."""

import json

import pytest
import torch
from hccer.dl import networks, warmstart
from hccer.dl.checkpoint import save_checkpoint
from hccer.errors import ConfigError, InputError


def _summary(d, name, auc, cfg=None):
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({
        "experiment": name, "fold": 0, "seed": 0, "inner_val_auc": auc,
        "config": cfg or {"network": "stack", "net": {"backbone": name, "width": 4}}}))
    return d


def test_the_best_candidate_is_chosen_on_inner_validation_auc(tmp_path):
    dirs = [_summary(tmp_path / n, n, a) for n, a in
            [("resnet10", 0.80), ("resnet18", 0.85), ("resnet34", 0.85)]]
    cfg = {"name": "dlrcr", "network": "stack", "init_from": ["resnet10", "resnet18",
                                                              "resnet34"],
           "net": {"backbone": "resnet50", "fusion": "A", "normalise": "none"}}
    choice = warmstart.choose(cfg, dirs, 0, 0)
    assert choice.experiment == "resnet18"               # tie with resnet34: listed first
    assert [c["inner_val_auc"] for c in choice.record()["candidates"]] == [0.80, 0.85, 0.85]
    adopted = warmstart.adopt(cfg, choice)
    assert adopted["net"] == {"backbone": "resnet18", "width": 4, "fusion": "A"}
    with pytest.raises(InputError, match="not fold 1"):
        warmstart.choose(cfg, dirs, 1, 0)
    with pytest.raises(ConfigError, match="no trained job"):
        warmstart.choose(cfg, dirs[:2], 0, 0)
    unscored = [_summary(tmp_path / "u" / n, n, None) for n in ("resnet10", "resnet18")]
    with pytest.raises(ConfigError, match="no inner validation AUC"):
        warmstart.choose(dict(cfg, init_from=["resnet10", "resnet18"]), unscored, 0, 0)
    with pytest.raises(ConfigError, match="cannot start from"):
        warmstart.adopt(dict(cfg, network="branches"), choice)


def test_trunk_weights_are_copied_and_the_head_is_not(tmp_path):
    torch.manual_seed(0)
    src = networks.build("stack", {"backbone": "resnet10", "width": 4}, n_phases=3)
    d = _summary(tmp_path / "resnet10", "resnet10", 0.7)
    save_checkpoint(d / "checkpoint.pt", experiment="resnet10", config={
        "name": "resnet10", "network": "stack", "net": {"backbone": "resnet10", "width": 4}},
        fold=0, seed=0, run_seed=0, input_shape=(3, 16, 16), members=[src.state_dict()])
    torch.manual_seed(1)
    dst = networks.build("stack", {"backbone": "resnet10", "width": 4, "fusion": "A"},
                         n_phases=3, clinical_dim=4)
    head_before = dst.head.out.weight.clone()
    choice = warmstart.choose({"name": "d", "init_from": ["resnet10"]}, [d], 0, 0)
    warmstart.load_trunk(dst, choice, 0)
    for k, v in src.trunk.state_dict().items():
        assert torch.equal(dst.trunk.state_dict()[k], v), k
    assert torch.equal(dst.head.out.weight, head_before)
    wide = networks.build("stack", {"backbone": "resnet10", "width": 8}, n_phases=3)
    with pytest.raises(InputError, match="do not fit"):
        warmstart.load_trunk(wide, choice, 0)
