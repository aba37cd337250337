"""Per-patient VOI statistics → one feature table, and the inter-reader ICC per parameter."""

from __future__ import annotations

import math
from collections.abc import Iterable

from hccer.errors import InputError
from hccer.ivim.icc import icc_2_1
from hccer.ivim.maps import MAP_NAMES

# Column order the classical-ML track reads (×10⁻³ mm²/s except f).
PARAMS = ("D", "Dstar", "f", "ADC")
FEATURE_COLUMNS = ("patient", *PARAMS, "n_voxels", "n_failed")


def feature_rows(stats: Iterable[dict]) -> list[dict]:
    """One row per patient: reader-1 VOI means (and counts), reader-2 means as `<name>_r2`."""
    rows, seen = [], set()
    for s in stats:
        pid = s.get("patient")
        if not pid or "r1" not in s.get("readers", {}):
            raise InputError("IVIM statistics without a patient or a reader-1 VOI",
                             patient=pid, file=s.get("_file"))
        if pid in seen:
            raise InputError("IVIM statistics given twice for one patient", patient=pid,
                             file=s.get("_file"))
        seen.add(pid)
        r1 = s["readers"]["r1"]
        row = {"patient": pid, **{k: r1[k] for k in MAP_NAMES},
               "n_voxels": r1["n_voxels"], "n_failed": r1["n_failed"]}
        if "r2" in s["readers"]:
            row.update({f"{k}_r2": s["readers"]["r2"][k] for k in MAP_NAMES})
        rows.append(row)
    return sorted(rows, key=lambda r: r["patient"])


def reader_icc(rows: list[dict], patients: set[str] | None = None) -> dict:
    """ICC(2,1) between reader 1 and reader 2 for each parameter (patients with both VOIs)."""
    use = [r for r in rows if (patients is None or r["patient"] in patients)
           and all(f"{k}_r2" in r for k in MAP_NAMES)]
    out = {}
    for k in PARAMS:
        pairs = [(r[k], r[f"{k}_r2"]) for r in use
                 if math.isfinite(r[k]) and math.isfinite(r[f"{k}_r2"])]
        out[k] = {"icc_2_1": icc_2_1(pairs) if len(pairs) >= 2 else float("nan"),
                  "n": len(pairs)}
    return out


def to_tsv(rows: list[dict]) -> str:
    cols = list(FEATURE_COLUMNS)
    if rows and any(f"{MAP_NAMES[0]}_r2" in r for r in rows):
        cols += [f"{k}_r2" for k in PARAMS]

    def fmt(v):
        if v is None:
            return ""
        if isinstance(v, float):
            return "" if not math.isfinite(v) else f"{v:.6g}"
        return str(v)

    lines = ["\t".join(cols)]
    lines += ["\t".join(fmt(r.get(c)) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"
