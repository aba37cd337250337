"""The one checkpoint format: `load_model` rebuilds each member as its job built it for training,
for the outer-fold jobs (several members, tabular inputs) and the IVIM ViT jobs alike."""

import pytest
import torch
from hccer.dl.checkpoint import load_model, read_checkpoint, save_checkpoint
from hccer.dl.job import build_model
from hccer.errors import InputError


def _same(a, b, x, clinical=None):
    assert a.state_dict().keys() == b.state_dict().keys()
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    with torch.no_grad():
        assert torch.equal(a.eval()(x, clinical)["logits"], b(x, clinical)["logits"])


def test_job_checkpoint_round_trip_with_members_and_tabular_inputs(tmp_path):
    cfg = {"name": "dlrcr", "network": "stack",
           "net": {"backbone": "resnet10", "width": 4, "fusion": "A", "normalise": "none"}}
    shape = (3, 16, 16)
    members = [build_model(cfg, shape, seed, clinical_dim=5)[0] for seed in (0, 1)]
    tab = {"columns": list("abcde"), "mean": [0.0] * 5, "sd": [1.0] * 5}
    written = save_checkpoint(tmp_path / "checkpoint.pt", experiment="dlrcr", config=cfg, fold=2,
                              seed=1, run_seed=2019, input_shape=shape, tabular=tab,
                              members=[m.state_dict() for m in members])
    assert list(written) == ["experiment", "config", "fold", "seed", "run_seed", "input_shape",
                             "tabular", "members"]
    x, clin = torch.rand(2, *shape), torch.rand(2, 5)
    for k, trained in enumerate(members):
        model, ck = load_model(tmp_path / "checkpoint.pt", member=k)
        assert not model.training and ck["fold"] == 2 and ck["tabular"] == tab
        # the tabular width, not net.clinical_dim's default of 9, sets the fusion input
        assert model.head.out.in_features == model.trunk.out_channels + 5
        _same(trained, model, x, clin)
    with pytest.raises(InputError, match="2 member\\(s\\), not a member 2"):
        load_model(tmp_path / "checkpoint.pt", member=2)


def test_vit_checkpoint_round_trip_keeps_its_keys(tmp_path):
    cfg = {"name": "vit_b", "network": "vit3d", "net": {"size": "tiny", "patch": 4}}
    shape = (9, 8, 8, 8)
    trained, _ = build_model(cfg, shape, 7)
    save_checkpoint(tmp_path / "ck.pt", experiment="vit_b", config=cfg, fold=0, seed=0,
                    run_seed=1016, input_shape=shape, members=[trained.state_dict()],
                    inner_fold=1, array="x", val_auc=0.75)
    ck = read_checkpoint(tmp_path / "ck.pt")
    assert (ck["inner_fold"], ck["array"], ck["val_auc"], ck["tabular"]) == (1, "x", 0.75, None)
    model, _ = load_model(ck, device=torch.device("cpu"))
    assert model.grid == (2, 2, 2)
    _same(trained, model, torch.rand(2, *shape))


def test_a_checkpoint_without_members_is_refused(tmp_path):
    torch.save({"experiment": "vit_b", "state": {}}, tmp_path / "old.pt")
    with pytest.raises(InputError, match="no `members`") as err:
        load_model(tmp_path / "old.pt")
    assert "old.pt" in str(err.value)
    with pytest.raises(InputError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")
