"""Clinical variable coding and staging-system comparators, from the raw clinical columns.

outcome.tsv carries the sheet's columns as strings; each study's `clinical` block says how a
variable is coded (threshold, level, or continuous). A missing column or an unreadable value
raises InputError naming the patient and the column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hccer.errors import InputError

OPS = ("ge", "gt", "le", "lt", "equals")


def numeric_values(df: pd.DataFrame, column: str, file=None, *,
                   keep_missing: bool = False) -> pd.Series:
    """A clinical column as floats. A value that is not a number raises InputError naming the
    patients; so does an empty cell, unless `keep_missing` (Table 1 shows missing values as
    missing; a model must not meet a silent NaN)."""
    if column not in df.columns:
        raise InputError(f"clinical column '{column}' is missing; the table has "
                         f"{', '.join(map(str, df.columns))}", file=file)
    raw = df[column]
    num = pd.to_numeric(raw, errors="coerce")
    bad = num.isna()
    if keep_missing:
        bad &= raw.notna() & (raw.astype("string").str.strip() != "")
    if bad.any():
        who = ", ".join(f"{p} ({raw[p]!r})" for p in list(df.index[bad])[:5])
        raise InputError(f"clinical column '{column}' must be a number; patient(s) {who}",
                         file=file)
    return num.astype(float)


def cut_off(values: pd.Series, spec: dict) -> pd.Series | None:
    """The spec's one cut-off (`ge`, `gt`, `le` or `lt`) applied to numeric values, as a
    boolean Series (False where a value is missing); None when the spec has no cut-off."""
    ops = [op for op in OPS[:4] if op in spec]
    if not ops:
        return None
    if len(ops) > 1:
        raise ValueError(f"clinical variable {spec.get('name', spec.get('label'))}: give one "
                         f"cut-off of {', '.join(OPS[:4])}, not {', '.join(ops)}")
    cut = float(spec[ops[0]])
    return {"ge": values >= cut, "gt": values > cut, "le": values <= cut,
            "lt": values < cut}[ops[0]]


def _text(df: pd.DataFrame, column: str, file=None) -> pd.Series:
    if column not in df.columns:
        raise InputError(f"clinical column '{column}' is missing; the table has "
                         f"{', '.join(map(str, df.columns))}", file=file)
    s = df[column].astype(str).str.strip()
    bad = df[column].isna() | (s == "") | (s.str.lower() == "nan")
    if bad.any():
        raise InputError(f"clinical column '{column}' is empty for patient(s) "
                         f"{', '.join(list(df.index[bad])[:5])}", file=file)
    return s


def code_variable(df: pd.DataFrame, spec: dict, file=None) -> pd.Series:
    """One coded variable: `{name, column, ge|gt|le|lt: cut-off}` -> 0/1, `{..., equals: level
    or [levels]}` -> 0/1, `{..., continuous: true, scale: s}` -> value x s."""
    col = spec["column"]
    if spec.get("continuous"):
        return numeric_values(df, col, file) * float(spec.get("scale", 1.0))
    if "equals" in spec:
        levels = spec["equals"] if isinstance(spec["equals"], list) else [spec["equals"]]
        s = _text(df, col, file)
        return s.isin([str(v) for v in levels]).astype(float)
    if not any(op in spec for op in OPS[:4]):
        raise ValueError(f"clinical variable {spec.get('name')}: give exactly one of "
                         f"{', '.join(OPS)} or continuous")
    return cut_off(numeric_values(df, col, file), spec).astype(float)


def code_table(df: pd.DataFrame, specs: list[dict], file=None) -> pd.DataFrame:
    """Coded design matrix (index = patient) in the order of `specs`."""
    return pd.DataFrame({s["name"]: code_variable(df, s, file) for s in specs}, index=df.index)


def outcome_frame(path) -> pd.DataFrame:
    """outcome.tsv as strings, indexed by pseudonym, included patients only."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise InputError("outcome table not found", file=path)
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    df = df[df["included"].astype(str) == "True"].set_index("patient")
    return df


# --- staging systems and blood ratios (spec seed-002 section 2.3) -------------------------

