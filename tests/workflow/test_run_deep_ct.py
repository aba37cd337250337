"""Tiny real runs through Snakemake: the 2D CT presets' networks train 1 epoch on a small
synthetic twin, write ledger parts, and the gathered ledger holds their rows. The 3D CNN of
ct_3dcnn trains inside the full-workflow run of tests/workflow/test_run_ct_3dcnn.py."""

import json
from pathlib import Path

import pandas as pd
import pytest
from snakerun import DEMO

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DEEP_TINY = {"device": "cpu", "resources": {"threads": 1, "mem_mb": 2000}}
CASES = {
    "phase_attention": (8, {
        "split": {"n_folds": 2}, "crop": {"size": [32, 32]},
        "deep": dict(DEEP_TINY, run=["r18_br3_dpa_fusD_joint", "r18_single_ART"],
                     defaults={"epochs": 1, "batch_size": 4},
                     experiments={"r18_br3": {"net": {"width": 4}}})}),
    "deep_fusion": (8, {
        "split": {"n_folds": 2}, "crop": {"size": [32, 32]},
        "deep": dict(DEEP_TINY, run=["r50_stack3_fusD_joint", "r50_stack3_fusA"],
                     defaults={"epochs": 1},
                     experiments={"r50_stack3": {"net": {"width": 4}}})}),
}


@pytest.mark.parametrize("study", list(CASES))
def test_tiny_training_run_writes_ledger_rows(run_snakemake, tmp_path, study):
    n, overrides = CASES[study]

    def config(over):
        return [*DEMO, "--directory", str(tmp_path), "--config", f"study={study}",
                f"results={tmp_path}/results", f"private={tmp_path}/private",
                "data=" + json.dumps({"source": "synthetic", "synthetic": {
                    "n": n, "seed": 11, "matrix": 96, "root": f"{tmp_path}/synthetic"}}),
                "study_overrides=" + json.dumps(over)]

    args = ["--cores", "2", *config(overrides)]
    root = tmp_path / "results" / study
    n_folds = 2
    # this track's targets only: other tracks' models are not under test here
    targets = [str(root / "ledger" / "parts" / f"dl_{m}_fold-{k}_seed-0.csv")
               for m in overrides["deep"]["run"] for k in range(n_folds)]
    res = run_snakemake(*targets, *args, cwd=ROOT, timeout=1500)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    from hccer.ledger import read_ledger

    ledger = pd.concat([read_ledger(t) for t in targets if t.endswith(".csv")])
    folds = json.loads((root / "cohort" / "folds.json").read_text())
    for model in overrides["deep"]["run"]:
        rows = ledger[ledger.model == model]
        tested = sorted(p for f in folds["folds"] for p in f["test"])
        assert sorted(rows[rows.cohort == "test"].patient) == tested
        assert rows.score.between(0, 1).all()
        for f in folds["folds"]:
            job = root / "models" / model / f"fold-{f['fold']}_seed-0"
            assert (job / "history.tsv").is_file() and (job / "curves.png").is_file()
            assert not list(job.glob("resume-*.pt"))
            summary = json.loads((job / "summary.json").read_text())
            assert summary["provenance"]["threads"] == 1

    # torch's thread count changes the arithmetic, so a job takes the configured count even
    # where --cores is smaller: a dry rerun at --cores 1 with 3 configured threads asks for 3
    three = dict(overrides, deep=dict(overrides["deep"], resources={"threads": 3}))
    dry = run_snakemake(targets[0], "-n", "-p", "--forcerun", "train_model", "--cores", "1",
                        *config(three), cwd=ROOT, timeout=600)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    commands = [ln for ln in (dry.stdout + dry.stderr).splitlines() if " train --study " in ln]
    assert commands and all("--threads 3" in ln for ln in commands), commands
