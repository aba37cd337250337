from pathlib import Path

import pandas as pd
import pytest
from hccer.cohort.outcome import OutcomePolicy, check_sheet, derive_outcome, flow_counts
from hccer.ids import SALT_ENV


@pytest.fixture(autouse=True)
def salt(monkeypatch):
    """The workflow passes the salt in the environment, never on the command line."""
    monkeypatch.setenv(SALT_ENV, "s" * 16)

POLICY = OutcomePolicy(horizon_days=365, min_followup_days=365)


def sheet(rows):
    return pd.DataFrame(rows, columns=["patient_code", "surgery_date", "recurrence_date",
                                       "last_followup_date"])


def test_labels_at_horizon_and_censoring_policy():
    df = sheet([
        ["A1", "2015-01-01", "2015-06-01", "2016-01-01"],   # recurrence at 151 d -> ER
        ["A2", "2015-01-01", "2016-01-01", "2017-01-01"],   # 365 d: inside the horizon
        ["A3", "2015-01-01", "2016-01-02", "2017-01-01"],   # 366 d: late recurrence -> NER
        ["A4", "2015-01-01", None, "2016-06-01"],           # followed 517 d, no recurrence
        ["A5", "2015-01-01", None, "2015-10-01"],           # 273 d, censored -> excluded
    ])
    out = derive_outcome(df, POLICY).set_index("patient_code")
    assert out.loc["A1", "er"] == 1 and out.loc["A1", "time_days"] == 151
    assert out.loc["A2", "er"] == 1
    assert out.loc["A3", "er"] == 0 and out.loc["A3", "event"] == 1
    assert out.loc["A4", "er"] == 0 and out.loc["A4", "event"] == 0
    assert out.loc["A4", "time_days"] == 517
    assert not out.loc["A5", "included"]
    assert "censored before the horizon" in out.loc["A5", "reason"]
    assert "273 days" in out.loc["A5", "reason"]
    flow = flow_counts(out.reset_index())
    assert flow == {"n_sheet": 5, "n_excluded_outcome": 1, "n_censored_before_horizon": 1,
                    "n_included": 4, "n_er": 2, "n_ner": 2}


@pytest.mark.parametrize("row, needle", [
    (["B1", "2015-01-01", None, "2014-12-01"], "negative follow-up"),
    (["B2", "2015-01-01", "2014-06-01", "2016-01-01"], "before surgery_date"),
    (["B3", None, None, "2016-01-01"], "surgery_date is missing"),
    (["B4", "2015-01-01", None, None], "last_followup_date is missing"),
    (["B5", "01/13/2015", None, "2016-01-01"], "not a date"),
    (["B6", "2015-01-01", "2015-05-01", "2015-03-01"], "before recurrence_date"),
])
def test_bad_follow_up_is_named(row, needle):
    out = derive_outcome(sheet([row]), POLICY)
    assert not out.loc[0, "included"]
    assert needle in out.loc[0, "reason"]


def test_sheet_problems_name_rows_and_ids():
    df = sheet([["X1", "2015-01-01", None, "2017-01-01"],
                ["X1", "2015-01-01", None, "2017-01-01"],
                ["has space", "2015-01-01", None, "2017-01-01"],
                ["Jürgen", "2015-01-01", None, "2017-01-01"]])
    problems = check_sheet(df, "clinical.csv")
    reasons = " ".join(p["reason"] for p in problems)
    assert "duplicate patient code on rows [2, 3]" in reasons
    assert "spaces are not allowed" in reasons
    assert "non-ASCII" in reasons
    assert check_sheet(df.drop(columns="surgery_date"), "c.csv")[0]["reason"].startswith(
        "clinical sheet lacks required column")


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        OutcomePolicy(horizon_days=0, min_followup_days=0)


def test_outcome_cli_reads_an_old_sheet_the_same_and_says_so(tmp_path, capfd):
    from hccer.cli import main
    from hccer.ingest.masks import read_mask_sheet

    study = Path(__file__).resolve().parents[2] / "config" / "studies" / "ct_3dcnn.yaml"
    rows = "A1,2015-01-01,2015-06-01,2016-01-01\nA2,2015-01-01,,2017-01-01\n"
    tables = {}
    for column in ("patient_code", "patient_id"):
        sheet = tmp_path / f"{column}.csv"
        sheet.write_text(f"{column},surgery_date,recurrence_date,last_followup_date\n{rows}")
        out = tmp_path / f"{column}.tsv"
        assert main(["outcome", "--clinical", str(sheet), "--study", str(study),
                     "--out", str(out),
                     "--flow", str(tmp_path / f"{column}.json")]) == 0
        tables[column] = out.read_text()
    assert tables["patient_code"] == tables["patient_id"] and "A1" not in tables["patient_id"]
    assert "patient_id.csv: column 'patient_id' is read as 'patient_code'" in capfd.readouterr().err
    masks = tmp_path / "masks.tsv"
    masks.write_text("patient_id\tphase\treader\tpath\nA1\tART\tr1\ta.nii.gz\n")
    assert read_mask_sheet(masks) == [{"patient_code": "A1", "phase": "ART", "reader": "r1",
                                       "path": "a.nii.gz", "line": 2}]


