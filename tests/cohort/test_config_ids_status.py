import copy

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


def test_overrides_apply_to_their_study_only(cfg, project_root):
    c = copy.deepcopy(cfg)
    c["overrides_by_study"] = {"ct_3dcnn": {"split": {"inner_folds": 2}}}
    c["study_overrides"] = {"outcome": {"min_followup_days": 700}}
    ct = load_study(dict(c, study="ct_3dcnn"), project_root)
    assert ct["split"]["inner_folds"] == 2 and ct["outcome"]["min_followup_days"] == 700
    iv = load_study(dict(c, study="ivim_vit"), project_root)
    assert iv["split"]["inner_folds"] == 5
    c["overrides_by_study"] = {"ct_3dcnn": {"split": {"inner_folds": "two"}}}
    with pytest.raises(ConfigError, match="with overrides"):
        load_study(dict(c, study="ct_3dcnn"), project_root)


def test_demo_config_shrinks_every_deep_preset(cfg, project_root):
    """The default config is the demo: every preset that trains networks gets smaller crops
    and at most 40 epochs from it, else `--config study=<key>` trains at paper size for hours."""
    import math

    paper = dict(cfg, overrides_by_study=None)
    for path in sorted((project_root / "config" / "studies").glob("*.yaml")):
        demo = load_study(dict(cfg, study=path.stem), project_root)
        if not demo.get("deep"):
            continue
        full = load_study(dict(paper, study=path.stem), project_root)
        assert math.prod(demo["crop"]["size"]) < math.prod(full["crop"]["size"]), path.stem
        assert int(demo["deep"]["defaults"]["epochs"]) <= 40, path.stem


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


def test_check_config_names_every_missing_cohort_input(cfg, project_root, tmp_path, capfd):
    from hccer.cli import main

    (tmp_path / "dicom" / "SITE01").mkdir(parents=True)
    (tmp_path / "clinical.csv").write_text("patient_code\n")
    c = copy.deepcopy(cfg)
    c["data"]["source"] = "cohort"
    c["data"]["cohort"].update(dicom_root=str(tmp_path / "dicom"),
                               clinical=str(tmp_path / "clinical.csv"),
                               masks=str(tmp_path / "masks.tsv"),
                               manifest_override=str(tmp_path / "override.tsv"))
    path = tmp_path / "cohort.yaml"
    path.write_text(yaml.safe_dump(c))
    assert main(["check-config", str(path), "--root", str(project_root)]) == 2
    err = capfd.readouterr().err
    assert f"data.cohort.masks: {tmp_path / 'masks.tsv'} is not a file" in err
    assert "data.cohort.manifest_override" in err and "dicom_root" not in err
    (tmp_path / "masks.tsv").write_text("")
    (tmp_path / "override.tsv").write_text("")
    assert main(["check-config", str(path), "--root", str(project_root)]) == 0
    (tmp_path / "dicom" / "SITE01").rmdir()
    assert main(["check-config", str(path), "--root", str(project_root)]) == 2
    assert "holds no patient folder" in capfd.readouterr().err


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
