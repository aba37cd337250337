"""The 9-element clinical input vector of the fusion models (spec seed-000-001 §2).

c1 age >= 60, c2 tumour size >= 50 mm, c3 portal vein invasion, c4 NLR >= 2.8, c5 TB >= 20.5,
c6 AFP >= 9, c7-c9 BCLC: 0 -> 000, A -> 001, B -> 010, C -> 100. Coded here from the raw
columns of outcome.tsv so the deep track does not depend on the clinical track.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hccer.errors import InputError

# element -> (role, default column of the synthetic sheet, cut-off)
THRESHOLDS = (("age", "age_years", 60.0), ("tumor_size", "tumor_size_mm", 50.0),
              ("nlr", "nlr", 2.8), ("tbil", "tbil_umol_l", 20.5), ("afp", "afp_ug_l", 9.0))
DEFAULT_COLUMNS = {"age": "age_years", "tumor_size": "tumor_size_mm",
                   "pvi": "portal_vein_invasion", "nlr": "nlr", "tbil": "tbil_umol_l",
                   "afp": "afp_ug_l", "bclc": "bclc_stage"}
BCLC = {"0": (0, 0, 0), "A": (0, 0, 1), "B": (0, 1, 0), "C": (1, 0, 0)}
YES, NO = {"yes", "y", "1", "true", "present"}, {"no", "n", "0", "false", "absent"}


def clinical_vector(outcome: pd.DataFrame, patients: list[str], columns: dict | None = None,
                    file=None) -> np.ndarray:
    """(len(patients), 9) float32 vectors in the paper's order; missing or unreadable values
    raise InputError naming patient and column (no imputation)."""
    cols = dict(DEFAULT_COLUMNS, **(columns or {}))
    missing = [c for c in cols.values() if c not in outcome.columns]
    if missing:
        raise InputError(f"the clinical vector needs column(s) {missing} in the outcome table "
                         f"(map other names with deep.clinical_columns)", file=file)
    table = outcome.set_index("patient")
    out = np.zeros((len(patients), 9), np.float32)
    for i, pid in enumerate(patients):
        if pid not in table.index:
            raise InputError("patient not in the outcome table", patient=pid, file=file)
        row = table.loc[pid]

        def value(role, row=row, pid=pid):
            raw = row[cols[role]]
            if pd.isna(raw) or str(raw).strip() == "":
                raise InputError(f"clinical value '{cols[role]}' is empty; the fusion "
                                 "models need all nine elements", patient=pid, file=file)
            return str(raw).strip()

        def number(role, value=value, pid=pid):
            try:
                return float(value(role))
            except ValueError:
                raise InputError(f"clinical value '{cols[role]}' = {value(role)!r} is not a "
                                 "number", patient=pid, file=file) from None

        vals = {role: number(role) >= cut for role, _, cut in THRESHOLDS}
        pvi = value("pvi").lower()
        if pvi not in YES | NO:
            raise InputError(f"'{cols['pvi']}' = {pvi!r}; expected yes or no", patient=pid,
                             file=file)
        bclc = value("bclc").upper()
        if bclc not in BCLC:
            raise InputError(f"'{cols['bclc']}' = {bclc!r}; expected BCLC 0, A, B or C",
                             patient=pid, file=file)
        out[i, :7 - 1] = [vals["age"], vals["tumor_size"], pvi in YES, vals["nlr"],
                          vals["tbil"], vals["afp"]]
        out[i, 6:] = BCLC[bclc]
    return out
