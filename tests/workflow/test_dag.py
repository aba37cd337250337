"""Dry-run DAG tests over the five presets and config variants, and bad-config messages."""

import json

import pytest
from snakerun import DEMO

PRESETS = ["phase_attention", "deep_fusion", "cemri_dlrcr", "ivim_vit", "ct_3dcnn"]


def overrides(tmp_path, study, n=8):
    # Own working directory per test: Snakemake locks its working directory.
    return [*DEMO, "--directory", str(tmp_path), "--config", f"study={study}", f"results={tmp_path}/results",
            f"private={tmp_path}/private",
            "data=" + json.dumps({"source": "synthetic", "synthetic": {
                "n": n, "seed": 5, "matrix": 96, "root": f"{tmp_path}/synthetic"}})]


@pytest.mark.parametrize("study", PRESETS)
def test_dry_run_builds_the_dag(run_snakemake, tmp_path, study):
    res = run_snakemake("-n", "--quiet", "rules", *overrides(tmp_path, study))
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "synthesize_cohort" in out and "triage_patient" in out and "derive_outcome" in out


def test_bad_config_gives_one_clear_message(run_snakemake, tmp_path):
    res = run_snakemake("-n", *overrides(tmp_path, "phase_attention"), "registration={type: Elastic}")
    assert res.returncode != 0
    assert "`registration.type`: 'Elastic' is not one of" in res.stdout + res.stderr


def test_unknown_study_is_named(run_snakemake, tmp_path):
    res = run_snakemake("-n", *overrides(tmp_path, "phase_atention"))
    assert res.returncode != 0
    assert "'phase_atention' is not one of" in res.stdout + res.stderr