@pytest.mark.parametrize("text, message", [
    ("", "the clinical sheet is empty (no header, no rows)"),
    ("patient_code,surgery_date,recurrence_date,last_followup_date\n",
     "the clinical sheet has a header but no patient rows"),
    ("patient_code;surgery_date;recurrence_date;last_followup_date\nA1;2015-01-01;;2017-01-01\n",
     "the clinical sheet lacks a patient_code column (its header is one column"),
])
def test_an_unusable_clinical_sheet_is_one_message(tmp_path, capfd, text, message):
    from hccer.cli import main

    study = Path(__file__).resolve().parents[2] / "config" / "studies" / "ct_3dcnn.yaml"
    sheet = tmp_path / "clinical.csv"
    sheet.write_text(text)
    assert main(["outcome", "--clinical", str(sheet), "--study", str(study),
                 "--out", str(tmp_path / "o.tsv"), "--flow", str(tmp_path / "f.json")]) == 2
    err = capfd.readouterr().err
    assert f"file clinical.csv: {message}" in err and "Traceback" not in err
    assert "-separated; save it comma-separated" in err or "semicolon" not in text


def test_a_code_with_spaces_is_excluded_by_name_and_a_bad_one_is_an_unusable_row(tmp_path):
    import json

    from hccer.cli import main
    from hccer.ids import pseudonymise

    study = Path(__file__).resolve().parents[2] / "config" / "studies" / "ct_3dcnn.yaml"
    sheet = tmp_path / "clinical.csv"
    sheet.write_text("patient_code,surgery_date,recurrence_date,last_followup_date\n"
                     "A1 ,2015-01-01,2015-06-01,2016-01-01\n"
                     "A2,2015-01-01,,2017-01-01\n"
                     "B 7,2015-01-01,,2017-01-01\n")
    out, flow = tmp_path / "o.tsv", tmp_path / "f.json"
    assert main(["outcome", "--clinical", str(sheet), "--study", str(study),
                 "--out", str(out), "--flow", str(flow)]) == 0
    tab = pd.read_csv(out, sep="\t", keep_default_na=False).set_index("patient")
    a1 = tab.loc[pseudonymise("A1", "s" * 16)]
    assert not a1["included"] and a1["reason"] == "row 2: patient code has spaces before or after it"
    assert len(tab) == 2 and tab.loc[pseudonymise("A2", "s" * 16), "included"]
    assert json.loads(flow.read_text())["unusable_rows"] == [
        "row 4: patient code contains characters other than letters, digits, '_', '.', '-' "
        "(spaces are not allowed)"]
    text = out.read_text() + flow.read_text()
    assert "A1" not in text and "B 7" not in text


def test_without_a_dictionary_the_presets_numeric_variables_are_checked(tmp_path):
    from hccer.cli import main

    study = Path(__file__).resolve().parents[2] / "config" / "studies" / "cemri_dlrcr.yaml"
    numeric = ["age_years", "afp_ng_ml", "alt_u_l", "ast_u_l", "ggt_u_l", "tbil_umol_l",
               "alb_g_l", "tumor_size_mm"]
    head = "patient_code,surgery_date,recurrence_date,last_followup_date," + ",".join(numeric)
    ok = ",".join(["61", "20", "30", "35", "40", "12", "42", "45"])
    bad = ok.replace("61", "sixty", 1).replace(",20,", ",>2000,", 1)
    sheet = tmp_path / "clinical.csv"
    sheet.write_text(f"{head}\nA1,2015-01-01,,2017-01-01,{ok}\nA2,2015-01-01,,2017-01-01,{bad}\n")
    out = tmp_path / "o.tsv"
    assert main(["outcome", "--clinical", str(sheet), "--study", str(study),
                 "--out", str(out), "--flow", str(tmp_path / "f.json")]) == 0
    tab = pd.read_csv(out, sep="\t", keep_default_na=False)
    (a2,) = tab[~tab["included"]].itertuples()
    assert a2.step == "clinical"
    assert a2.reason == "age_years = 'sixty' is not a number; afp_ng_ml = '>2000' is not a number"
    assert tab["included"].sum() == 1
