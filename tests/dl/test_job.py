"""Whole jobs of `hccer.dl.job` on tiny crops: a CV fold job (ledger, history, curves), a
hold-out inner-fold ensemble job with Grad-CAM and rescoring, a planted image signal learned out
of fold, the permutation control's block-wise label shuffle, and the cemri_dlrcr hold-out jobs
(ResNets, then DLRCR warm-started from the best of them)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from dlcohort import CR_VARS, dlrcr_cohort, dlrcr_files


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
    assert sorted(led.patient) == sorted(folds["folds"][1]["test"])
    assert set(led.cohort) == {"test"} and set(led.fold) == {1} and set(led.model) == {"m"}
    assert led.label.tolist() == [int(p[1:]) % 2 for p in led.patient]
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
    test = led[led.cohort == "test"].set_index("patient")["score"]
    np.testing.assert_allclose(same.set_index("patient")["score"].loc[test.index], test,
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
    assert list(other.patient) == ["p08", "p09", "p10"] and set(other.model) == {"c_r2"}
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
    from hccer.dl.job import permuted_training_labels
    from hccer.permutation import DEEP_STREAM, permuted

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
        shuffled = dict(zip(train, permuted(np.array([er[p] for p in train]), seed, DEEP_STREAM), strict=True))
        whole_lost += any(len({shuffled[p] for p in va}) < 2 for _, va in members)
    assert whole_lost > 10 and moved == 30
    # without validation sets it is the plain shuffle of the whole training set
    plain = permuted_training_labels(train, er, [(train, None)], 3)
    assert list(plain.values()) == permuted(np.array([er[p] for p in train]), 3, DEEP_STREAM).tolist()


def test_holdout_jobs_resnets_then_dlrcr(tmp_path):
    from hccer.dl.job import run_job
    from hccer.ledger import read_ledger

    crops, pids, train, test = dlrcr_cohort(tmp_path)
    base = {"network": "stack", "epochs": 3, "batch_size": 8, "optimizer": "sgd", "lr": 0.05,
            "class_weights": "balanced", "augment": "affine", "ensemble": "inner_holdout",
            "early_stopping": {"patience": 2, "monitor": "val_auc"}, "score_train": True,
            "input": {"array": "x", "phases": ["AP", "PVP", "DP"]},
            "net": {"backbone": "resnet18", "width": 4, "normalise": "none"}}
    study = {"key": "t", "phases": ["AP", "PVP", "DP"], "crop": {"mode": "slices2d"},
             "clinical": {"variables": CR_VARS},
             "deep": {"device": "cpu", "defaults": base, "experiments": {
                 "resnet18": {}, "resnet10": {"net": {"backbone": "resnet10"}},
                 "dlrcr": {"net": {"fusion": "A"}, "tabular": ["radiomics", "clinical"],
                           "init_from": ["resnet10", "resnet18"]}}}}
    summaries = {}
    for name in ("resnet10", "resnet18", "dlrcr"):
        out = tmp_path / "models" / name / "fold-0_seed-0"
        summaries[name] = run_job(
            study, name, 0, 0, crops, str(tmp_path / "folds.json"),
            str(tmp_path / "outcome.tsv"), str(out), str(tmp_path / f"{name}.csv"),
            tabular_files=dlrcr_files(tmp_path),
            init_dirs=[str(tmp_path / "models" / m / "fold-0_seed-0")
                       for m in ("resnet10", "resnet18")] if name == "dlrcr" else None)
        led = read_ledger(tmp_path / f"{name}.csv")
        assert sorted(led[led.cohort == "train"].patient) == train
        assert sorted(led[led.cohort == "test"].patient) == test
        assert set(led.model) == {name} and led.score.between(0, 1).all()
    inner0 = json.loads((tmp_path / "folds.json").read_text())["inner_folds"][0]
    for s in summaries.values():
        assert s["n_inner_val_patients"] == len(inner0["validation"]) == 6
        assert s["inner_val_auc"] is not None and len(s["epochs_run"]) == 1
    d = summaries["dlrcr"]
    best = max(("resnet10", "resnet18"), key=lambda m: (summaries[m]["inner_val_auc"],
                                                         m == "resnet10"))
    assert d["backbone_from"]["experiment"] == best
    assert d["config"]["net"]["backbone"] == best
    assert d["tabular_columns"] == ["DP_original_shape_Sphericity",
                                    "AP_original_firstorder_Mean", "ast_gt40",
                                    "diameter_gt5cm"]
    ck = torch.load(tmp_path / "models" / "dlrcr" / "fold-0_seed-0" / "checkpoint.pt",
                    weights_only=False)
    assert ck["tabular"]["columns"] == d["tabular_columns"]
    # width 4: ResNet-10 pools 2 x 4 channels, ResNet-18 8 x 4; plus 4 tabular columns
    assert ck["members"][0]["head.out.weight"].shape[1] == (8 if best == "resnet10" else 32) + 4
