"""config/paper_size.yaml: merged over the default config the way Snakemake merges config files,
it drops the demo-size settings so every preset runs with its paper's settings."""

import json

import pytest
from hccer.config import load_study, load_yaml, validate
from hccer.synth.twins import load_twin
from reportdata import PRESETS


def merged(root, study, *extra):
    from snakemake.utils import update_config

    cfg = load_yaml(root / "config" / "config.yaml")
    for layer in extra:
        update_config(cfg, layer)
    update_config(cfg, {"study": study})
    validate(cfg, root / "config" / "schemas" / "config.schema.yaml", "config")
    return cfg


@pytest.mark.parametrize("key", PRESETS)
def test_paper_size_config_gives_the_presets_own_settings(project_root, key):
    paper = load_yaml(project_root / "config" / "paper_size.yaml")
    n = load_twin(key)["paper_n"]
    cfg = merged(project_root, key, paper, {"data": {"synthetic": {"n": n}}})
    study = load_study(cfg, project_root)
    preset = load_yaml(project_root / "config" / "studies" / f"{key}.yaml")
    assert study["crop"] == preset["crop"]
    assert study.get("deep") == preset.get("deep")
    assert cfg["data"]["synthetic"]["n"] == n and cfg["data"]["source"] == "synthetic"
    assert (
        cfg["data"]["synthetic"]["seed"]
        == load_yaml(project_root / "config" / "config.yaml")["data"]["synthetic"]["seed"]
    )


@pytest.mark.slow
def test_paper_size_dry_run_plans_the_paper_cohort(project_root, tmp_path):
    from snakerun import snakemake

    res = snakemake(
        "-n",
        "--quiet",
        "rules",
        "--directory",
        str(tmp_path),
        "--configfile",
        str(project_root / "config" / "paper_size.yaml"),
        "--config",
        "study=ct_3dcnn",
        f"results={tmp_path}/results",
        f"private={tmp_path}/private",
        "data=" + json.dumps({"synthetic": {"n": 220, "root": f"{tmp_path}/syn"}}),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "triage_patient              220" in out
    assert "compare_published" in out and "write_tripod_checklist" in out
