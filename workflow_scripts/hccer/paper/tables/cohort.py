"""Cohort tables: Table 1 (variables by group with tests), the fold distribution, and the
scanner characteristics read from the acquisition headers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hccer.classical.clinical import cut_off, numeric_values
from hccer.errors import ConfigError, InputError
from hccer.paper.inputs import Inputs
from hccer.paper.output import Table
from hccer.paper.tables.format import COHORT_NAMES, TEST_NAMES


# -- table1 --------------------------------------------------------------------------------------
def code_variable(tab: pd.DataFrame, var: dict) -> pd.Series:
    """One Table 1 row group: a continuous value, a cut-off (ge/gt/le/lt: level 0 when false,
    1 when true) or the raw categories in `levels` order (shown as `labels`). Missing values
    stay missing; an unlisted category raises InputError naming the patients."""
    col = var["column"]
    if col not in tab.columns:
        raise InputError(
            f"Table 1 variable {var['label']!r}: column '{col}' is not in the "
            f"outcome table (columns: {', '.join(map(str, tab.columns))})"
        )
    if var.get("continuous"):
        return numeric_values(tab, col, keep_missing=True) * float(var.get("scale", 1.0))
    shown = list(var.get("labels") or var["levels"])
    if any(op in var for op in ("ge", "gt", "le", "lt")):
        num = numeric_values(tab, col, keep_missing=True)
        flag = cut_off(num, var)
        if len(shown) != 2:
            raise ConfigError(f"Table 1 variable {var['label']!r}: a cut-off needs 2 levels")
        values = np.where(flag, shown[1], shown[0]).astype(object)
        values[num.isna().to_numpy()] = None
        return pd.Series(pd.Categorical(values, categories=shown), index=tab.index)
    levels = [str(v) for v in var["levels"]]
    if len(shown) != len(levels):
        raise ConfigError(
            f"Table 1 variable {var['label']!r}: {len(shown)} labels for {len(levels)} levels"
        )
    raw = tab[col].astype("string").str.strip()
    bad = raw.notna() & ~raw.isin(levels)
    if bad.any():
        who = ", ".join(f"{p} ({raw[p]!r})" for p in list(tab.index[bad])[:5])
        raise InputError(
            f"column '{col}' has values outside the Table 1 levels {levels}: patient(s) {who}"
        )
    mapped = raw.map(dict(zip(levels, shown, strict=True)))
    return pd.Series(pd.Categorical(mapped, categories=shown), index=tab.index)


def _groups(tab: pd.DataFrame, block: dict) -> tuple[pd.Series, list[str], list[str]]:
    """Group key per patient, keys in display order, display names."""
    if block["by"] == "er":
        key = tab["er"].map({1: "er", 0: "ner"})
        order = block.get("order") or ["ner", "er"]
        default = {"er": "ER", "ner": "NER"}
    else:
        key = tab["cohort"]
        order = block.get("order") or ["train", "test"]
        default = COHORT_NAMES
    names = block.get("names") or [default.get(k, k) for k in order]
    unknown = sorted(set(order) - ({"er", "ner"} if block["by"] == "er" else set(COHORT_NAMES)))
    if unknown or len(names) != len(order):
        raise ConfigError(
            f"Table 1 block by {block['by']}: order {order} / names {names} do not match"
        )
    return key, order, names


def table1(item: dict, inp: Inputs) -> Table:
    from hccer.stats.table1 import build_table1, is_categorical

    tab = inp.analysed()
    coded = pd.DataFrame(
        {v["label"]: code_variable(tab, v) for v in item["variables"]}, index=tab.index
    )
    variables = list(coded.columns)
    # each variable's kind is decided on the whole analysed cohort: decided per block, a
    # continuous variable with few values in one block would get level rows the others lack
    levelled = [v for v in variables if is_categorical(coded[v].dropna())]
    measured = [v for v in variables if v not in levelled]
    out, values, tests = None, [], {}
    for bi, block in enumerate(item["blocks"]):
        sub = tab if not block.get("within") else tab[tab["cohort"] == block["within"]]
        if sub.empty:
            raise InputError(
                f"Table 1 block {bi + 1}: no analysed patient in cohort {block['within']}"
            )
        key, order, names = _groups(sub, block)
        # prefixed: a group named like an output column of build_table1 ("test") must not
        # collide with it
        key, order = "g_" + key, [f"g_{k}" for k in order]
        df = coded.loc[sub.index].assign(_group=key)
        t = build_table1(
            df,
            "_group",
            variables,
            item.get("rule", "pearson"),
            item.get("continuous", "auto"),
            percent=item.get("percent", True),
            categorical=levelled,
            numeric=measured,
        )
        n = key.value_counts()
        cols = {}
        if block.get("total"):
            cols["Total"] = f"Total (n = {len(sub)})"
        for k, name in zip(order, names, strict=True):
            if k not in t.columns:
                t[k] = "—"
            if not block.get("p_only"):  # e.g. a training-vs-validation P beside ER/NER blocks
                cols[k] = f"{name} (n = {int(n.get(k, 0))})"
        p_col = "P" if len(item["blocks"]) == 1 else f"P ({block.get('title', bi + 1)})"
        cols["p"] = p_col
        part = t[list(cols)].rename(columns=cols)
        if out is None:
            out = pd.concat(
                [
                    t[["variable", "level"]].rename(
                        columns={"variable": "Variable", "level": "Level"}
                    ),
                    part,
                ],
                axis=1,
            )
        else:
            out = pd.concat([out, part.set_index(out.index)], axis=1)
        for r in t[t["test"] != ""].itertuples():
            tests.setdefault(r.test, []).append(r.variable)
            values.append(
                {"block": bi, "variable": r.variable, "test": r.test, "p_value": r.p_value}
            )
    out["Variable"] = out["Variable"].where(out["Variable"] != out["Variable"].shift(), "")
    notes = (
        [
            "; ".join(
                f"{TEST_NAMES.get(k, k)}: {', '.join(dict.fromkeys(v))}" for k, v in tests.items()
            )
        ]
        if tests
        else []
    )
    return Table(out.reset_index(drop=True), values, notes)


# -- fold distribution ---------------------------------------------------------------------------
def fold_distribution(item: dict, inp: Inputs) -> Table:
    from hccer.dl.data import patient_of
    from hccer.jsonio import read_json

    split = inp.split
    unit = item.get("unit", "slices")
    per_patient: dict[str, int] = {}
    if unit == "slices":
        for path in (p for p in inp.crops if str(p).endswith(".json")):
            meta = read_json(path)
            arrays = meta.get("arrays", {})
            n = arrays["x"][0] if meta.get("mode") == "slices2d" and "x" in arrays else 1
            per_patient[patient_of(path)] = int(n)
        missing = sorted({p for f in split["folds"] for p in f["test"]} - set(per_patient))
        if missing:
            raise InputError(
                f"no crop metadata for patient(s) {missing[:5]}; give every "
                "analysed patient's crop JSON with --crops"
            )
    er = {r["patient"]: int(r["er"]) for r in split["assignment"]}
    table = {"": ["Training", "Testing", "Total"]}
    values = []
    for f in split["folds"]:
        cells = []
        for side in (f["train"], f["test"], f["train"] + f["test"]):
            if unit == "slices":
                cells.append(f"{sum(per_patient[p] for p in side)} ({len(side)})")
            else:
                cells.append(f"{len(side)} (ER {sum(er[p] for p in side)})")
        table[f"E{int(f['fold']) + 1}"] = cells
        values.append(
            {
                "fold": int(f["fold"]),
                "train_patients": len(f["train"]),
                "test_patients": len(f["test"]),
                "test_er": sum(er[p] for p in f["test"]),
                **(
                    {
                        "train_slices": sum(per_patient[p] for p in f["train"]),
                        "test_slices": sum(per_patient[p] for p in f["test"]),
                    }
                    if unit == "slices"
                    else {}
                ),
            }
        )
    note = "cells: slices (patients)" if unit == "slices" else "cells: patients (ER)"
    return Table(pd.DataFrame(table), values, [note])


# -- scan characteristics (from the headers kept beside each native series) ------------------------
def _cell(values: list, unit: str = "", fmt=lambda v: f"{v:g}") -> str:
    vals = [v for v in values if v not in (None, "")]
    if not vals:
        return "not recorded"
    if all(isinstance(v, int | float) for v in vals):
        lo, hi = min(vals), max(vals)
        text = fmt(lo) if lo == hi else f"{fmt(lo)}–{fmt(hi)}"
    else:
        text = ", ".join(sorted({str(v) for v in vals}))
    return f"{text} {unit}".strip()


def _collimation(m: dict):
    single, total = m.get("single_collimation_mm"), m.get("total_collimation_mm")
    if not single or not total:
        return None
    return f"{round(total / single)}×{single:g}"


def _tube_current(ms: list[dict]) -> str:
    mod = sorted({m.get("exposure_modulation") or "" for m in ms} - {"", "NONE"})
    ma = _cell([m.get("tube_current_ma") for m in ms], "mA", lambda v: f"{v:.0f}")
    return f"automatic ({', '.join(mod)}), {ma}" if mod else ma


def scan_characteristics(item: dict, inp: Inputs) -> Table:
    """Scanner settings of one series per analysed patient, per scanner model, from the header
    values the conversion step keeps (scanner description only, nothing personal)."""
    from hccer.jsonio import read_json

    if not inp.sidecars:
        raise ConfigError(f"{inp.what} needs --sidecars")
    metas = [read_json(p) for p in inp.sidecars]
    groups: dict[str, list[dict]] = {}
    for m in metas:
        name = " ".join(v for v in (m.get("manufacturer"), m.get("model")) if v) or "unknown"
        groups.setdefault(name, []).append(m)
    rows = {
        "Patients": lambda ms: str(len(ms)),
        "Tube voltage": lambda ms: _cell([m.get("kvp") for m in ms], "kVp"),
        "Tube current": _tube_current,
        "Detector collimation": lambda ms: _cell([_collimation(m) for m in ms], "mm"),
        "Field of view": lambda ms: _cell([m.get("recon_diameter_mm") for m in ms], "mm"),
        "Matrix": lambda ms: _cell([f"{m['geometry']['size'][0]}×{m['geometry']['size'][1]}"
                                    for m in ms if m.get("geometry")]),
        "Pixel spacing": lambda ms: _cell([round(m["geometry"]["spacing"][0], 3) for m in ms
                                           if m.get("geometry")], "mm"),
        "Rotation time": lambda ms: _cell([m.get("revolution_time_s") for m in ms], "s"),
        "Pitch": lambda ms: _cell([m.get("pitch") for m in ms]),
        "Slice thickness": lambda ms: _cell([m.get("slice_thickness") for m in ms], "mm"),
    }
    names = sorted(groups)
    frame = pd.DataFrame({"Parameter": list(rows),
                          **{n: [f(groups[n]) for f in rows.values()] for n in names}})
    values = [{"scanner": n, "patients": len(groups[n]),
               **{k: f(groups[n]) for k, f in rows.items() if k != "Patients"}} for n in names]
    notes = [f"{item['phase']} series of the {len(metas)} analysed patients; single values, or "
             "the range over patients; tube current of the first slice of each series"]
    return Table(frame, values, notes)
