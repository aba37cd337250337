"""Survival tables: risk groups by a model's cut-off, median RFS, log-rank and hazard ratios."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hccer.paper.inputs import Inputs, NotRun
from hccer.paper.output import Table
from hccer.paper.spec import label, model_entries
from hccer.paper.tables.format import (
    COHORT_NAMES,
    DAYS_PER_MONTH,
    fmt_ci,
    fmt_num,
    threshold_for,
    threshold_rule_text,
)
from hccer.stats.table1 import format_p


# -- Kaplan-Meier by risk group -----------------------------------------------------------------
def risk_groups(item: dict, inp: Inputs, model: str, cohort: str) -> dict:
    """Rows of `model` in `cohort` split high/low at the item's cut-off, with survival times in
    the item's unit. NotRun when the ledger lacks the model, the cohort or survival columns."""
    df = inp.rows(model, cohort)
    if "time" not in df.columns or df["time"].isna().all():
        raise NotRun("the ledger has no follow-up time/event for this model")
    thr, rule = threshold_for(item, inp, model)
    unit = item.get("time_unit", "months")
    scale = 1.0 / DAYS_PER_MONTH if unit == "months" else 1.0
    return {
        "time": df["time"].to_numpy(float) * scale,
        "event": df["event"].to_numpy(int),
        "high": df["score"].to_numpy(float) >= thr,
        "threshold": thr,
        "rule": rule,
        "unit": unit,
    }


def _median_cells(g: dict) -> tuple[str, str]:
    med, lo, hi = g["median"], g["median_ci_low"], g["median_ci_high"]
    if med is None:
        return "not reached", "NA"
    text = (
        f"{med:.1f} ({fmt_num(lo, 1) if lo is not None else 'NR'}–"
        f"{fmt_num(hi, 1) if hi is not None else 'NR'})"
    )
    se = (hi - lo) / (2 * 1.959964) if lo is not None and hi is not None else None
    return text, fmt_num(se, 2) if se is not None else "NA"


def km_summary(item: dict, inp: Inputs) -> Table:
    from hccer.stats import survival as S

    stats = inp.spec["stats"]
    rows, values, unit = [], [], item.get("time_unit", "months")
    for entry in model_entries(item):
        model = entry["model"]
        for cohort in item.get("cohorts") or ["test"]:
            row = {"Model": label(inp.spec, model, entry), "Cohort": COHORT_NAMES[cohort]}
            try:
                rg = risk_groups(item, inp, model, cohort)
            except NotRun as exc:
                row["Cut-off"] = str(exc)
                rows.append(row)
                values.append({"model": model, "cohort": cohort, "not_run": str(exc)})
                continue
            group = np.where(rg["high"], "high", "low")
            res = S.km_summary(rg["time"], rg["event"], group, level=stats["level"])
            by = {g["group"]: g for g in res["groups"]}
            row["Cut-off"] = f"{rg['threshold']:.3f}"
            for g in ("high", "low"):
                name = f"{g.capitalize()} risk"
                if g not in by:
                    row.update(
                        {
                            f"{name}: n (events)": "0",
                            f"{name}: median ({unit}, 95% CI)": "—",
                            f"{name}: SE": "—",
                        }
                    )
                    continue
                med, se = _median_cells(by[g])
                row.update(
                    {
                        f"{name}: n (events)": f"{by[g]['n']} ({by[g]['events']})",
                        f"{name}: median ({unit}, 95% CI)": med,
                        f"{name}: SE": se,
                    }
                )
            lr = res.get("logrank")
            row["Log-rank P"] = format_p(lr["p_value"]) if lr else "— (one group)"
            row["HR high vs low (95% CI)"] = _hazard_ratio(rg, stats["level"])
            rows.append(row)
            values.append(
                {
                    "model": model,
                    "cohort": cohort,
                    "threshold": rg["threshold"],
                    "groups": res["groups"],
                    "logrank": lr,
                    "time_unit": unit,
                }
            )
    notes = [
        f"risk groups: high when P(ER) ≥ cut-off ({threshold_rule_text(item)}); "
        "Kaplan-Meier medians with log-transformed CIs (R survival); SE ≈ (upper − lower)"
        " / (2 × 1.96) where the CI is finite; two-sided log-rank test",
        "HR: univariable Cox model (Efron ties), an extra not reported by the paper",
    ]
    return Table(pd.DataFrame(rows), values, notes + inp.notes)


def _hazard_ratio(rg: dict, level: float) -> str:
    from hccer.stats.survival import cox

    high = rg["high"]
    if high.all() or not high.any() or not rg["event"].any():
        return "not estimable"
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = cox(rg["time"], rg["event"], high.astype(float), "high", level)
    except Exception as exc:  # lifelines raises its own ConvergenceError on separation
        return f"not estimable ({type(exc).__name__})"
    if any("Convergence" in type(w.message).__name__ for w in caught):
        return "not estimable (separation)"
    if not all(map(math.isfinite, (c["hazard_ratio"], c["ci_low"], c["ci_high"]))):
        return "not estimable"
    return fmt_ci(c["hazard_ratio"], c["ci_low"], c["ci_high"], 2)
