"""Early-recurrence label from follow-up dates, with a stated censoring policy.

ER = recurrence within `horizon_days` of surgery. A patient without recurrence is NER only if
followed for at least `min_followup_days`; otherwise the label is unknown at the horizon and the
patient is excluded (policy ``exclude``, the papers' choice) — never silently labelled NER.
Survival columns keep the full follow-up: `time_days` to recurrence or last follow-up, `event`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from hccer.ids import PATIENT_CODE, check_patient_code

DATE_COLUMNS = ("surgery_date", "recurrence_date", "last_followup_date")
REQUIRED = (PATIENT_CODE, "surgery_date", "last_followup_date")


@dataclass(frozen=True)
class OutcomePolicy:
    horizon_days: int
    min_followup_days: int

    def __post_init__(self):
        if self.horizon_days <= 0:
            raise ValueError("horizon_days must be positive")
        if self.min_followup_days < 0:
            raise ValueError("min_followup_days must be >= 0")


def check_sheet(df: pd.DataFrame, source: str) -> list[dict]:
    """Sheet-level problems (missing columns, duplicate or malformed IDs) as records."""
    problems = []
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        problems.append({"patient": None, "file": source,
                         "reason": f"clinical sheet lacks required column(s) {missing}"})
        return problems
    ids = df[PATIENT_CODE].astype("string")
    for code in ids[ids.duplicated(keep=False)].dropna().unique():
        rows = (df.index[ids == code] + 2).tolist()  # +2: header line and 1-based rows
        problems.append({"patient": str(code), "file": source,
                         "reason": f"duplicate patient code on rows {rows}"})
    for i, code in enumerate(ids):
        reason = check_patient_code(None if pd.isna(code) else str(code))
        if reason:
            problems.append({"patient": None if pd.isna(code) else str(code), "file": source,
                             "reason": f"row {i + 2}: {reason}"})
    return problems


def _parse_date(value, column: str) -> tuple[pd.Timestamp | None, str | None]:
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
        return None, None
    try:
        # ISO dates only: 01/02/2015 means different days in different countries.
        return pd.to_datetime(str(value).strip(), format="%Y-%m-%d"), None
    except (ValueError, TypeError):
        return None, f"{column} {value!r} is not a date (expected YYYY-MM-DD)"


def derive_outcome(df: pd.DataFrame, policy: OutcomePolicy) -> pd.DataFrame:
    """One row per patient: er, time_days, event, included, reason.

    `df` must have passed `check_sheet`. Rows are returned in the input order.
    """
    out = []
    for _, row in df.iterrows():
        code = str(row[PATIENT_CODE])
        rec = {PATIENT_CODE: code, "er": pd.NA, "time_days": pd.NA, "event": pd.NA,
               "included": False, "reason": ""}
        dates, errors = {}, []
        for col in DATE_COLUMNS:
            value, err = _parse_date(row.get(col), col)
            dates[col] = value
            if err:
                errors.append(err)
        surgery, recur, last = (dates[c] for c in DATE_COLUMNS)
        if surgery is None and not errors:
            errors.append("surgery_date is missing")
        if last is None and recur is None and not errors:
            errors.append("last_followup_date is missing (and no recurrence_date)")
        if not errors and last is not None and last < surgery:
            errors.append(f"negative follow-up: last_followup_date {last.date()} is before "
                          f"surgery_date {surgery.date()}")
        if not errors and recur is not None and recur < surgery:
            errors.append(f"recurrence_date {recur.date()} is before surgery_date "
                          f"{surgery.date()}")
        if not errors and recur is not None and last is not None and last < recur:
            # Follow-up continues after recurrence; an earlier last visit is a data-entry error.
            errors.append(f"last_followup_date {last.date()} is before recurrence_date "
                          f"{recur.date()}")
        if errors:
            rec["reason"] = "; ".join(errors)
            out.append(rec)
            continue
        if recur is not None:
            t = (recur - surgery).days
            rec.update(time_days=t, event=1, er=int(t <= policy.horizon_days), included=True)
        else:
            t = (last - surgery).days
            rec.update(time_days=t, event=0)
            if t >= policy.min_followup_days:
                rec.update(er=0, included=True)
            else:
                rec["reason"] = (f"censored before the horizon: no recurrence and {t} days of "
                                 f"follow-up < {policy.min_followup_days} required")
        out.append(rec)
    res = pd.DataFrame(out)
    for col in ("er", "time_days", "event"):
        res[col] = res[col].astype("Int64")
    return res


def flow_counts(outcome: pd.DataFrame) -> dict:
    """Counts for a TRIPOD-style flow table."""
    inc = outcome[outcome["included"]]
    return {
        "n_sheet": int(len(outcome)),
        "n_excluded_outcome": int((~outcome["included"]).sum()),
        "n_censored_before_horizon": int(
            outcome["reason"].str.startswith("censored before the horizon").sum()),
        "n_included": int(len(inc)),
        "n_er": int((inc["er"] == 1).sum()),
        "n_ner": int((inc["er"] == 0).sum()),
    }
