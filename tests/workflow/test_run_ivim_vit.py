"""A tiny Snakemake run of the IVIM study: twin -> triage -> NIfTI -> fit_ivim -> feature table,
and on the same run the ViTs: b-value and map crops -> one ViT per inner fold (1 epoch) ->
CLS features -> bDL / mDL / fDL, combined and permutation models -> ledger, Grad-CAM."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from snakerun import DEMO

# 16^3 crops, hidden-32 ViTs for one epoch on two inner folds: every rule of the track runs
VIT_TINY = {"split": {"inner_folds": 2}, "crop": {"size": [16, 16, 16]},
            "deep": {"device": "cpu", "resources": {"threads": 1, "mem_mb": 2000},
                     "defaults": {"epochs": 1, "batch_size": 4},
                     "experiments": {"vit_b": {"net": {"size": "tiny", "patch": 8}}}},
            "vit": {"k": 4}}
VIT_MODELS = ["vit_bdl", "vit_mdl", "vit_fdl", "combined", "clinical"]


@pytest.mark.slow
def test_ivim_track_runs_through_snakemake(project_root, tmp_path):
    n = 10
    results = tmp_path / "results"
    root = results / "ivim_vit"
    target = root / "cohort" / "ivim_features.tsv"
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    args = [str(bindir / "snakemake"), "-s", str(project_root / "Snakefile"), "--cores", "2",
            *DEMO, "--directory", str(tmp_path), "--config", "study=ivim_vit", f"results={results}",
            f"private={tmp_path}/private",
            "data=" + json.dumps({"source": "synthetic", "synthetic": {
                "n": n, "seed": 11, "matrix": 96, "root": f"{tmp_path}/synthetic"}}),
            "study_overrides=" + json.dumps(VIT_TINY)]
    res = subprocess.run(args, cwd=project_root, env=env, text=True, capture_output=True,
                         timeout=1500, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    with open(target, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    with open(root / "qc" / "registration_gate.tsv", newline="") as f:
        gated = sorted(r["patient"] for r in csv.DictReader(f, delimiter="\t")
                       if r["ok"] == "True")
    assert [r["patient"] for r in rows] == gated and len(rows) >= n - 2
    for r in rows:
        assert 0.2 < float(r["D"]) < 3.0 and 0.0 <= float(r["f"]) <= 1.0
        assert float(r["ADC"]) > 0 and r["D_r2"]
        maps = root / "derivatives" / f"sub-{r['patient']}"
        for name in ("ADC", "D", "Dstar", "f"):
            assert (maps / f"sub-{r['patient']}_phase-DWI_desc-{name}_map.nii.gz").is_file()
    icc = json.loads((root / "cohort" / "ivim_icc.json").read_text())
    assert icc["cohort"] == "train" and icc["parameters"]["D"]["n"] >= 2
    _check_vit_outputs(root, gated)


def _check_vit_outputs(root: Path, gated: list[str]) -> None:
    from hccer.ledger import read_ledger

    folds = json.loads((root / "cohort" / "folds.json").read_text())
    train, test = sorted(folds["folds"][0]["train"]), sorted(folds["folds"][0]["test"])
    for pid in gated:
        crop = root / "crops" / f"sub-{pid}"
        assert np.load(crop / f"sub-{pid}_desc-bbox3d.npz")["x"].shape == (9, 16, 16, 16)
        maps = np.load(crop / f"sub-{pid}_desc-ivimmaps.npz")
        assert maps["maps"].shape == (4, 16, 16, 16) and maps["mask"].any()
    for exp in ("vit_b", "vit_m", "vit_b_perm", "vit_m_perm"):
        aucs = {}
        for k in (0, 1):
            job = root / "models" / exp / f"inner-{k}_seed-0"
            summary = json.loads((job / "summary.json").read_text())
            assert summary["epochs_run"] == 1 and summary["permuted_labels"] == exp.endswith(
                "perm")
            assert (job / "curves.png").is_file() and not list(job.glob("resume*.pt"))
            aucs[k] = summary["val_auc"]
        chosen = json.loads((root / "models" / exp / "seed-0_extractor.json").read_text())
        best = max(aucs, key=lambda k: (-1 if aucs[k] is None else aucs[k], -k))
        assert chosen["chosen_inner_fold"] == best
        feats = pd.read_csv(root / "models" / exp / "seed-0_features.tsv", sep="\t")
        assert sorted(feats.patient) == sorted(train + test) and feats.shape[1] == 2 + 32
    ledger = read_ledger(root / "ledger" / "ledger.csv")
    for model in VIT_MODELS:
        for cohort, pids in (("train", train), ("test", test)):
            rows = ledger[(ledger.model == model) & (ledger.cohort == cohort)]
            assert sorted(rows.patient) == pids, (model, cohort)
            assert rows.score.between(0, 1).all()
    for model in ("vit_bdl_perm", "vit_mdl_perm", "vit_fdl_perm"):
        rows = ledger[ledger.model == model]
        assert set(rows.cohort) == {"test"} and sorted(rows.patient) == test
    record = json.loads((root / "models" / "vit_models" / "seed-0_record.json").read_text())
    assert len(record["vit_fdl"]["selected"]) == 4
    assert record["vit_fdl"]["counts"]["start"] == 64
    assert set(record["combined"]["clinical"]) == {"tumor_size_cm", "D"}
    cams = root / "models" / "vit_b" / "seed-0_gradcam"
    assert sorted(p.name for p in cams.glob("sub-*_gradcam.png")) == [
        f"sub-{p}_gradcam.png" for p in test]
    assert sorted(json.loads((cams / "index.json").read_text())["patients"]) == test


def _dry_run(project_root, tmp_path, study):
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    args = [str(bindir / "snakemake"), "-s", str(project_root / "Snakefile"), "-n", "--quiet",
            "rules", *DEMO, "--directory", str(tmp_path), "--config", f"study={study}",
            f"results={tmp_path}/results", f"private={tmp_path}/private",
            "data=" + json.dumps({"source": "synthetic", "synthetic": {
                "n": 4, "seed": 5, "matrix": 96, "root": f"{tmp_path}/synthetic"}})]
    return subprocess.run(args, cwd=project_root, env=env, text=True, capture_output=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("study, present", [("ivim_vit", True), ("phase_attention", False)])
def test_ivim_rules_only_for_dwi_studies(project_root, tmp_path, study, present):
    res = _dry_run(project_root, tmp_path, study)
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert ("gather_ivim_features" in out) is present
    assert all((rule in out) is present for rule in ("train_vit", "fit_vit_models"))
