"""The SLURM profile against a real single-node SLURM cluster (munged + slurmctld + slurmd).

CI starts the cluster with .ci/slurm/start.sh before pytest and stops it with stop.sh after;
without a cluster every test here skips with the reason. The tiny workflow in workflow/ has
four samples, two grouped per-sample steps each and one aggregation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "slurm"
TINY_SNAKEFILE = Path(__file__).resolve().parent / "workflow" / "Snakefile"
SAMPLES = ["s1", "s2", "s3", "s4"]


def expected_summary() -> str:
    """The tiny workflow's summary, computed independently of it."""
    items = [f"{s}\t{hashlib.sha256(s.encode()).hexdigest()[:16]}" for s in SAMPLES]
    sizes = [str(len(item) + 1) for item in items]  # each item file ends with a newline
    return "\t".join(items) + "\n" + "\n".join(sizes) + "\n"


@pytest.fixture()
def tiny(snakemake_in):
    """Run the tiny workflow with its working folder `workdir`."""
    def run(workdir: Path, *args: str):
        workdir.mkdir(parents=True, exist_ok=True)
        return snakemake_in("--snakefile", str(TINY_SNAKEFILE), *args, cwd=workdir)
    return run


def outputs(workdir: Path) -> dict[str, bytes]:
    """The workflow's results (not the `where` files that record which job ran a step)."""
    out = workdir / "out"
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.parent.name != "where"}


def test_profile_settings_exist_in_the_pinned_plugin():
    """Every slurm-* key of the profile is an option of the installed executor plugin."""
    from dataclasses import fields

    from snakemake_executor_plugin_slurm import ExecutorSettings

    profile = yaml.safe_load((PROFILE / "config.yaml").read_text(encoding="utf-8"))
    options = {f.name.replace("_", "-") for f in fields(ExecutorSettings)}
    keys = {k.removeprefix("slurm-") for k in profile if k.startswith("slurm-")}
    assert keys and keys <= options, sorted(keys - options)
    assert profile["executor"] == "slurm"
    # Without slurmdbd only squeue sees jobs finish; see the profile's comment.
    assert profile["slurm-status-command"] == "squeue"
    assert profile["set-resources"]["train_model"]["gpu"] == 1
    assert set(profile["groups"].values()) == set(profile["group-components"])


@pytest.mark.slurm
def test_tiny_workflow_runs_through_slurm_like_locally(slurm, tiny, tmp_path):
    local = tiny(tmp_path / "local", "--workflow-profile", "none", "--cores", "2")
    assert local.returncode == 0, local.stderr[-3000:]

    res = tiny(tmp_path / "slurm", *slurm.profile_args())
    assert res.returncode == 0, res.stderr[-5000:]
    jobs = slurm.submitted_jobs(res.stdout + res.stderr)
    # group-components bundles the 8 per-sample steps into one SLURM job; summarize is another.
    assert len(jobs) == 2, jobs

    where = tmp_path / "slurm" / "out" / "where"
    ran_in = {p.name: p.read_text().strip() for p in where.iterdir()}
    assert len(ran_in) == 9 and set(ran_in.values()) == set(jobs), ran_in
    assert {p.read_text().strip() for p in (tmp_path / "local/out/where").iterdir()} == {"local"}

    for jobid, log in jobs.items():
        record = slurm.job_record(jobid)
        assert record["JobState"] == "COMPLETED", record
        assert record["JobName"].startswith("hccer_")
        assert record["Comment"].startswith("rule_")
        assert log.is_file() and tmp_path / "slurm/logs/slurm" in log.parents
    group_job = ran_in["s1.make.txt"]
    assert slurm.job_record(group_job)["Comment"] == "rule_patient_ingest_make_item_measure_item"

    assert outputs(tmp_path / "slurm") == outputs(tmp_path / "local")
    assert (tmp_path / "slurm/out/summary.tsv").read_text() == expected_summary()


