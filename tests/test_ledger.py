"""The ledger's row builder, part writer and gather step (validation: tests/stats)."""

import pandas as pd
import pytest
from hccer import ledger as L
from hccer.errors import InputError


def test_rows_take_follow_up_from_the_outcome_table_and_gather_orders_them(tmp_path):
    outcome = pd.DataFrame({"time_days": ["800", "", "90"], "event": ["0", "", "1"]},
                           index=["pb", "px", "pa"])
    part = L.rows(["pb", "pa"], [0.2, 0.9], [0, 1], "m1", "test", 3, 0, outcome)
    assert part["time"].tolist() == [800.0, 90.0] and part["event"].tolist() == [0.0, 1.0]
    assert list(part.columns) == L.columns()
    L.write_part(tmp_path / "a.csv", [part])
    L.write_part(tmp_path / "b.csv", [L.rows(["pa"], [0.4], [1], "m0", "train", 3, 0, outcome)])
    out = L.gather([tmp_path / "b.csv", tmp_path / "a.csv"], tmp_path / "ledger.csv")
    assert list(zip(out.model, out.patient, strict=True)) == [
        ("m0", "pa"), ("m1", "pa"), ("m1", "pb")]
    assert out["event"].dtype.kind == "i"
    with pytest.raises(InputError, match="duplicate"):
        L.gather([tmp_path / "a.csv", tmp_path / "a.csv"], tmp_path / "ledger.csv")
    assert L.gather([], tmp_path / "ledger.csv").columns.tolist() == L.columns()


def test_an_old_ledger_naming_the_pseudonym_patient_id_still_validates(tmp_path, caplog):
    old = tmp_path / "old.csv"
    old.write_text("patient_id,model,score,label\npa,m,0.4,1\npb,m,0.2,0\n")
    with caplog.at_level("WARNING"):
        df = L.validate_ledger(L.read_table(old), file=old.name)
    assert df["patient"].tolist() == ["pa", "pb"] and "patient_id" not in df.columns
    assert "old.csv: column 'patient_id' is read as 'patient'" in caplog.text
