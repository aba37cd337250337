"""The cohort screen: every patient's triage status gathered into one pass/fail table."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

COLUMNS = ["patient", "step", "ok", "reason", "warnings"]


def screen_records(statuses: Iterable[dict]) -> pd.DataFrame:
    """Triage status JSONs -> one row per patient (ok, reason, warnings, phases)."""
    rows = []
    for st in statuses:
        reasons = [_fmt(p) for p in st.get("problems", [])]
        warnings = [w if isinstance(w, str) else _fmt(w) for w in st.get("warnings", [])]
        rows.append({"patient": st["patient"], "step": "ingest", "ok": bool(st.get("ok")),
                     "reason": " | ".join(reasons), "warnings": " | ".join(warnings)})
    return pd.DataFrame(rows, columns=COLUMNS)


def _fmt(p: dict) -> str:
    where = f"[{p['file']}] " if p.get("file") else ""
    return f"{where}{p.get('reason', '')}".strip()
