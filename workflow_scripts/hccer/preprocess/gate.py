"""The registration gate: per-phase registration QC gathered into one pass/fail row per
screened patient. A patient passes when every phase's QC passed; a screened patient with no QC
file (a single-phase study) passes."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from hccer.ingest.screen import COLUMNS


def gate_table(qcs: Iterable[dict], screened: pd.DataFrame) -> pd.DataFrame:
    """`qcs`: registration QC records ({patient, phase, passed, reason}); `screened`: the
    screen table (patient, ok). Failing phases are joined into the patient's reason."""
    rows: dict[str, dict] = {}
    for q in qcs:
        pid = q["patient"]
        rec = rows.setdefault(pid, {"patient": pid, "step": "registration", "ok": True,
                                    "reason": "", "warnings": ""})
        if not q.get("passed", False):
            rec["ok"] = False
            reason = f"phase {q.get('phase')}: {q.get('reason', 'registration QC failed')}"
            rec["reason"] = " | ".join(x for x in (rec["reason"], reason) if x)
    for pid in screened.loc[screened["ok"].astype(bool), "patient"]:
        rows.setdefault(pid, {"patient": pid, "step": "registration", "ok": True, "reason": "",
                              "warnings": ""})
    table = pd.DataFrame(list(rows.values()), columns=COLUMNS)
    return table.sort_values("patient")
