"""A tiny real run of the cemri_dlrcr preset through Snakemake: synthetic CE-MRI twin ->
registration to AP -> 3-slice crops -> hold-out split with inner folds -> radiomics and CR
models -> ResNet-10/18/34, DLRCR (best ResNet's trunk + selected radiomics + CR variables) and
the permutation control, 1 epoch each, with train and test ledger rows."""

import json
from pathlib import Path

import pandas as pd
import pytest
from snakerun import DEMO

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
MODELS = ["resnet10", "resnet18", "resnet34", "dlrcr", "resnet10_perm"]
# 2 inner folds (a 12-patient twin has too few per class for 5); original-image radiomics
# (107 features per phase) and ANOVA top 5 instead of the ICC -> t/MWU -> LASSO funnel, so no
# second-reader extraction runs; 32 px crops, width 4, 1 epoch
TINY = {"split": {"inner_folds": 2}, "crop": {"size": [32, 32]},
        "radiomics": {"params": "cemri_dlrcr_demo", "features_per_phase": 107},
        "classical": {"selection": [{"step": "anova", "k": 5}]},
        "deep": {"device": "cpu", "resources": {"threads": 1, "mem_mb": 2000},
                 "defaults": {"epochs": 1, "batch_size": 8,
                              "early_stopping": {"patience": 1, "monitor": "val_auc"}},
                 "experiments": {"resnet18": {"net": {"width": 4}}}}}


def test_tiny_cemri_run_trains_every_network(run_snakemake, tmp_path):
    from hccer.ledger import read_ledger

    study = "cemri_dlrcr"
    root = tmp_path / "results" / study
    targets = [str(root / "ledger" / "parts" / f"dl_{m}_fold-0_seed-0.csv") for m in MODELS]
    args = ["--cores", "2", *DEMO, "--directory", str(tmp_path), "--config", f"study={study}",
            f"results={tmp_path}/results", f"private={tmp_path}/private",
            "data=" + json.dumps({"source": "synthetic", "synthetic": {
                "n": 12, "seed": 11, "matrix": 96, "root": f"{tmp_path}/synthetic"}}),
            "study_overrides=" + json.dumps(TINY)]
    table3 = root / "tables" / "table3.json"          # the CR model's odds ratios
    res = run_snakemake(*targets, str(table3), *args, cwd=ROOT, timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    folds = json.loads((root / "cohort" / "folds.json").read_text())
    train, test = sorted(folds["folds"][0]["train"]), sorted(folds["folds"][0]["test"])
    ledger = pd.concat([read_ledger(t) for t in targets])
    for model in MODELS:
        rows = ledger[ledger.model == model]
        assert sorted(rows[rows.cohort == "train"].patient) == train, model
        assert sorted(rows[rows.cohort == "test"].patient) == test, model
        assert rows.score.between(0, 1).all()
        job = root / "models" / model / "fold-0_seed-0"
        assert (job / "history.tsv").is_file() and (job / "curves.png").is_file()
        assert not list(job.glob("resume-*.pt"))
    summaries = {m: json.loads((root / "models" / m / "fold-0_seed-0" / "summary.json")
                               .read_text()) for m in MODELS}
    inner0 = folds["inner_folds"][0]["validation"]
    assert all(s["n_inner_val_patients"] == len(inner0) for s in summaries.values())
    # DLRCR: the trunk of the ResNet with the best inner-validation AUC, the radiomics
    # features the funnel selected on the training cohort and the CR model's variables
    d = summaries["dlrcr"]
    cands = {c["experiment"]: c["inner_val_auc"] for c in d["backbone_from"]["candidates"]}
    assert cands == {m: summaries[m]["inner_val_auc"] for m in MODELS[:3]}
    assert d["config"]["net"]["backbone"] == d["backbone_from"]["experiment"]
    classical = root / "models" / "classical"
    rad = json.loads((classical / "fold-0_radiomics.json").read_text())["selected"]
    cr = json.loads((classical / "fold-0_cr.json").read_text())["selected"]
    t3 = json.loads(table3.read_text())
    assert len(t3["values"]) == 18
    assert {v["variable"] for v in t3["values"] if v["multivariable"]} == set(cr)
    assert d["tabular_columns"] == rad + cr and 1 <= len(rad) <= 5 and cr

    # An experiment's learning rate is in the `deep` study view only: the dry run after the
    # edit retrains networks and nothing that came before them or beside them.
    import re

    lr = json.loads(json.dumps(TINY))
    lr["deep"]["experiments"]["resnet18"]["lr"] = 0.05
    res = run_snakemake(*targets, str(table3), *args[:-1], "study_overrides=" + json.dumps(lr),
                        "-n", "--quiet", "rules", cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = set(re.findall(r"^(\w+)\s+\d+$", res.stdout + res.stderr, flags=re.M)) - {"total"}
    assert {"write_study_view", "train_model"} <= jobs, jobs
    before = set()
    for smk in ("synth", "ingest", "preprocess", "cohort", "radiomics", "classical"):
        before |= set(re.findall(r"^\s*(?:rule|checkpoint) (\w+):",
                                 (ROOT / "rules" / f"{smk}.smk").read_text(), flags=re.M))
    assert {"triage_patient", "crop_patient", "fit_clinical_model"} <= before
    assert not jobs & before, jobs & before
