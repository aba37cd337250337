"""The registration gate table: one row per screened patient, failing phases named."""

import pandas as pd
from hccer.cli import main
from hccer.preprocess.gate import gate_table


def test_a_patient_passes_only_when_every_phase_passed():
    qcs = [{"patient": "p2", "phase": "ART", "passed": True},
           {"patient": "p2", "phase": "PV", "passed": False, "reason": "NCC 0.12 < 0.3"},
           {"patient": "p2", "phase": "NC", "passed": False},
           {"patient": "p1", "phase": "ART", "passed": True}]
    screened = pd.DataFrame({"patient": ["p1", "p2", "p3", "p4"],
                             "ok": [True, True, True, False]})
    table = gate_table(qcs, screened)
    assert table["patient"].tolist() == ["p1", "p2", "p3"]     # p4 failed the screen
    assert table["ok"].tolist() == [True, False, True]         # p3: no QC (single phase)
    assert table.set_index("patient").loc["p2", "reason"] == (
        "phase PV: NCC 0.12 < 0.3 | phase NC: registration QC failed")
    assert set(table["step"]) == {"registration"}


def test_gate_command_writes_the_table(tmp_path):
    import json

    (tmp_path / "qc.json").write_text(json.dumps({"patient": "p1", "phase": "PV",
                                                  "passed": False, "reason": "bad"}))
    pd.DataFrame({"patient": ["p1", "p2"], "ok": [True, True]}).to_csv(
        tmp_path / "screen.tsv", sep="\t", index=False)
    assert main(["gate", "--qc", str(tmp_path / "qc.json"), "--patients",
                 str(tmp_path / "screen.tsv"), "--out", str(tmp_path / "gate.tsv")]) == 0
    out = pd.read_csv(tmp_path / "gate.tsv", sep="\t")
    assert out["ok"].tolist() == [False, True] and out["reason"][0] == "phase PV: bad"
