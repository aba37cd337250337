"""Training loop (resume bit-identical, early stopping) and whole jobs on tiny crops."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from hccer.dl import networks
from hccer.dl.data import Samples
from hccer.dl.train import TrainConfig, fit, set_determinism


def _samples(n=6, shape=(1, 10, 12, 12), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1] * (n // 2))
    x = rng.random((n, *shape), dtype=np.float32) * 0.2
    x[labels == 1, ..., 3:7, 3:7] += 0.6                 # a bright "tumour" for label 1
    return Samples(x, np.arange(n), [f"p{i}" for i in range(n)]), labels


def _net(seed):
    torch.manual_seed(seed)
    return networks.build("cnn3d", {"width": 2, "dense": (8, 8, 4), "dropout": 0.5},
                          input_shape=(1, 10, 12, 12))


@pytest.mark.parametrize("augment", ["expand7", "flips_rot90"])
def test_resume_is_bit_identical(tmp_path, augment):
    set_determinism(torch.device("cpu"))
    s, y = _samples()
    cfg = TrainConfig(epochs=3, batch_size=4, lr=1e-3, augment=augment,
                      class_weights="balanced")
    full = _net(0)
    h_full = fit(full, s, y, cfg, seed=5, device=torch.device("cpu"),
                 resume=tmp_path / "a.pt")
    # interrupted after one epoch, then a fresh process would rebuild the model and resume
    part = _net(0)
    fit(part, s, y, TrainConfig(**{**cfg.__dict__, "epochs": 1}), seed=5,
        device=torch.device("cpu"), resume=tmp_path / "b.pt")
    torch.manual_seed(123)                               # RNG state must come from the file
    resumed = _net(99)
    h_res = fit(resumed, s, y, cfg, seed=5, device=torch.device("cpu"),
                resume=tmp_path / "b.pt")
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values(),
                         strict=True):
        assert torch.equal(a, b), k
    assert [h["train_loss"] for h in h_full] == [h["train_loss"] for h in h_res]


def test_early_stopping_restores_best_weights(tmp_path):
    s, y = _samples(8)
    val, vy = _samples(4, seed=1)
    model = _net(0)
    cfg = TrainConfig(epochs=40, batch_size=8, lr=3e-2, early_stopping={"patience": 2})
    hist = fit(model, s, y, cfg, seed=0, device=torch.device("cpu"), val=val, val_labels=vy)
    losses = [h["val_loss"] for h in hist]
    best = int(np.argmin(losses))
    assert len(hist) <= 40 and len(hist) - 1 - best <= 2
    if len(hist) < 40:
        assert len(hist) - 1 - best == 2                 # stopped after `patience` bad epochs
    from hccer.dl.train import predict
    p = predict(model, val, None, torch.device("cpu"))
    got = float(-np.mean(vy * np.log(p + 1e-7) + (1 - vy) * np.log(1 - p + 1e-7)))
    assert got == pytest.approx(losses[best], rel=1e-5)


def _cohort(tmp_path, n=12, mode="slices2d"):
    rng = np.random.default_rng(3)
    pids = [f"p{i:02d}" for i in range(n)]
    er = [i % 2 for i in range(n)]
    crops = []
    for pid, e in zip(pids, er, strict=True):
        if mode == "slices2d":
            x = rng.random((3, 3, 16, 16), dtype=np.float32) * 0.2
            x[..., 5:11, 5:11] += 0.7 * e
            arrays = {"x": x}
        else:
            v = rng.random((1, 10, 16, 16), dtype=np.float32) * 0.2
            v[..., 5:11, 5:11] += 0.7 * e
            arrays = {"SS": v, "NSS": v}
        path = tmp_path / "crops" / f"sub-{pid}_desc-{mode}.npz"
        path.parent.mkdir(exist_ok=True)
        np.savez(path, **arrays)
        crops.append(str(path))
    outcome = pd.DataFrame({"patient": pids, "er": er, "time_days": 400, "event": er,
                            "included": True, "age_years": 61, "tumor_size_mm": 30,
                            "portal_vein_invasion": "no", "nlr": 2.0, "tbil_umol_l": 10,
                            "afp_ug_l": [5 + 100 * e for e in er], "bclc_stage": "A"})
    outcome.to_csv(tmp_path / "outcome.tsv", sep="\t", index=False)
    assignment = [{"patient": p, "er": e, "cohort": "cv", "fold": i % 2}
                  for i, (p, e) in enumerate(zip(pids, er, strict=True))]
    if mode == "slices2d":
        folds = {"method": "kfold", "folds": [
            {"fold": k, "train": [p for i, p in enumerate(pids) if i // 2 % 2 != k],
             "test": [p for i, p in enumerate(pids) if i // 2 % 2 == k]} for k in (0, 1)],
            "assignment": assignment}
    else:
        train, test = pids[:8], pids[8:]
        folds = {"method": "holdout_date", "folds": [{"fold": 0, "train": train, "test": test}],
                 "inner_folds": [{"fold": k, "train": [p for i, p in enumerate(train)
                                                       if i // 2 % 2 != k],
                                  "validation": [p for i, p in enumerate(train)
                                                 if i // 2 % 2 == k]} for k in (0, 1)],
                 "assignment": assignment}
    (tmp_path / "folds.json").write_text(json.dumps(folds))
    return crops


# seed-000-001 §2: the 9-element vector, as the phase_attention preset codes it
CLINICAL_9 = [
    {"name": "c1", "column": "age_years", "ge": 60},
    {"name": "c2", "column": "tumor_size_mm", "ge": 50},
    {"name": "c3", "column": "portal_vein_invasion", "equals": "yes"},
    {"name": "c4", "column": "nlr", "ge": 2.8},
    {"name": "c5", "column": "tbil_umol_l", "ge": 20.5},
    {"name": "c6", "column": "afp_ug_l", "ge": 9},
    {"name": "c7", "column": "bclc_stage", "equals": "C"},
    {"name": "c8", "column": "bclc_stage", "equals": "B"},
    {"name": "c9", "column": "bclc_stage", "equals": "A"},
]


def test_cv_job_writes_ledger_history_and_curves(tmp_path):
    from hccer.dl.job import run_job
    from hccer.ledger import read_ledger

    crops = _cohort(tmp_path)
    study = {"key": "t", "phases": ["NC", "ART", "PV"], "crop": {"mode": "slices2d"},
             "clinical": {"variables": CLINICAL_9},
             "deep": {"device": "cpu", "experiments": {"m": {
                 "network": "branches", "epochs": 2, "batch_size": 4, "lr": 1e-3,
                 "augment": "flips_rot90", "input": {"array": "x", "phases": ["ART", "PV"]},
                 "net": {"width": 4, "attention": "intra+inter", "fusion": "D",
                         "joint_loss": True}}}}}
    out = tmp_path / "models" / "m"
    s = run_job(study, "m", 1, 0, crops, str(tmp_path / "folds.json"),
                str(tmp_path / "outcome.tsv"), str(out), str(tmp_path / "part.csv"))
    led = read_ledger(tmp_path / "part.csv")
    folds = json.loads((tmp_path / "folds.json").read_text())
    assert sorted(led.patient_id) == sorted(folds["folds"][1]["test"])
    assert set(led.cohort) == {"test"} and set(led.fold) == {1} and set(led.model) == {"m"}
    assert led.label.tolist() == [int(p[1:]) % 2 for p in led.patient_id]
    hist = pd.read_csv(out / "history.tsv", sep="\t")
    assert hist.epoch.tolist() == [1, 2]
    assert (out / "curves.png").stat().st_size > 1000
    assert not list(out.glob("resume-*.pt"))
    assert s["n_train_samples"] == 3 * len(folds["folds"][1]["train"])
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ck["input_shape"] == [2, 16, 16]


def test_holdout_ensemble_job_and_gradcam(tmp_path):
    from hccer.dl.gradcam import run_gradcam
    from hccer.dl.job import run_job
    from hccer.ledger import read_ledger

    crops = _cohort(tmp_path, mode="voi3d")
    study = {"key": "t", "phases": ["ART"], "model_phases": ["ART"], "crop": {"mode": "voi3d"},
             "deep": {"device": "cpu", "experiments": {"c": {
                 "network": "cnn3d", "epochs": 3, "batch_size": 8, "lr": 1e-3,
                 "augment": "expand7", "class_weights": "balanced", "ensemble": "inner_folds",
                 "early_stopping": {"patience": 2}, "score_train": True,
                 "input": {"array": "NSS"}, "net": {"width": 2, "dense": [8, 8, 4]}}}}}
    out = tmp_path / "models" / "c"
    run_job(study, "c", 0, 0, crops, str(tmp_path / "folds.json"),
            str(tmp_path / "outcome.tsv"), str(out), str(tmp_path / "part.csv"))
    led = read_ledger(tmp_path / "part.csv")
    assert (led.cohort == "train").sum() == 8 and (led.cohort == "test").sum() == 4
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    assert len(ck["members"]) == 2
    hist = pd.read_csv(out / "history.tsv", sep="\t")
    assert set(hist.member) == {0, 1} and hist.val_loss.notna().all()
    n = run_gradcam(str(out / "checkpoint.pt"), crops, str(out / "gradcam"),
                    str(tmp_path / "folds.json"))
    assert n == 12 and len(list((out / "gradcam").glob("sub-*_gradcam.png"))) == 12
    maps = np.load(out / "gradcam" / "gradcam_maps.npz")
    m = maps["p00"]
    assert m.shape == (16, 16) and m.min() >= 0 and m.max() <= 1
    # rescoring the same crops reproduces the job's test scores; other crops (a second
    # reader's) give their own rows, and test patients without one are left out
    from hccer.dl.rescore import rescore
    same = rescore(str(out / "checkpoint.pt"), crops, str(tmp_path / "folds.json"),
                   str(tmp_path / "outcome.tsv"), "c_again", str(tmp_path / "again.csv"),
                   device="cpu")
    test = led[led.cohort == "test"].set_index("patient_id")["score"]
    np.testing.assert_allclose(same.set_index("patient_id")["score"].loc[test.index], test,
                               rtol=1e-5)
    r2 = tmp_path / "r2"
    r2.mkdir()
    for pid in ("p08", "p09", "p10"):
        z = dict(np.load(tmp_path / "crops" / f"sub-{pid}_desc-voi3d.npz"))
        np.savez(r2 / f"sub-{pid}_desc-voi3dR2.npz", **{k: v[..., ::-1].copy()
                                                       for k, v in z.items()})
    other = rescore(str(out / "checkpoint.pt"), sorted(map(str, r2.glob("*.npz"))),
                    str(tmp_path / "folds.json"), str(tmp_path / "outcome.tsv"), "c_r2",
                    str(tmp_path / "r2.csv"), device="cpu")
    assert list(other.patient_id) == ["p08", "p09", "p10"] and set(other.model) == {"c_r2"}
    assert set(other.cohort) == {"test"} and read_ledger(tmp_path / "r2.csv").shape[0] == 3
    # a network that also reads clinical inputs cannot be rescored on images alone
    from hccer.errors import InputError
    ck = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)
    ck["tabular"] = ["clinical_record"]
    torch.save(ck, tmp_path / "tabular.pt")
    with pytest.raises(InputError, match="image-only network") as err:
        rescore(str(tmp_path / "tabular.pt"), crops, str(tmp_path / "folds.json"),
                str(tmp_path / "outcome.tsv"), "c_tab", str(tmp_path / "tab.csv"), device="cpu")
    assert "tabular.pt" in str(err.value)
    # early stopping on the validation AUC with a one-class validation set: a one-line error
    # naming the job and the folds file, before any training
    folds = json.loads((tmp_path / "folds.json").read_text())
    folds["inner_folds"][0]["validation"] = ["p00", "p02", "p04", "p06"]     # all NER
    (tmp_path / "one_class.json").write_text(json.dumps(folds))
    study["deep"]["experiments"]["c"]["early_stopping"] = {"patience": 2, "monitor": "val_auc"}
    with pytest.raises(InputError, match="c fold 0 member 0: .* all of one class") as err:
        run_job(study, "c", 0, 0, crops, str(tmp_path / "one_class.json"),
                str(tmp_path / "outcome.tsv"), str(tmp_path / "oc"), str(tmp_path / "oc.csv"))
    assert "one_class.json" in str(err.value)


def test_gradcam_matches_a_hand_computation():
    from hccer.dl.gradcam import gradcam

    model = _net(0).eval()
    x = torch.rand(1, 1, 10, 12, 12)
    cam = gradcam(model, x.numpy())
    acts = model.features(x).detach().requires_grad_(True)
    logit = model.out(model.dense(torch.flatten(acts, 1)))[0, 1]
    g, = torch.autograd.grad(logit, acts)
    raw = torch.relu((g.mean(dim=(2, 3, 4), keepdim=True) * acts).sum(1))[0, 0].detach()
    # pool 4 of a 10-slice input has depth 1: the map is the same on all slices
    assert cam.shape == (1, 10, 12, 12) and np.allclose(cam[0, 0], cam[0, 9])
    # the 2x2 pool-4 grid upsampled to 12x12: the larger raw cell is the brighter quadrant
    if raw.max() > raw.min():
        i, j = np.unravel_index(int(raw.argmax()), raw.shape)
        quad = cam[0, 0, 6 * i:6 * i + 6, 6 * j:6 * j + 6].mean()
        assert quad == pytest.approx(cam[0, 0].reshape(2, 6, 2, 6).mean(axis=(1, 3)).max())


def test_a_planted_image_signal_is_learned_out_of_fold(tmp_path):
    """Held-out patients whose ER slices carry a bright square are ranked first."""
    from hccer.dl.job import run_job

    crops = _cohort(tmp_path, n=16)
    study = {"key": "t", "phases": ["NC", "ART", "PV"], "crop": {"mode": "slices2d"},
             "deep": {"device": "cpu", "experiments": {"m": {
                 "network": "branches", "epochs": 4, "batch_size": 4, "lr": 1e-3,
                 "augment": "flips_rot90", "net": {"width": 4}}}}}
    for k in (0, 1):
        s = run_job(study, "m", k, 0, crops, str(tmp_path / "folds.json"),
                    str(tmp_path / "outcome.tsv"), str(tmp_path / f"m{k}"),
                    str(tmp_path / f"part{k}.csv"))
        assert s["test_auc"] >= 0.9


def test_permutation_control_keeps_every_validation_set_two_class():
    """The control's labels are shuffled within blocks (each early-stopping validation set, and
    the rest), so no validation set loses a class; a whole-set shuffle of the same labels often
    does (the cemri demo's control failed that way)."""
    from hccer.dl.job import permuted, permuted_training_labels

    train = [f"p{i:02d}" for i in range(20)]
    er = {p: int(i % 4 == 0) for i, p in enumerate(train)}      # 5 ER of 20
    members = [(train[8:], train[:4]), (train[:4] + train[8:], train[4:8])]   # 4 per val set
    whole_lost = moved = 0
    for seed in range(30):
        lab = permuted_training_labels(train, er, members, seed)
        assert sorted(lab) == sorted(train) and sum(lab.values()) == 5
        for _, va in members:
            assert sorted(lab[p] for p in va) == sorted(er[p] for p in va)
        moved += any(lab[p] != er[p] for p in train)
        shuffled = dict(zip(train, permuted(np.array([er[p] for p in train]), seed), strict=True))
        whole_lost += any(len({shuffled[p] for p in va}) < 2 for _, va in members)
    assert whole_lost > 10 and moved == 30
    # without validation sets it is the plain shuffle of the whole training set
    plain = permuted_training_labels(train, er, [(train, None)], 3)
    assert list(plain.values()) == permuted(np.array([er[p] for p in train]), 3).tolist()
