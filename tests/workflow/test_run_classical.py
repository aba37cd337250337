"""A tiny real run of the radiomics + clinical track through Snakemake (phase_attention preset:
2D slice radiomics -> LassoCV -> RF, clinical RF on the 9-element vector), checking that the
ledger parts validate and hold out-of-fold rows for every included patient."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from snakerun import DEMO

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_tiny_phase_attention_track(tmp_path):
    from hccer.ledger import read_ledger

    study = "phase_attention"
    root = tmp_path / "results" / study
    targets = [str(root / "ledger" / "parts" / f"{m}_fold-{k}.csv")
               for m in ("radiomics", "clinical") for k in (0, 1)]
    args = ["--cores", "2", *DEMO, "--directory", str(tmp_path), "--config", f"study={study}",
            f"results={tmp_path}/results", f"private={tmp_path}/private",
            "data=" + json.dumps({"source": "synthetic", "synthetic": {
                "n": 12, "seed": 11, "matrix": 96, "root": f"{tmp_path}/synthetic"}}),
            "study_overrides=" + json.dumps({"split": {"n_folds": 2},
                                             "radiomics": {"neighbours": 1},
                                             "classical": {"selection": [
                                                 {"step": "anova", "k": 5}]}}),
            "--", *targets]
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    res = subprocess.run([str(BIN / "snakemake"), *args], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=2400, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    folds = json.loads((root / "cohort" / "folds.json").read_text())
    patients = {p for f in folds["folds"] for p in f["test"]}
    for model in ("radiomics", "clinical"):
        parts = [read_ledger(root / "ledger" / "parts" / f"{model}_fold-{k}.csv")
                 for k in (0, 1)]
        main = [p[p["model"] == model if model == "clinical" else p["model"] ==
                  "radiomics_rf"] for p in parts]
        assert {pid for p in main for pid in p["patient"]} == patients
        assert all(set(p["cohort"]) == {"test"} for p in parts)
        assert any(p["model"].str.endswith("_perm").any() for p in parts)
    rec = json.loads((root / "models" / "classical" / "fold-0_radiomics.json").read_text())
    assert 1 <= len(rec["selected"]) <= 5 and rec["selected"][0].split("_")[0] in (
        "NC", "ART", "PV")
