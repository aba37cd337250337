"""DLRCR plumbing (spec seed-002 §6): tabular inputs from the classical track's records,
z-scored on training patients only; the best ResNet chosen on training data and its trunk
reused; the preset's experiments and the train rule's extra inputs; whole hold-out jobs."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from hccer.config import load_study
from hccer.dl import experiments, networks, tabular, warmstart
from hccer.dl.checkpoint import save_checkpoint
from hccer.errors import ConfigError, InputError

CR_VARS = [{"name": "ast_gt40", "column": "ast_u_l", "gt": 40},
           {"name": "diameter_gt5cm", "column": "tumor_size_mm", "gt": 50},
           {"name": "male", "column": "sex", "equals": "M"}]


def _cohort(tmp_path, n=16):
    """Crops (3 slices x AP/PVP/DP), outcome, hold-out split with 2 inner folds, a radiomics
    feature table and the classical track's two records."""
    rng = np.random.default_rng(4)
    pids = [f"p{i:02d}" for i in range(n)]
    er = [i % 2 for i in range(n)]
    crops = []
    for pid, e in zip(pids, er, strict=True):
        x = rng.random((3, 3, 16, 16), dtype=np.float32) * 0.2
        x[..., 5:11, 5:11] += 0.6 * e
        path = tmp_path / "crops" / f"sub-{pid}_desc-slices2d.npz"
        path.parent.mkdir(exist_ok=True)
        np.savez(path, x=x)
        crops.append(str(path))
    outcome = pd.DataFrame({"patient": pids, "er": er, "time_days": 500, "event": er,
                            "included": True, "ast_u_l": [30 + 20 * e for e in er],
                            "tumor_size_mm": [40 + (i % 3) * 10 for i in range(n)],
                            "sex": "M"})
    outcome.to_csv(tmp_path / "outcome.tsv", sep="\t", index=False)
    train, test = pids[:12], pids[12:]
    inner = [{"fold": k, "train": [p for i, p in enumerate(train) if i // 2 % 2 != k],
              "validation": [p for i, p in enumerate(train) if i // 2 % 2 == k]}
             for k in (0, 1)]
    assignment = [{"patient": p, "er": e, "cohort": "train" if p in train else "test",
                   "fold": -1} for p, e in zip(pids, er, strict=True)]
    folds = {"method": "holdout_random", "folds": [{"fold": 0, "train": train, "test": test}],
             "inner_folds": inner, "assignment": assignment}
    (tmp_path / "folds.json").write_text(json.dumps(folds))
    feats = pd.DataFrame({"patient": pids,
                          "AP_original_firstorder_Mean": 100.0 + 10 * np.arange(n),
                          "PVP_original_glcm_Idm": rng.random(n),
                          "DP_original_shape_Sphericity": 0.5 + 0.01 * np.arange(n)})
    feats.to_csv(tmp_path / "features.tsv", sep="\t", index=False)
    (tmp_path / "rad.json").write_text(json.dumps(
        {"fold": 0, "selected": ["DP_original_shape_Sphericity",
                                 "AP_original_firstorder_Mean"]}))
    (tmp_path / "cr.json").write_text(json.dumps({"fold": 0,
                                                  "selected": ["ast_gt40", "diameter_gt5cm"]}))
    return crops, pids, train, test


def _files(tmp_path):
    return tabular.TabularFiles(str(tmp_path / "features.tsv"), str(tmp_path / "rad.json"),
                                str(tmp_path / "cr.json"))


def _outcome(tmp_path):
    return pd.read_csv(tmp_path / "outcome.tsv", sep="\t", dtype={"patient": str},
                       keep_default_na=False).set_index("patient")


def test_tabular_inputs_are_zscored_on_training_patients_only(tmp_path):
    _, pids, train, test = _cohort(tmp_path)
    study = {"clinical": {"variables": CR_VARS}}
    cfg = {"name": "dlrcr", "tabular": ["radiomics", "clinical"]}
    tab = tabular.build(study, cfg, _outcome(tmp_path), pids, train, _files(tmp_path))
    assert tab.columns == ["DP_original_shape_Sphericity", "AP_original_firstorder_Mean",
                           "ast_gt40", "diameter_gt5cm"]
    tr = tab.values[:12]
    assert np.allclose(tr.mean(0), 0, atol=1e-6) and np.allclose(tr.std(0), 1, atol=1e-5)
    # AP mean of patient i is 100 + 10 i; training patients 0..11: mean 155, SD sqrt(1430/12)
    sd = np.sqrt(np.mean((10 * np.arange(12) - 55.0) ** 2))
    assert tab.values[15, 1] == pytest.approx((250 - 155) / sd, rel=1e-5)
    assert tab.record()["mean"][1] == pytest.approx(155.0)
    # AST > 40 is the label here: coded 1 for ER, as the CR model codes it
    assert (tab.values[:, 2] > 0).tolist() == [bool(i % 2) for i in range(16)]
    assert tabular.build(study, {"name": "r"}, _outcome(tmp_path), pids, train,
                         _files(tmp_path)) is None


def test_tabular_inputs_fail_loudly(tmp_path):
    _, pids, train, _ = _cohort(tmp_path)
    study = {"clinical": {"variables": CR_VARS}}
    out = _outcome(tmp_path)
    with pytest.raises(InputError, match="no radiomics features for patient.*p99"):
        tabular.build(study, {"tabular": ["radiomics"]}, out, pids + ["p99"], train,
                      _files(tmp_path))
    (tmp_path / "cr.json").write_text(json.dumps({"selected": ["albi_grade"]}))
    with pytest.raises(ConfigError, match="albi_grade"):
        tabular.build(study, {"tabular": ["clinical"]}, out, pids, train, _files(tmp_path))
    with pytest.raises(ConfigError, match="no clinical model record"):
        tabular.build(study, {"tabular": ["clinical"]}, out, pids, train,
                      tabular.TabularFiles())
    with pytest.raises(ConfigError, match="unknown tabular"):
        tabular.build(study, {"tabular": ["genomics"]}, out, pids, train, _files(tmp_path))
    (tmp_path / "rad.json").write_text(json.dumps({"selected": ["AP_wavelet-LLH_glcm_Idm"]}))
    with pytest.raises(InputError, match="not columns of the feature table"):
        tabular.build(study, {"tabular": ["radiomics"]}, out, pids, train, _files(tmp_path))
    feats = pd.read_csv(tmp_path / "features.tsv", sep="\t").assign(slice=0)
    feats.to_csv(tmp_path / "features.tsv", sep="\t", index=False)
    (tmp_path / "rad.json").write_text(json.dumps({"selected": ["PVP_original_glcm_Idm"]}))
    with pytest.raises(ConfigError, match="one feature row per patient"):
        tabular.build(study, {"tabular": ["radiomics"]}, out, pids, train, _files(tmp_path))


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


def test_holdout_jobs_resnets_then_dlrcr(tmp_path):
    from hccer.dl.job import run_job
    from hccer.ledger import read_ledger

    crops, pids, train, test = _cohort(tmp_path)
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
            tabular_files=_files(tmp_path),
            init_dirs=[str(tmp_path / "models" / m / "fold-0_seed-0")
                       for m in ("resnet10", "resnet18")] if name == "dlrcr" else None)
        led = read_ledger(tmp_path / f"{name}.csv")
        assert sorted(led[led.cohort == "train"].patient_id) == train
        assert sorted(led[led.cohort == "test"].patient_id) == test
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


def test_scorecam_matches_a_channel_by_channel_computation():
    import torch.nn.functional as F
    from hccer.dl import networks
    from hccer.dl.gradcam import scorecam

    torch.manual_seed(0)
    model = networks.build("stack", {"backbone": "resnet10", "width": 4, "normalise": "none"},
                           n_phases=3, input_shape=(3, 32, 32)).eval()
    x = torch.rand(2, 3, 32, 32)
    cam = scorecam(model, x.numpy(), batch=3)          # batches of 3 of the 8 channels
    assert cam.shape == (2, 32, 32) and cam.min() >= 0 and cam.max() <= 1
    with torch.no_grad():
        a = model.trunk(x[1:])[0]                        # (8, 4, 4)
        scores = []
        for k in range(a.shape[0]):
            up = F.interpolate(a[k][None, None], size=(32, 32), mode="bilinear",
                               align_corners=False)[0, 0]
            m = (up - up.min()) / (up.max() - up.min()) if up.max() > up.min() else up * 0
            scores.append(model(x[1:] * m)["logits"][0, 1])
        w = torch.softmax(torch.stack(scores), 0)
        raw = torch.relu((w[:, None, None] * a).sum(0))
        ref = F.interpolate(raw[None, None], size=(32, 32), mode="bilinear",
                            align_corners=False)[0, 0]
        ref = (ref - ref.min()) / (ref.max() - ref.min())
    assert np.allclose(cam[1], ref.numpy(), atol=1e-5)


def test_scorecam_job_maps_every_patient_and_refuses_tabular_models(tmp_path):
    from hccer.dl.gradcam import run_gradcam
    from hccer.dl.job import run_job
    from hccer.errors import ConfigError

    crops, pids, train, test = _cohort(tmp_path)
    cfg = {"network": "stack", "epochs": 1, "batch_size": 8, "lr": 0.01,
           "input": {"array": "x", "phases": ["AP", "PVP", "DP"]},
           "net": {"backbone": "resnet10", "width": 4, "normalise": "none"}}
    study = {"key": "t", "phases": ["AP", "PVP", "DP"], "crop": {"mode": "slices2d"},
             "deep": {"device": "cpu", "experiments": {"r10": cfg}}}
    out = tmp_path / "models" / "r10" / "fold-0_seed-0"
    run_job(study, "r10", 0, 0, crops, str(tmp_path / "folds.json"),
            str(tmp_path / "outcome.tsv"), str(out), str(tmp_path / "r10.csv"))
    n = run_gradcam(str(out / "checkpoint.pt"), crops, str(out / "gradcam"),
                    str(tmp_path / "folds.json"))
    assert n == len(pids) and len(list((out / "gradcam").glob("sub-*_scorecam.png"))) == n
    index = json.loads((out / "gradcam" / "index.json").read_text())
    assert index["method"] == "Score-CAM" and set(index["patients"]) == set(pids)
    with np.load(out / "gradcam" / "gradcam_maps.npz") as z:
        assert z["p03"].shape == (16, 16)
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    ck["config"]["tabular"] = ["radiomics"]
    torch.save(ck, tmp_path / "tab.pt")
    with pytest.raises(ConfigError, match="image-only"):
        run_gradcam(str(tmp_path / "tab.pt"), crops, str(tmp_path / "cam2"),
                    str(tmp_path / "folds.json"))
