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
    assert list(zip(out.model, out.patient_id, strict=True)) == [
        ("m0", "pa"), ("m1", "pa"), ("m1", "pb")]
    assert out["event"].dtype.kind == "i"
    with pytest.raises(InputError, match="duplicate"):
        L.gather([tmp_path / "a.csv", tmp_path / "a.csv"], tmp_path / "ledger.csv")
    assert L.gather([], tmp_path / "ledger.csv").columns.tolist() == L.columns()
