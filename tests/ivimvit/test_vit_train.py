"""The ViT inner-fold job on tiny bbox3d crops: the job steps of `dl.job` (members checkpoint,
outputs, one-class refusal) and the permutation control shared by every inner fold."""

import json

import numpy as np
import pytest
import torch
from hccer.dl.checkpoint import load_model
from hccer.dl.data import load_samples
from hccer.dl.train import patient_scores, predict
from hccer.errors import InputError
from hccer.ivimvit import config as ivim_config
from hccer.ivimvit.train import run_vit_fold
from hccer.stats.roc import auc

PIDS = [f"p{i:02d}" for i in range(12)]
ER = {p: i % 2 for i, p in enumerate(PIDS)}
DEEP = {"device": "cpu", "experiments": {
    "v": {"network": "vit3d", "epochs": 1, "batch_size": 4, "optimizer": "adamw",
          "net": {"size": "tiny", "patch": 4}},
    "v_perm": {"base": "v", "permute_labels": True}}}


def _split(train, validations):
    return {"method": "holdout_date",
            "folds": [{"fold": 0, "train": train, "test": [p for p in PIDS if p not in train]}],
            "inner_folds": [{"fold": k, "train": [p for p in train if p not in va],
                             "validation": va} for k, va in enumerate(validations)],
            "assignment": [{"patient": p, "er": ER[p]} for p in PIDS]}


@pytest.fixture()
def cohort(tmp_path):
    """bbox3d crops (2 b-values, 8³) with a bright cube for ER; 8 training patients in two
    inner folds of 2 + 2 classes."""
    rng = np.random.default_rng(0)
    crops = []
    for p in PIDS:
        x = rng.random((2, 8, 8, 8), dtype=np.float32) * 0.2
        x[:, 2:6, 2:6, 2:6] += 0.6 * ER[p]
        path = tmp_path / "crops" / f"sub-{p}_desc-bbox3d.npz"
        path.parent.mkdir(exist_ok=True)
        np.savez(path, x=x)
        crops.append(str(path))
    train = PIDS[:8]
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps(_split(train, [train[:4], train[4:]])))
    return crops, folds


def test_job_writes_outputs_and_a_members_checkpoint_that_reproduces_its_val_auc(cohort,
                                                                                 tmp_path):
    crops, folds = cohort
    out = tmp_path / "job"
    s = run_vit_fold({"deep": DEEP}, "v", 1, 0, crops, str(folds), str(out), base_seed=3)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "curves.png",
                                                     "history.tsv", "summary.json"]
    assert (s["inner_fold"], s["n_train"], s["n_validation"], s["epochs_run"]) == (1, 4, 4, 1)
    model, ck = load_model(out / "checkpoint.pt")
    assert len(ck["members"]) == 1 and ck["input_shape"] == [2, 8, 8, 8]
    assert (ck["inner_fold"], ck["array"], ck["fold"], ck["val_auc"]) == (1, "x", 0, s["val_auc"])
    assert ck["run_seed"] == 3 + 1009 * 2 + 0
    va = PIDS[4:8]
    val = load_samples(crops, va, "x", None, per_slice=False)
    p = patient_scores(predict(model, val, None, torch.device("cpu"), 4), val.patient_index, 4)
    assert s["val_auc"] == pytest.approx(float(auc(p, np.array([ER[q] for q in va]))))


def test_permutation_keeps_every_inner_validation_set_and_is_one_per_seed():
    train = PIDS[:8] + PIDS[8:]                       # 12 training patients, 3 inner folds
    split = _split(train, [train[:4], train[4:8], train[8:]])
    split["folds"][0]["test"] = ["p99"]
    split["assignment"].append({"patient": "p99", "er": 0})
    assert ivim_config.training_labels(split, False, 0) == {p: ER[p] for p in train}
    moved = 0
    for seed in range(20):
        lab = ivim_config.training_labels(split, True, seed)
        assert sorted(lab) == sorted(train) and sum(lab.values()) == 6
        for f in split["inner_folds"]:
            assert sorted(lab[p] for p in f["validation"]) == sorted(ER[p]
                                                                    for p in f["validation"])
        assert lab == ivim_config.training_labels(split, True, seed)
        moved += any(lab[p] != ER[p] for p in train)
    assert moved == 20


def test_every_inner_fold_job_trains_on_the_same_permutation(cohort, tmp_path, monkeypatch):
    from hccer.dl import job

    crops, folds = cohort
    seen = {}

    class Stop(Exception):
        pass

    def spy(model, cfg, tcfg, members, samples, patients, train_labels, *args):
        seen[members[0][1][0]] = dict(train_labels)
        raise Stop

    monkeypatch.setattr(job, "train_members", spy)
    for k in (0, 1):
        with pytest.raises(Stop):
            run_vit_fold({"deep": DEEP}, "v_perm", k, 2, crops, str(folds), str(tmp_path / "j"),
                         base_seed=5)
    split = json.loads(folds.read_text())
    want = ivim_config.training_labels(split, True, 5 + 2)      # what the feature models use
    assert len(seen) == 2 and all(lab == want for lab in seen.values())


def test_a_one_class_validation_set_is_refused_before_training(cohort, tmp_path):
    crops, _ = cohort
    ner = [p for p in PIDS[:8] if not ER[p]]
    one_class = tmp_path / "one_class.json"
    one_class.write_text(json.dumps(_split(PIDS[:8], [ner, [p for p in PIDS[:8]
                                                            if p not in ner]])))
    deep = json.loads(json.dumps(DEEP))
    deep["experiments"]["v"]["early_stopping"] = {"patience": 1, "monitor": "val_auc"}
    with pytest.raises(InputError, match="v inner fold 0 member 0: .* all of one class") as err:
        run_vit_fold({"deep": deep}, "v", 0, 0, crops, str(one_class), str(tmp_path / "oc"))
    assert "one_class.json" in str(err.value)
    assert not (tmp_path / "oc" / "history.tsv").exists()
    # monitoring the loss needs no AUC: the same split trains
    deep["experiments"]["v"]["early_stopping"] = {"patience": 1}
    s = run_vit_fold({"deep": deep}, "v", 0, 0, crops, str(one_class), str(tmp_path / "ok"))
    assert s["val_auc"] is None
