import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hccer.cohort.status import combine, summary_markdown
from hccer.config import check_cross_fields, load_study, validate
from hccer.errors import ConfigError
from hccer.ids import check_patient_code, pseudonymise
from hccer.ingest.screen import screen_records


@pytest.fixture()
def cfg(project_root):
    with open(project_root / "config" / "config.yaml") as f:
        return yaml.safe_load(f)


def schema(project_root):
    return project_root / "config" / "schemas" / "config.schema.yaml"


def test_default_config_and_every_preset_validate(cfg, project_root):
    validate(cfg, schema(project_root), "config")
    for path in sorted((project_root / "config" / "studies").glob("*.yaml")):
        c = dict(cfg, study=path.stem)
        study = load_study(c, project_root)
        assert study["key"] == path.stem


@pytest.mark.parametrize("mutate, needle", [
    (lambda c: c.update(stduy="x"), "unknown key(s) under `(top level)`"),
    (lambda c: c.update(study="nope"), "`study`: 'nope' is not one of"),
    (lambda c: c["registration"].update(type="Elastic"), "`registration.type`"),
    (lambda c: c["preprocess"].update(spacing_mm=[1, 1]), "`preprocess.spacing_mm`"),
    (lambda c: c["data"]["synthetic"].update(n=2), "`data.synthetic.n`"),
    (lambda c: c["data"]["synthetic"].update(strength=0), "`data.synthetic.strength`"),
    (lambda c: c.update(results="out dir"), "`results`"),
])
def test_bad_config_gives_one_clear_message(cfg, project_root, mutate, needle):
    bad = copy.deepcopy(cfg)
    mutate(bad)
    with pytest.raises(ConfigError) as exc:
        validate(bad, schema(project_root), "config")
    assert needle in str(exc.value)


def test_cross_field_rules(cfg):
    study = {"key": "s", "phases": ["ART"], "reference_phase": "PV", "mask_phases": ["ART"],
             "split": {"method": "kfold", "n_folds": 5}}
    with pytest.raises(ConfigError, match="reference_phase PV is not in phases"):
        check_cross_fields(cfg, study)
    study.update(reference_phase="ART", split={"method": "holdout_date"})
    with pytest.raises(ConfigError, match="split.date_cutoff is required"):
        check_cross_fields(cfg, study)


def test_pseudonyms_are_keyed_and_stable():
    a = pseudonymise("HCC0001", "salt-one-xx")
    assert a == pseudonymise("HCC0001", "salt-one-xx")
    assert a != pseudonymise("HCC0001", "salt-two-xx")
    assert a != pseudonymise("HCC0002", "salt-one-xx")
    assert len(a) == 11 and a.startswith("p")
    # HMAC-SHA256 reference computed independently with the standard library
    import hashlib
    import hmac
    ref = hmac.new(b"k" * 8, b"X", hashlib.sha256).hexdigest()[:10]
    assert pseudonymise("X", "k" * 8) == "p" + ref


def test_patient_code_rules():
    assert check_patient_code("HCC-0001_a.b") is None
    assert "spaces" in check_patient_code("HCC 1")
    assert "non-ASCII" in check_patient_code("Çağ")
    assert "empty" in check_patient_code("")


def test_status_keeps_first_failure_and_counts():
    screen = screen_records([
        {"patient": "p1", "ok": True, "problems": [], "warnings": ["2 tumour components"]},
        {"patient": "p2", "ok": False, "problems": [{"file": "SE1/IM3.dcm",
                                                      "reason": "truncated pixel data"}]},
        {"patient": "p3", "ok": True, "problems": []},
    ])
    gate = pd.DataFrame({"patient": ["p1", "p3"], "step": "registration", "ok": [True, False],
                         "reason": ["", "phase ART: NCC 0.1 < 0.3"], "warnings": ""})
    table = combine([screen, gate], ["p1", "p2", "p3"]).set_index("patient")
    assert table.loc["p1", "status"] == "included"
    assert "2 tumour components" in table.loc["p1", "warnings"]
    assert table.loc["p2", "step"] == "ingest"
    assert "[SE1/IM3.dcm] truncated pixel data" == table.loc["p2", "reason"]
    assert table.loc["p3", "step"] == "registration"
    md = summary_markdown(table.reset_index(), "demo")
    assert "- excluded: 2" in md and "| registration | phase ART: NCC 0.1 < 0.3 | 1 |" in md