@pytest.mark.slurm
def test_failed_cluster_job_is_reported_and_rerun_completes_only_what_is_missing(
        slurm, tiny, tmp_path):
    work = tmp_path / "run"
    one_job_per_sample = ["--group-components", "patient_ingest=1"]

    first = tiny(work, *slurm.profile_args(), *one_job_per_sample, "--config", "fail=s2")
    assert first.returncode != 0
    log_out = first.stdout + first.stderr
    jobs = slurm.submitted_jobs(log_out)
    assert len(jobs) == 4, jobs  # one per sample; summarize never became ready
    failed = [j for j, log in jobs.items() if "injected failure for sample s2" in log.read_text()]
    assert len(failed) == 1, jobs
    failed_log = jobs[failed[0]]
    # The failure names the SLURM log, and SLURM itself recorded the job as failed.
    assert "Error in group patient_ingest" in log_out
    assert f"log: {failed_log} (check log file(s) for error details)" in log_out
    assert slurm.job_record(failed[0])["JobState"] == "FAILED"

    out = work / "out"
    done = ["s1", "s3", "s4"]
    for s in done:  # --keep-going (from the profile) let the other samples finish
        assert (out / "measure" / f"{s}.txt").is_file()
    assert not (out / "item" / "s2.txt").exists() and not (out / "summary.tsv").exists()
    stamps = {p: p.stat().st_mtime_ns for s in done for p in out.glob(f"*/{s}*.txt")}

    second = tiny(work, *slurm.profile_args(), *one_job_per_sample)
    assert second.returncode == 0, second.stderr[-5000:]
    rerun = slurm.submitted_jobs(second.stdout + second.stderr)
    assert len(rerun) == 2, rerun  # sample s2's group and the summary, nothing else
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (out / "where" / "s2.measure.txt").read_text().strip() in rerun
    assert (out / "where" / "summary.txt").read_text().strip() in rerun
    assert (out / "summary.tsv").read_text() == expected_summary()


def _study_overrides(root: Path) -> list[str]:
    import json

    return ["--config", "study=phase_attention", f"results={root}/results",
            f"private={root}/private",
            "data=" + json.dumps({"source": "synthetic", "synthetic": {
                "n": 4, "seed": 5, "matrix": 96, "root": f"{root}/synthetic"}})]


@pytest.mark.slurm
@pytest.mark.slow
def test_small_study_runs_through_slurm_like_locally(slurm, snakemake_in, tmp_path,
                                                     project_root):
    """The real study DAG on a 4-patient synthetic twin, through the profile, equals a local run.

    Targets stop before registration: ANTs registration is not bit-reproducible from run to
    run, so its outputs could not be compared byte for byte.
    """
    import csv

    from hccer.paths import Layout

    study = yaml.safe_load((project_root / "config/studies/phase_attention.yaml").read_text())
    key = study.get("key", "phase_attention")

    def targets(root: Path) -> list[str]:
        layout = Layout(f"{root}/results", key)
        wanted = [layout.cohort("screen.tsv"), layout.cohort("outcome.tsv")]
        screen = Path(layout.cohort("screen.tsv"))
        if screen.is_file():  # second pass: every screened patient's resampled phases
            with screen.open(newline="", encoding="utf-8") as f:
                pids = [r["patient"] for r in csv.DictReader(f, delimiter="\t") if r["ok"] == "True"]
            wanted += [layout.deriv(pid, phase=ph, desc="resampled")
                       for pid in pids for ph in study["phases"]]
        return wanted

    local, remote = tmp_path / "local", tmp_path / "slurm"
    for _ in range(2):
        res = snakemake_in("--workflow-profile", "none", "--cores", "2", *targets(local),
                           *_study_overrides(local), cwd=project_root, timeout=900)
        assert res.returncode == 0, res.stderr[-5000:]
    wanted = [Path(t).relative_to(local) for t in targets(local)]
    assert len(wanted) > 2 and all((local / w).is_file() for w in wanted)

    res = snakemake_in(*slurm.profile_args(), "--slurm-logdir", str(tmp_path / "slurm_logs"),
                       *[str(remote / w) for w in wanted], *_study_overrides(remote),
                       cwd=project_root, timeout=900)
    assert res.returncode == 0, res.stderr[-5000:]
    jobs = slurm.submitted_jobs(res.stdout + res.stderr)
    assert len(jobs) >= 4, jobs
    comments = set()
    for jobid, log in jobs.items():
        record = slurm.job_record(jobid)
        assert record["JobState"] == "COMPLETED", record
        assert log.is_file()
        comments.add(record["Comment"])
    # The per-patient steps ran as grouped SLURM jobs, as the profile asks.
    assert any(c.startswith("rule_patient_ingest") for c in comments), comments
    assert any(c.startswith("rule_patient_preprocess") for c in comments), comments

    for w in wanted:
        assert (remote / w).read_bytes() == (local / w).read_bytes(), w
