"""Per-case feature CSVs -> one wide table (one row per patient, or per patient and slice;
columns `{phase}_{pyradiomics name}`), and the ICC table between two readers' tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hccer.errors import InputError

ID_COLUMNS = ("patient", "phase", "reader", "slice")


def case_frame(features: list[dict[str, float]], patient=None, phase=None, reader=None,
               slices: list[int] | None = None) -> pd.DataFrame:
    """Rows of one extraction job, id columns first (only those given)."""
    df = pd.DataFrame(features)
    ids = {"patient": patient, "phase": phase, "reader": reader}
    front = {k: v for k, v in ids.items() if v is not None}
    if slices is not None:
        front["slice"] = slices
    for i, (k, v) in enumerate(front.items()):
        df.insert(i, k, v)
    return df


def wide_table(files: list[str | Path], expected_per_phase: int | None = None) -> pd.DataFrame:
    """Concatenate per-case CSVs (with patient and phase columns) into a wide table."""
    parts = []
    for f in files:
        df = pd.read_csv(f, dtype={"patient": str})
        for col in ("patient", "phase"):
            if col not in df.columns:
                raise InputError(f"feature file lacks the '{col}' column", file=f)
        n = df.shape[1] - sum(c in df.columns for c in ID_COLUMNS)
        if expected_per_phase and n != expected_per_phase:
            raise InputError(f"{n} features extracted, expected {expected_per_phase} per phase "
                             "(check the parameter file)", patient=str(df['patient'].iloc[0]),
                             file=f)
        parts.append(df)
    if not parts:
        raise InputError("no feature files given")
    long = pd.concat(parts, ignore_index=True)
    key = ["patient", "slice"] if "slice" in long.columns else ["patient"]
    feats = [c for c in long.columns if c not in ID_COLUMNS]
    wide = long.pivot_table(index=key, columns="phase", values=feats, aggfunc="first")
    wide.columns = [f"{phase}_{name}" for name, phase in wide.columns]
    phases = list(dict.fromkeys(long["phase"]))
    order = [f"{ph}_{c}" for ph in phases for c in feats]
    wide = wide[[c for c in order if c in wide.columns]]
    if wide.isna().any().any():
        bad = wide.index[wide.isna().any(axis=1)]
        raise InputError(f"features missing for some phase of {', '.join(map(str, bad[:5]))}"
                         " (every patient needs every phase, and the same slices per phase)")
    return wide.sort_index()


def read_features(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", dtype={"patient": str})
    key = ["patient", "slice"] if "slice" in df.columns else ["patient"]
    return df.set_index(key)
