"""A tiny Snakemake run of the IVIM track: twin -> triage -> NIfTI -> fit_ivim -> feature table."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_ivim_track_runs_through_snakemake(project_root, tmp_path):
    n = 10
    results = tmp_path / "results"
    target = results / "ivim_vit" / "cohort" / "ivim_features.tsv"
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    args = [str(bindir / "snakemake"), "-s", str(project_root / "Snakefile"), "--cores", "2",
            "--directory", str(tmp_path), "--config", "study=ivim_vit", f"results={results}",
            f"private={tmp_path}/private",
            "data=" + json.dumps({"source": "synthetic", "synthetic": {
                "n": n, "seed": 11, "matrix": 96, "root": f"{tmp_path}/synthetic"}}),
            "study_overrides=" + json.dumps({"split": {"inner_folds": 2}}),
            "--", str(target)]
    res = subprocess.run(args, cwd=project_root, env=env, text=True, capture_output=True,
                         timeout=900, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    with open(target, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    with open(results / "ivim_vit" / "qc" / "registration_gate.tsv", newline="") as f:
        gated = sorted(r["patient"] for r in csv.DictReader(f, delimiter="\t")
                       if r["ok"] == "True")
    assert [r["patient"] for r in rows] == gated and len(rows) >= n - 2
    for r in rows:
        assert 0.2 < float(r["D"]) < 3.0 and 0.0 <= float(r["f"]) <= 1.0
        assert float(r["ADC"]) > 0 and r["D_r2"]
        maps = results / "ivim_vit" / "derivatives" / f"sub-{r['patient']}"
        for name in ("ADC", "D", "Dstar", "f"):
            assert (maps / f"sub-{r['patient']}_phase-DWI_desc-{name}_map.nii.gz").is_file()
    icc = json.loads((results / "ivim_vit" / "cohort" / "ivim_icc.json").read_text())
    assert icc["cohort"] == "train" and icc["parameters"]["D"]["n"] >= 2


def _dry_run(project_root, tmp_path, study):
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    args = [str(bindir / "snakemake"), "-s", str(project_root / "Snakefile"), "-n", "--quiet",
            "rules", "--directory", str(tmp_path), "--config", f"study={study}",
            f"results={tmp_path}/results", f"private={tmp_path}/private",
            "data=" + json.dumps({"source": "synthetic", "synthetic": {
                "n": 4, "seed": 5, "matrix": 96, "root": f"{tmp_path}/synthetic"}})]
    return subprocess.run(args, cwd=project_root, env=env, text=True, capture_output=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("study, present", [("ivim_vit", True), ("phase_attention", False)])
def test_ivim_rules_only_for_dwi_studies(project_root, tmp_path, study, present):
    res = _dry_run(project_root, tmp_path, study)
    assert res.returncode == 0, res.stderr[-3000:]
    assert ("gather_ivim_features" in res.stdout + res.stderr) is present