def _yes(s: pd.Series) -> pd.Series:
    return s.str.lower().isin(["yes", "1", "true", "present", "positive"])


def bclc_stage(df: pd.DataFrame, cols: dict, file=None) -> pd.Series:
    """BCLC (2022 update) as an ordinal 0-4 (0, A, B, C, D).

    C: macrovascular invasion, extrahepatic spread or ECOG 1-2; D: ECOG > 2 or Child-Pugh C;
    0: single nodule <= 2 cm; A: single, or <= 3 nodules all <= 3 cm; B: otherwise.
    The largest nodule stands for "each nodule" (only it is recorded).
    """
    n = numeric_values(df, cols["nodule_count"], file)
    size = numeric_values(df, cols["largest_nodule_mm"], file)
    mvi = _yes(_text(df, cols["macrovascular_invasion"], file))
    ehs = _yes(_text(df, cols["extrahepatic_spread"], file))
    ps = numeric_values(df, cols["ecog"], file)
    cp = _text(df, cols["child_pugh"], file).str.upper()
    stage = pd.Series(np.where((n > 3) | ((n > 1) & (size > 30)), 2, 1), index=df.index)
    stage[(n == 1) & (size <= 20)] = 0
    stage[mvi | ehs | ((ps >= 1) & (ps <= 2))] = 3
    stage[(ps > 2) | (cp == "C")] = 4
    return stage.astype(float)


def cnlc_stage(df: pd.DataFrame, cols: dict, file=None) -> pd.Series:
    """CNLC (China, 2019 edition) as an ordinal 1-7 (Ia, Ib, IIa, IIb, IIIa, IIIb, IV)."""
    n = numeric_values(df, cols["nodule_count"], file)
    size = numeric_values(df, cols["largest_nodule_mm"], file)
    mvi = _yes(_text(df, cols["macrovascular_invasion"], file))
    ehs = _yes(_text(df, cols["extrahepatic_spread"], file))
    ps = numeric_values(df, cols["ecog"], file)
    cp = _text(df, cols["child_pugh"], file).str.upper()
    stage = pd.Series(4.0, index=df.index)                       # IIb: >= 4 nodules
    stage[(n >= 2) & (n <= 3)] = np.where(size[(n >= 2) & (n <= 3)] <= 30, 2.0, 3.0)
    stage[n == 1] = np.where(size[n == 1] <= 50, 1.0, 2.0)
    stage[mvi] = 5.0
    stage[ehs] = 6.0
    stage[(ps > 2) | (cp == "C")] = 7.0
    return stage


def blood_ratio(df: pd.DataFrame, num: str, den: str, file=None) -> pd.Series:
    a, b = numeric_values(df, num, file), numeric_values(df, den, file)
    if (b <= 0).any():
        raise InputError(f"clinical column '{den}' must be > 0 for a ratio; patient(s) "
                         f"{', '.join(list(df.index[b <= 0])[:5])}", file=file)
    return a / b


ERASL_MESSAGE = ("ERASL-pre is left out: its published coefficients (Chan et al., J Hepatol "
                 "2018) are not available to this workflow and are not invented; add them to "
                 "the study's clinical.staging block only from the original publication")


def staging_scores(df: pd.DataFrame, names: list[str], cols: dict, file=None) -> pd.DataFrame:
    """Comparator scores, higher = more risk (LMR enters negated: lower LMR = risk; the
    direction is fixed, never flipped per cohort)."""
    out = {}
    for name in names:
        if name == "bclc":
            out[name] = bclc_stage(df, cols, file)
        elif name == "cnlc":
            out[name] = cnlc_stage(df, cols, file)
        elif name == "nlr":
            out[name] = blood_ratio(df, cols["neutrophil"], cols["lymphocyte"], file)
        elif name == "plr":
            out[name] = blood_ratio(df, cols["platelet"], cols["lymphocyte"], file)
        elif name == "lmr":
            out[name] = -blood_ratio(df, cols["lymphocyte"], cols["monocyte"], file)
        elif name == "erasl_pre":
            raise InputError(ERASL_MESSAGE)
        else:
            raise ValueError(f"unknown staging comparator {name!r}")
    return pd.DataFrame(out, index=df.index)
