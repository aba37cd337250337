"""The per-patient status table: who was excluded, at which step, and why.

Each stage contributes records {patient, step, ok, reason}; the table keeps the first failing
step per patient (later steps never ran for it) and every warning. The run summary counts
exclusions by step and reason, so a user sees at once what was lost and where.
"""

from __future__ import annotations

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


def summary_markdown(table: pd.DataFrame, study: str, notes: list[str] = ()) -> str:
    """The run summary: counts, exclusions by kind of reason, then `notes` (inputs that no
    patient uses)."""
    n = len(table)
    exc = table[table["status"] == "excluded"]
    lines = [f"# Run summary: {study}", "",
             f"- patients found: {n}",
             f"- included: {n - len(exc)}",
             f"- excluded: {len(exc)}", ""]
    if len(exc):
        # grouped by kind (numbers and file names aside), shown by the first reason of each
        # kind in full: "labels other than 0/1: 2" stays readable
        lines += ["| step | reason | patients |", "|---|---|---|"]
        groups: dict[tuple[str, str], list[str]] = {}
        for step, reason in zip(exc["step"], exc["reason"], strict=True):
            groups.setdefault((step, reason_kind(reason)), []).append(str(reason))
        for (step, _), reasons in sorted(groups.items()):
            shown = reasons[0].split(" | ")[0][:200].replace("|", "/")
            similar = len(set(reasons)) - 1
            more = f" (and {similar} similar)" if similar else ""
            lines.append(f"| {step} | {shown}{more} | {len(reasons)} |")
    warn = table[table["warnings"] != ""]
    if len(warn):
        lines += ["", f"Patients with warnings: {len(warn)} (see patient_status.tsv)."]
    for note in notes:
        lines += [note] if lines[-1] == "" else ["", note]
    return "\n".join(lines) + "\n"


def reason_kind(reason: str) -> str:
    """A reason without file names, numbers, comparisons and detail after its first clause:
    the key that groups reasons for counting (run summary, flow diagram)."""
    import re

    text = re.sub(r"\[[^\]]*\]\s*", "", str(reason).split(" | ")[0]).strip()
    num = r"-?\d+(\.\d+)?"
    text = re.sub(rf"\s*{num}\s*[<>≤≥=]+\s*{num}", "", text)  # "NCC 0.1 < 0.3" -> "NCC"
    text = re.sub(num, "N", text)
    head = text.split(":")[0] if ":" in text and len(text.split(":")[0]) >= 12 else text
    return head if len(head) <= 52 else head[:51] + "…"