def test_summary_groups_reasons_by_kind_and_keeps_their_text():
    table = pd.DataFrame({
        "patient": ["p1", "p2", "p3"], "status": "excluded", "step": "ingest", "warnings": "",
        "reason": ["[m1.nii.gz] labels other than 0/1: 2", "[m2.nii.gz] labels other than 0/1: 3",
                   "missing phase ART"]})
    md = summary_markdown(table, "demo")
    assert "| ingest | [m1.nii.gz] labels other than 0/1: 2 (and 1 similar) | 2 |" in md
    assert "| ingest | missing phase ART | 1 |" in md and "N/N" not in md


def test_provenance_keeps_no_argument_values():
    from hccer.jsonio import command_flags

    argv = ["/opt/x/bin/hccer", "--log", "r/l.log", "convert", "dicom/MRN123/SE1", "o.nii.gz",
            "--patient", "p1", "--sidecar=o.json", "--verbose"]
    assert command_flags(argv) == ["hccer", "--log", "convert", "--patient", "--sidecar",
                                   "--verbose"]


def test_command_line_strings_are_coerced_to_schema_types():
    from hccer.config import coerce

    schema = {"type": "object", "properties": {
        "n": {"type": "integer"}, "ok": {"type": "boolean"}, "x": {"type": ["number", "null"]},
        "name": {"type": "string"},
        "runs": {"type": "object", "additionalProperties": {
            "type": "object", "properties": {"epochs": {"type": "integer"}}}}}}
    got = coerce({"n": "24", "ok": "true", "x": "null", "name": "007",
                  "runs": {"a": {"epochs": "3"}}}, schema)
    assert got == {"n": 24, "ok": True, "x": None, "name": "007", "runs": {"a": {"epochs": 3}}}


def test_an_experiments_lr_from_the_command_line_is_a_number(cfg, project_root):
    # Snakemake reads nested --config values as strings; deep.experiments.<name> is typed by a
    # $ref to deep.defaults, which coercion follows
    c = copy.deepcopy(cfg)
    c["study"] = "cemri_dlrcr"
    c["study_overrides"] = {"deep": {"experiments": {"resnet18": {"lr": "0.05",
                                                                  "epochs": "2"}}}}
    exp = load_study(c, project_root)["deep"]["experiments"]["resnet18"]
    assert exp["lr"] == 0.05 and exp["epochs"] == 2


def test_demo_settings_apply_to_their_study_only(cfg, project_root):
    c = copy.deepcopy(cfg)
    c["demo"] = {"ct_3dcnn": {"split": {"inner_folds": 2}}}
    c["study_overrides"] = {"outcome": {"min_followup_days": 700}}
    ct = load_study(dict(c, study="ct_3dcnn"), project_root)
    assert ct["split"]["inner_folds"] == 2 and ct["outcome"]["min_followup_days"] == 700
    iv = load_study(dict(c, study="ivim_vit"), project_root)
    assert iv["split"]["inner_folds"] == 5
    c["demo"] = {"ct_3dcnn": {"split": {"inner_folds": "two"}}}
    with pytest.raises(ConfigError, match="with demo settings"):
        load_study(dict(c, study="ct_3dcnn"), project_root)


def demo_config(project_root):
    from hccer.config import merged_config

    return merged_config([project_root / "config" / "demo.yaml"], project_root)


def test_demo_config_shrinks_every_deep_preset(cfg, project_root):
    """config/demo.yaml gives every preset that trains networks smaller crops and at most 40
    epochs, else `bash bootstrap.sh demo --config study=<key>` trains at paper size for hours."""
    import math

    demo_cfg = demo_config(project_root)
    assert demo_cfg["data"]["source"] == "synthetic"
    for path in sorted((project_root / "config" / "studies").glob("*.yaml")):
        demo = load_study(dict(demo_cfg, study=path.stem), project_root)
        if not demo.get("deep"):
            continue
        full = load_study(dict(cfg, study=path.stem), project_root)
        assert math.prod(demo["crop"]["size"]) < math.prod(full["crop"]["size"]), path.stem
        assert int(demo["deep"]["defaults"]["epochs"]) <= 40, path.stem


def test_a_cohort_config_naming_data_study_and_salt_gets_the_presets_own_settings(
        cfg, project_root, tmp_path):
    """The default config carries no demo block: a user's file that names only its data, the
    study and a salt file trains what the preset says, merged as Snakemake merges it."""
    from hccer.config import demo_settings, merged_config
    from snakemake.utils import update_config

    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({
        "study": "cemri_dlrcr", "pseudonym_salt_file": "private/salt",
        "data": {"source": "cohort", "cohort": {"dicom_root": "d", "clinical": "c.csv",
                                                "masks": "m.tsv"}}}))
    merged = merged_config([mine], project_root)
    expected = copy.deepcopy(cfg)
    update_config(expected, yaml.safe_load(mine.read_text()))
    assert merged == expected                     # the merge Snakemake does
    assert "demo" not in merged and demo_settings(merged) == {}
    study = load_study(merged, project_root)
    preset = yaml.safe_load((project_root / "config" / "studies" / "cemri_dlrcr.yaml").read_text())
    assert study["crop"] == preset["crop"] and study["deep"] == preset["deep"]
    assert study["radiomics"]["params"] == preset["radiomics"]["params"]


