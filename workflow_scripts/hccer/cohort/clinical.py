"""Per-patient checks of clinical values against a column dictionary.

The dictionary (JSON) maps column name -> {"type": numeric|categorical|date|text, "unit",
"levels"}; it may be wrapped as {"columns": {...}}. Type synonyms (continuous, integer, float,
binary, ordinal) are accepted so a dictionary exported from another tool reads as written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hccer.ids import OLD_PATIENT_CODE, PATIENT_CODE


def read_sheet(path: str | Path) -> pd.DataFrame:
    """The clinical sheet as strings (blank cells NaN); an unreadable, empty or mis-separated
    sheet is one InputError naming the file."""
    from hccer.errors import InputError, delimiter_hint
    from hccer.ids import code_column_renames

    name = Path(path).name
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise InputError("the clinical sheet is empty (no header, no rows)", file=name) from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the clinical sheet: {exc}", file=name) from None
    df = df.rename(columns=code_column_renames(df.columns, name))
    if PATIENT_CODE not in df.columns:
        hint = delimiter_hint(list(df.columns), "comma")
        if hint:
            raise InputError(f"the clinical sheet lacks a {PATIENT_CODE} column{hint}", file=name)
    if df.empty:
        raise InputError("the clinical sheet has a header but no patient rows", file=name)
    return df


NUMERIC = {"numeric", "continuous", "integer", "int", "float", "count"}
CATEGORICAL = {"categorical", "binary", "ordinal", "category", "boolean", "bool"}


def normalise_dictionary(raw: dict) -> dict[str, dict]:
    cols = raw.get("columns", raw)
    if isinstance(cols, list):
        cols = {c["name"]: c for c in cols}
    return {str(k): dict(v) for k, v in cols.items()}


def implied_dictionary(study) -> dict[str, dict]:
    """Without a column dictionary, what the preset itself says: a clinical-model variable
    coded as continuous or by a cut-off is numeric, so a value such as 'sixty' or '>2000'
    excludes its patient, named, instead of reaching the model."""
    variables = (study.get("clinical") or {}).get("variables") or []
    return {str(v["column"]): {"type": "numeric"} for v in variables
            if v.get("continuous") or any(op in v for op in ("ge", "gt", "le", "lt"))}


def check_values(df: pd.DataFrame, dictionary: dict[str, dict]) -> dict[str, list[str]]:
    """Return {patient_code: [problem, ...]} for non-numeric, out-of-level or missing values.

    Missing values are problems too: the studies excluded patients with incomplete data, and a
    model must not meet a silent NaN.
    """
    problems: dict[str, list[str]] = {}
    for col, spec in dictionary.items():
        if col in (PATIENT_CODE, OLD_PATIENT_CODE) or col.endswith("_date"):
            continue  # dates are checked by the outcome step
        if col not in df.columns:
            problems.setdefault("*", []).append(f"column {col!r} of the dictionary is missing "
                                                "from the clinical sheet")
            continue
        kind = str(spec.get("type", "")).lower()
        if spec.get("optional"):
            continue
        for code, value in zip(df[PATIENT_CODE].astype(str), df[col], strict=True):
            if pd.isna(value) or str(value).strip() == "":
                problems.setdefault(code, []).append(f"{col} is missing")
                continue
            if kind in NUMERIC:
                try:
                    float(str(value))
                except ValueError:
                    unit = f" ({spec['unit']})" if spec.get("unit") else ""
                    problems.setdefault(code, []).append(
                        f"{col}{unit} = {value!r} is not a number")
            elif kind in CATEGORICAL and spec.get("levels"):
                levels = [str(x) for x in spec["levels"]]
                if str(value) not in levels:
                    problems.setdefault(code, []).append(
                        f"{col} = {value!r} is not one of {levels}")
    return problems
