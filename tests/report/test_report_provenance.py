"""Provenance: input hashes keyed by pseudonym, sensitive to every file, free of site codes,
paths and the salt."""

import hashlib
import json

import pytest
from hccer.report import provenance as P


@pytest.fixture()
def export(tmp_path):
    """A two-patient export: DICOM folders named by site code, masks, sheets, pseudonym map."""
    root = tmp_path / "export"
    for code in ("SITE0001", "SITE0002"):
        for series in ("SE0001", "SE0002"):
            d = root / "dicom" / code / series
            d.mkdir(parents=True)
            for i in range(3):
                (d / f"IM{i:04d}").write_bytes(f"{code}-{series}-{i}".encode())
        m = root / "masks" / code
        m.mkdir(parents=True)
        for ph in ("ART", "PV"):
            (m / f"{code}_{ph}_r1.nii.gz").write_bytes(f"mask {code} {ph}".encode())
    (root / "masks.tsv").write_text(
        "patient_code\tphase\treader\tpath\n"
        + "".join(
            f"{c}\t{ph}\tr1\tmasks/{c}/{c}_{ph}_r1.nii.gz\n"
            for c in ("SITE0001", "SITE0002")
            for ph in ("ART", "PV")
        )
    )
    (root / "clinical.csv").write_text("patient_code,age\nSITE0001,61\nSITE0002,55\n")
    pmap = tmp_path / "pseudonyms.tsv"
    pmap.write_text("patient_code\tpseudonym\nSITE0001\tp0000000001\nSITE0002\tp0000000002\n")
    return root, pmap


def hashes(export):
    root, pmap = export
    return P.input_hashes(
        P.read_pseudonyms(pmap),
        root / "dicom",
        root / "clinical.csv",
        root / "masks.tsv",
        threads=2,
    )


def test_sha256_of_a_known_string(tmp_path):
    f = tmp_path / "abc"
    f.write_bytes(b"abc")
    assert (
        P.sha256_file(f)
        == hashlib.sha256(b"abc").hexdigest()
        == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    )


def test_hashes_are_keyed_by_pseudonym_and_hold_no_site_code(export):
    h = hashes(export)
    assert sorted(h["patients"]) == ["p0000000001", "p0000000002"]
    assert h["patients"]["p0000000001"]["dicom"]["files"] == 6
    assert h["patients"]["p0000000001"]["masks"]["masks"] == 2
    text = json.dumps(h)
    assert "SITE" not in text and "export" not in text
    assert h == hashes(export)  # deterministic


@pytest.mark.parametrize("change", ["content", "rename", "add", "mask"])
def test_any_change_to_one_patient_changes_only_its_hash(export, change):
    before = hashes(export)
    root, _ = export
    d = root / "dicom" / "SITE0002" / "SE0001"
    if change == "content":
        (d / "IM0001").write_bytes(b"other")
    elif change == "rename":
        (d / "IM0001").rename(d / "IM0009")
    elif change == "add":
        (d / "IM0003").write_bytes(b"new")
    else:
        (root / "masks" / "SITE0002" / "SITE0002_PV_r1.nii.gz").write_bytes(b"edited")
    after = hashes(export)
    kind = "masks" if change == "mask" else "dicom"
    a, b = before["patients"], after["patients"]
    assert a["p0000000001"] == b["p0000000001"]
    assert a["p0000000002"][kind]["sha256"] != b["p0000000002"][kind]["sha256"]
    assert before["mask_sheet_sha256"] == after["mask_sheet_sha256"]


def test_missing_patient_folder_is_named(export):
    root, pmap = export
    pm = P.read_pseudonyms(pmap)
    pm["p0000000003"] = "SITE0003"
    with pytest.raises(Exception, match="patient folder not found"):
        P.input_hashes(pm, root / "dicom", root / "clinical.csv", root / "masks.tsv")


def test_record_leaves_out_the_salt_and_keeps_seeds(export, tmp_path):
    config = {
        "demo": {"ct_3dcnn": {"crop": {"size": [10, 48, 48]}}, "ivim_vit": {}},
        "study": "ct_3dcnn",
        "seed": 5,
        "pseudonym_salt": "very-secret-salt",
        "data": {"source": "synthetic", "synthetic": {"n": 2, "seed": 9}},
    }
    study = {"key": "ct_3dcnn", "deep": {"seeds": [0, 1], "experiments": {}}}
    rec = P.build(
        config,
        study,
        {"seed": 5},
        hashes(export),
        {"n": 2, "seed": 9, "oracle_auc": {"overall": 0.9}},
        None,
    )
    text = json.dumps(rec)
    assert "very-secret-salt" not in text and "pseudonym_salt" not in text
    assert rec["seeds"] == {
        "config_seed": 5,
        "registration_seed": 5,
        "classical_model_seed": 5,
        "synthetic_twin_seed": 9,
        "split_seed": 5,
        "deep_seeds": [0, 1],
    }
    assert rec["synthetic_twin"]["oracle_auc"] == {"overall": 0.9}
    assert rec["config"]["demo"] == {"ct_3dcnn": {"crop": {"size": [10, 48, 48]}}}
    assert rec["demo_settings"] is True and "config/demo.yaml: crop" in rec["settings"]
    assert rec["environment"]["numpy"] and rec["versions"]["numpy"]
    out = tmp_path / "config.yaml"
    P.write_config(str(out), config, str(tmp_path / "log"))
    assert "very-secret-salt" not in out.read_text() and "seed: 5" in out.read_text()


def test_workflow_revision_outside_git(tmp_path):
    assert P.workflow_revision(tmp_path)["git_commit"] is None