def test_demo_settings_are_refused_for_a_cohort(project_root):
    from hccer.config import check_demo_source

    c = demo_config(project_root)
    check_demo_source(c)                          # the twin: fine
    c["data"]["source"] = "cohort"
    with pytest.raises(ConfigError, match="demo block .* is for the synthetic twin only"):
        check_demo_source(c)


def test_retired_keys_say_what_replaces_them(cfg):
    from hccer.config import check_retired_keys

    check_retired_keys(cfg)
    with pytest.raises(ConfigError, match="pseudonym_salt: .*pseudonym_salt_file"):
        check_retired_keys(dict(cfg, pseudonym_salt="x" * 20))
    with pytest.raises(ConfigError, match="overrides_by_study: .*config/demo.yaml"):
        check_retired_keys(dict(cfg, overrides_by_study={}))


def test_salt_comes_from_a_file_and_public_or_weak_ones_are_refused(cfg, tmp_path, monkeypatch):
    from hccer.errors import InputError
    from hccer.ids import SALT_ENV, TWIN_SALT, project_salt, salt_from_env, salt_id

    assert project_salt(cfg) == TWIN_SALT         # the twin without a file: its public salt
    cohort = copy.deepcopy(cfg)
    cohort["data"]["source"] = "cohort"
    with pytest.raises(ConfigError, match="pseudonym_salt_file is not set"):
        project_salt(cohort)
    f = tmp_path / "salt"
    cohort["pseudonym_salt_file"] = str(f)
    with pytest.raises(ConfigError, match="does not exist; make one with"):
        project_salt(cohort)
    for bad, why in (("short", "holds 5 characters"), (TWIN_SALT, "public demo salt")):
        f.write_text(bad + "\n")
        with pytest.raises(ConfigError, match=why) as err:
            project_salt(cohort)
        assert bad not in str(err.value)          # the message never quotes the salt
    f.write_text("  a-long-enough-secret-salt \n")
    assert project_salt(cohort) == "a-long-enough-secret-salt"
    # steps read it from the environment; the tag differs per salt and does not contain it
    monkeypatch.delenv(SALT_ENV, raising=False)
    with pytest.raises(InputError, match=SALT_ENV):
        salt_from_env()
    monkeypatch.setenv(SALT_ENV, "a-long-enough-secret-salt")
    assert salt_from_env() == "a-long-enough-secret-salt"
    assert salt_id("a-long-enough-secret-salt") != salt_id("another-long-secret-salt")
    assert len(salt_id("s" * 20)) == 12 and "s" * 5 not in salt_id("s" * 20)


def test_settings_statement_says_whether_demo_settings_were_in_force():
    from hccer.config import settings_statement

    assert settings_statement({"deep": {}, "crop": {}}).startswith(
        "Demo settings were in force (config/demo.yaml: crop, deep")
    assert "no demo settings" in settings_statement({})


def test_old_sheets_name_the_patient_code_patient_id(caplog):
    from hccer.errors import InputError
    from hccer.ids import code_column_renames

    assert code_column_renames(["patient_code", "age"], "clinical.csv") == {}
    with caplog.at_level("WARNING"):
        assert code_column_renames(["patient_id", "age"], "clinical.csv") == {
            "patient_id": "patient_code"}
    assert "clinical.csv" in caplog.text and "rename it" in caplog.text
    with pytest.raises(InputError, match="both 'patient_code' and 'patient_id'"):
        code_column_renames(["patient_id", "patient_code"], "masks.tsv")


def _cohort_file(tmp_path, cfg, **paths) -> Path:
    """A user's config file as the README says to write it: study, data, salt file."""
    salt = tmp_path / "salt"
    salt.write_text("check-config-test-salt-0a9\n")
    path = tmp_path / "cohort.yaml"
    path.write_text(yaml.safe_dump({"study": cfg["study"], "pseudonym_salt_file": str(salt),
                                    "data": {"source": "cohort", "cohort": paths}}))
    return path


