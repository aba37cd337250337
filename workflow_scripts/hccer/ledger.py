"""The prediction ledger, the one contract between models and statistics: its schema, the rows
every model writes (`rows`, `write_part`), the study ledger gathered from the parts (`gather`),
reading and validation, and the row selections the statistics make.

The column rules come from `ledger.schema.json` (one row = one JSON object under that closed
schema); they are applied column-wise with pandas so a ledger of a million rows validates in
well under a second. Every problem raises `InputError` naming the file, the column and the
offending rows or patients.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from hccer.errors import InputError

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).with_name("ledger.schema.json")
KEY = ("patient", "model", "cohort", "seed")
# the pseudonym column's name in ledgers written before it was `patient`: still read, with a
# warning
OLD_PATIENT = "patient_id"
_MAX_LISTED = 5


@cache
def schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)


def columns() -> list[str]:
    """Every ledger column, in the schema's order."""
    return list(schema()["properties"])


def rows(patients, scores, labels, model: str, cohort: str, fold: int, seed: int,
         outcome: pd.DataFrame | None = None) -> pd.DataFrame:
    """One model's rows for `patients` of one cohort; `time`/`event` from the outcome table
    (indexed by pseudonym, columns `time_days`, `event`) when given."""
    df = pd.DataFrame({"patient": list(patients), "model": model,
                       "score": np.asarray(scores, float), "label": np.asarray(labels, int),
                       "cohort": cohort, "fold": int(fold), "seed": int(seed)})
    if outcome is not None:
        follow = outcome.loc[df["patient"]]
        df["time"] = pd.to_numeric(follow["time_days"], errors="coerce").to_numpy(float)
        df["event"] = pd.to_numeric(follow["event"], errors="coerce").to_numpy(float)
    return df


