"""The per-patient status table: who was excluded, at which step, and why.

Each stage contributes records {patient, step, ok, reason}; the table keeps the first failing
step per patient (later steps never ran for it) and every warning. The run summary counts
exclusions by step and reason, so a user sees at once what was lost and where.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

STEPS = ("ingest", "clinical", "outcome", "registration")


def combine(stages: list[pd.DataFrame], all_patients: list[str]) -> pd.DataFrame:
    """Final table: status included/excluded, first failing step and its reason."""
    by_patient: dict[str, dict] = {p: {"patient": p, "status": "included", "step": "",
                                       "reason": "", "warnings": ""} for p in all_patients}
    for stage in stages:
        for r in stage.itertuples(index=False):
            rec = by_patient.setdefault(r.patient, {"patient": r.patient, "status": "included",
                                                    "step": "", "reason": "", "warnings": ""})
            w = getattr(r, "warnings", "") or ""
            if w:
                rec["warnings"] = " | ".join(x for x in (rec["warnings"], w) if x)
            if not r.ok and rec["status"] == "included":
                rec.update(status="excluded", step=r.step, reason=r.reason)
    return pd.DataFrame(list(by_patient.values())).sort_values("patient").reset_index(drop=True)


def summary_markdown(table: pd.DataFrame, study: str) -> str:
    n = len(table)
    exc = table[table["status"] == "excluded"]
    lines = [f"# Run summary: {study}", "",
             f"- patients found: {n}",
             f"- included: {n - len(exc)}",
             f"- excluded: {len(exc)}", ""]
    if len(exc):
        lines += ["| step | reason | patients |", "|---|---|---|"]
        counts = Counter(zip(exc["step"], exc["reason"].map(_reason_kind), strict=True))
        for (step, kind), c in sorted(counts.items()):
            lines.append(f"| {step} | {kind} | {c} |")
    warn = table[table["warnings"] != ""]
    if len(warn):
        lines += ["", f"Patients with warnings: {len(warn)} (see patient_status.tsv)."]
    return "\n".join(lines) + "\n"


def _reason_kind(reason: str) -> str:
    """Group reasons by their text without file names and numbers, for counting."""
    import re

    text = re.sub(r"\[[^\]]*\]\s*", "", reason.split(" | ")[0])
    return re.sub(r"\d+(\.\d+)?", "N", text)[:120]