def test_check_config_names_every_missing_cohort_input(cfg, project_root, tmp_path, capfd):
    from hccer.cli import main

    (tmp_path / "dicom" / "SITE01").mkdir(parents=True)
    path = _cohort_file(tmp_path, cfg, dicom_root=str(tmp_path / "dicom"),
                        clinical=str(tmp_path / "clinical.csv"), masks=str(tmp_path / "masks.tsv"),
                        manifest_override=str(tmp_path / "override.tsv"))
    (tmp_path / "clinical.csv").write_text("patient_code\n")
    assert main(["check-config", str(path), "--root", str(project_root)]) == 2
    err = capfd.readouterr().err
    assert f"data.cohort.masks: {tmp_path / 'masks.tsv'} is not a file" in err
    assert "data.cohort.manifest_override" in err and "dicom_root" not in err
    (tmp_path / "dicom" / "SITE01").rmdir()
    assert main(["check-config", str(path), "--root", str(project_root)]) == 2
    assert "holds no patient folder" in capfd.readouterr().err


def test_check_config_opens_every_cohort_file_and_lists_every_problem(cfg, project_root,
                                                                       tmp_path, capfd):
    """A broken export: one problem per patient, all listed in one run, each with the
    patient's code, its pseudonym and the file."""
    from hccer.cli import main
    from hccer.ids import pseudonymise

    twin = tmp_path / "twin"
    assert main(["synth", "--preset", "phase_attention", "--n", "5", "--matrix", "64",
                 "--seed", "3", "--out", str(twin)]) == 0
    codes = sorted(p.name for p in (twin / "dicom").iterdir())
    path = _cohort_file(tmp_path, cfg, dicom_root=str(twin / "dicom"),
                        clinical=str(twin / "clinical.csv"), masks=str(twin / "masks.tsv"),
                        columns=str(twin / "clinical_columns.json"))
    assert main(["check-config", str(path), "--root", str(project_root)]) == 0
    capfd.readouterr()
    # break one input of each of four patients, and add a sheet row for a missing folder
    masks = (twin / "masks.tsv").read_text().splitlines()
    (twin / [ln for ln in masks if ln.startswith(codes[0])][0].split("\t")[3]).unlink()
    (twin / "masks.tsv").write_text("\n".join(ln for ln in masks if not (
        ln.startswith(codes[1]) and "\tART\t" in ln)) + "\n")
    sheet = pd.read_csv(twin / "clinical.csv", dtype=str)
    sheet.loc[sheet.patient_code == codes[2], "age_years"] = "sixty"
    sheet = pd.concat([sheet, sheet.iloc[[0]].assign(patient_code="NOFOLDER9")])
    sheet.to_csv(twin / "clinical.csv", index=False)
    for f in (twin / "dicom" / codes[3]).rglob("*"):
        if f.is_file():
            f.unlink()
    assert main(["check-config", str(path), "--root", str(project_root)]) == 2
    err = capfd.readouterr().err
    salt = (tmp_path / "salt").read_text().strip()

    def who(code):
        return f"patient {code} ({pseudonymise(code, salt)})"

    assert f"{who(codes[0])}, masks.tsv line" in err and "does not exist" in err
    assert f"{who(codes[1])}, masks.tsv: no mask listed for phase ART" in err
    assert f"{who(codes[2])}, clinical.csv: age_years" in err
    assert f"{who(codes[3])}: DICOM folder" in err and "holds no file" in err
    assert f"{who('NOFOLDER9')}, clinical.csv: a row but no DICOM folder" in err
    assert "5 problem(s)" in err, err


def test_check_config_checks_the_merged_config(project_root, tmp_path, capfd):
    """A partial file is checked as the workflow merges it; demo settings over a cohort and a
    missing salt are named together."""
    from hccer.cli import main

    part = tmp_path / "part.yaml"
    part.write_text("study: ivim_vit\n")
    assert main(["check-config", str(part), "--root", str(project_root)]) == 0
    assert "study ivim_vit" in capfd.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": {"source": "cohort"}}))
    assert main(["check-config", str(project_root / "config" / "demo.yaml"), str(bad),
                 "--root", str(project_root)]) == 2
    err = capfd.readouterr().err
    assert "demo block" in err and "pseudonym_salt_file is not set" in err


def test_mask_rows_for_no_patient_are_listed_by_line(tmp_path):
    from hccer.ingest.masks import read_mask_sheet, unmatched_lines

    sheet = tmp_path / "masks.tsv"
    sheet.write_text("patient_code\tphase\treader\tpath\nA1\tART\tr1\ta.nii.gz\n"
                     "ZZ9\tART\tr1\tz.nii.gz\nA2\tART\tr1\tb.nii.gz\n")
    lines = unmatched_lines(read_mask_sheet(sheet), {"A1", "A2"})
    assert lines == [3]
    table = pd.DataFrame({"patient": ["p1"], "status": "included", "step": "", "reason": "",
                          "warnings": ""})
    note = "Mask sheet lines that name no patient folder (their masks are not used): 3."
    md = summary_markdown(table, "demo", [note])
    assert md.endswith(f"- excluded: 0\n\n{note}\n")