def write_part(path: str | Path, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Validate one job's rows and write them as its ledger part (CSV)."""
    from hccer.jsonio import write_text

    ledger = validate_ledger(pd.concat(parts, ignore_index=True), file=path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text(path, ledger.to_csv(index=False))
    return ledger


def gather(parts: list[str | Path], out: str | Path) -> pd.DataFrame:
    """The study ledger: every part, validated together (a patient scored twice by one model,
    cohort and seed is an error), in a stable order."""
    frames = [read_table(p) for p in parts]
    if not frames:
        return pd.DataFrame(columns=columns())
    df = validate_ledger(pd.concat(frames, ignore_index=True), file=out)
    return df.sort_values(["model", "cohort", "seed", "patient"], kind="stable")


def _listed(values) -> str:
    values = [str(v) for v in values]
    more = len(values) - _MAX_LISTED
    head = ", ".join(values[:_MAX_LISTED])
    return f"{head} (+{more} more)" if more > 0 else head


def _rows(mask: np.ndarray | pd.Series) -> str:
    # 1-based data row numbers as a spreadsheet shows them below the header line
    idx = np.flatnonzero(np.asarray(mask)) + 2
    return _listed(idx.tolist())


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table; unreadable files raise InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
        return pd.read_csv(path, sep=sep, dtype={"patient": str, OLD_PATIENT: str, "model": str})
    except ImportError as exc:
        raise InputError(f"cannot read Parquet here ({exc}); write the ledger as CSV",
                         file=path) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"not a readable table: {exc}", file=path) from None


def _integer_column(df: pd.DataFrame, col: str, file, spec: dict) -> pd.Series:
    s = df[col]
    if s.dtype == bool:
        s = s.astype(int)
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() | (num != np.round(num))
    if "enum" in spec:
        bad |= ~num.isin(spec["enum"])
    if "minimum" in spec:
        bad |= num < spec["minimum"]
    if bad.any():
        allowed = (f"one of {spec['enum']}" if "enum" in spec else "a whole number"
                   + (f" >= {spec['minimum']}" if "minimum" in spec else ""))
        shown = _listed(df.loc[bad, col].astype(str).unique())
        what = "labels must be binary 0/1" if col == "label" else f"must be {allowed}"
        raise InputError(f"column '{col}' {what}; found {shown} in rows {_rows(bad)}", file=file)
    return num.astype(int)


def validate_ledger(df: pd.DataFrame, file: str | Path | None = None) -> pd.DataFrame:
    """Check a ledger against the schema; return a normalised copy.

    Normalisation is limited to types (labels as int, ids as str) and the schema defaults of the
    optional columns `cohort` ("test") and `seed` (0), which are logged.
    """
    sch = schema()
    props = sch["properties"]
    df = df.copy()
    if OLD_PATIENT in df.columns and "patient" not in df.columns:
        log.warning("ledger %s: column %r is read as 'patient' (the pseudonym); rename it",
                    file, OLD_PATIENT)
        df = df.rename(columns={OLD_PATIENT: "patient"})
    missing = [c for c in sch["required"] if c not in df.columns]
    if missing:
        raise InputError(f"ledger lacks required column(s) {', '.join(missing)}; a ledger needs "
                         f"{', '.join(sch['required'])}", file=file)
    extra = [c for c in df.columns if c not in props]
    if extra:
        raise InputError(f"ledger has unknown column(s) {', '.join(map(str, extra))}; allowed "
                         f"columns are {', '.join(props)}", file=file)
    if df.empty:
        raise InputError("ledger has no rows", file=file)
    for col, default in (("cohort", props["cohort"]["default"]), ("seed", props["seed"]["default"])):
        if col not in df.columns:
            log.info("ledger %s has no '%s' column; using %r for every row", file, col, default)
            df[col] = default
    for col in ("patient", "model", "cohort"):
        spec = props[col]
        s = df[col]
        empty = s.isna() | (s.astype(str).str.strip() == "")
        if empty.any():
            raise InputError(f"column '{col}' is empty in rows {_rows(empty)}", file=file)
        s = s.astype(str)
        if col in ("patient", "model") and s.str.contains(r"\.0$").all():
            # numeric ids read back as floats (e.g. 12.0) would not match the clinical table
            s = s.str.replace(r"\.0$", "", regex=True)
        if "pattern" in spec:
            bad = ~s.str.fullmatch(spec["pattern"])
            if bad.any():
                raise InputError(f"column '{col}' has values that cannot be used as names: "
                                 f"{_listed(s[bad].unique())} (rows {_rows(bad)})", file=file)
        if "enum" in spec:
            bad = ~s.isin(spec["enum"])
            if bad.any():
                raise InputError(f"column '{col}' must be one of {', '.join(spec['enum'])}; "
                                 f"found {_listed(s[bad].unique())} in rows {_rows(bad)}",
                                 file=file)
        df[col] = s
    for col in ("label", "seed", "fold", "event"):
        if col in df.columns:
            if col in ("fold",) and df[col].isna().all():
                continue
            df[col] = _integer_column(df, col, file, props[col])
    for col in ("score", "time"):
        if col not in df.columns:
            continue
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna() | ~np.isfinite(num.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            pats = _listed(df.loc[bad, "patient"].unique())
            raise InputError(f"column '{col}' is missing or not a finite number for patient(s) "
                             f"{pats} (rows {_rows(bad)})", file=file)
        if "minimum" in props[col] and (num < props[col]["minimum"]).any():
            bad = num < props[col]["minimum"]
            raise InputError(f"column '{col}' is negative for patient(s) "
                             f"{_listed(df.loc[bad, 'patient'].unique())}", file=file)
        df[col] = num.astype(float)
    if ("time" in df.columns) != ("event" in df.columns):
        raise InputError("columns 'time' and 'event' go together; the ledger has only one",
                         file=file)
    key = list(sch["x-unique"])
    dup = df.duplicated(key, keep=False)
    if dup.any():
        first = df.loc[dup, key].drop_duplicates().head(_MAX_LISTED)
        shown = "; ".join(f"patient {r.patient} model {r.model} cohort {r.cohort} "
                          f"seed {r.seed}" for r in first.itertuples())
        raise InputError(f"duplicate (patient, model, cohort, seed) rows: {shown} "
                         f"(rows {_rows(dup)})", file=file)
    return df


def read_ledger(path: str | Path) -> pd.DataFrame:
    """Read and validate a ledger file."""
    return validate_ledger(read_table(path), file=path)


def require_probability(df: pd.DataFrame, file: str | Path | None = None,
                        what: str = "this statistic") -> None:
    """Scores must be probabilities in [0, 1] (calibration, decision curves)."""
    lim = schema()["properties"]["score"]["x-probability"]
    bad = (df["score"] < lim["minimum"]) | (df["score"] > lim["maximum"])
    if bad.any():
        models = _listed(df.loc[bad, "model"].unique())
        pats = _listed(df.loc[bad, "patient"].unique())
        raise InputError(f"{what} needs probabilities in [0, 1], but model(s) {models} have "
                         f"scores outside [0, 1] (patients {pats})", file=file)


def require_survival(df: pd.DataFrame, file: str | Path | None = None) -> None:
    if "time" not in df.columns or "event" not in df.columns:
        raise InputError("survival statistics need the ledger columns 'time' and 'event'",
                         file=file)


def select(df: pd.DataFrame, *, model: str | None = None, cohort: str | None = None,
           seed: int | None = None, file: str | Path | None = None) -> pd.DataFrame:
    """Rows of one model/cohort/seed; an unknown name is an InputError listing what exists."""
    out = df
    for col, val in (("model", model), ("cohort", cohort), ("seed", seed)):
        if val is None:
            continue
        hit = out[col] == val
        if not hit.any():
            raise InputError(f"no rows with {col} = {val!r}; the ledger has "
                             f"{_listed(sorted(df[col].unique().astype(str)))}", file=file)
        out = out[hit]
    return out


def check_binary_outcome(df: pd.DataFrame, what: str, file=None) -> None:
    n_pos = int(df["label"].sum())
    if n_pos == 0 or n_pos == len(df):
        raise InputError(f"{what}: needs both outcomes, but all {len(df)} patients have "
                         f"label {int(df['label'].iloc[0])}", file=file)


def paired_frame(df: pd.DataFrame, model_a: str, model_b: str, cohort: str | None,
                 seed: int | None = None, file=None) -> pd.DataFrame:
    """Wide table (patient, label, a, b) for a paired comparison on the same patients.

    Raises InputError when the two models do not score the same patient set or disagree on a
    patient's label.
    """
    a = select(df, model=model_a, cohort=cohort, seed=seed, file=file)
    b = select(df, model=model_b, cohort=cohort, seed=seed, file=file)
    pa, pb = set(a["patient"]), set(b["patient"])
    if pa != pb:
        only_a, only_b = sorted(pa - pb), sorted(pb - pa)
        raise InputError(
            f"paired comparison of models {model_a} and {model_b} needs the same patients; "
            f"only in {model_a}: {_listed(only_a) or 'none'}; only in {model_b}: "
            f"{_listed(only_b) or 'none'} (use --unpaired for independent samples)", file=file)
    m = a[["patient", "label", "score"]].merge(
        b[["patient", "label", "score"]], on="patient", suffixes=("_a", "_b"))
    if len(m) != len(pa):
        raise InputError(f"models {model_a}/{model_b}: a patient appears more than once in "
                         f"cohort {cohort}; choose a --seed", file=file)
    bad = m["label_a"] != m["label_b"]
    if bad.any():
        raise InputError(f"models {model_a} and {model_b} disagree on the label of patient(s) "
                         f"{_listed(m.loc[bad, 'patient'])}", file=file)
    return m.rename(columns={"label_a": "label", "score_a": "a", "score_b": "b"}).drop(
        columns="label_b")


def same_patients(df: pd.DataFrame, models, cohort: str | None, seed: int | None = None) -> bool:
    """True when every model scores the same (non-empty) patient set in the cohort."""
    sub = df if cohort is None else df[df["cohort"] == cohort]
    if seed is not None:
        sub = sub[sub["seed"] == seed]
    sets = {frozenset(sub.loc[sub["model"] == m, "patient"]) for m in models}
    return len(sets) == 1 and bool(next(iter(sets)))
