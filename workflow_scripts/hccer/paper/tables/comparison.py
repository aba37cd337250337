"""Comparison tables: the DeLong matrix between models, and items the run does not reproduce."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hccer.paper.inputs import Inputs, NotRun
from hccer.paper.output import Table
from hccer.paper.spec import label, model_entries
from hccer.paper.tables.format import COHORT_NAMES
from hccer.stats.table1 import format_p


# -- DeLong matrix ------------------------------------------------------------------------------
def delong_matrix(item: dict, inp: Inputs) -> Table:
    from hccer.stats.roc import delong_matrix as matrix

    rows, values, notes = [], [], []
    for cohort in item.get("cohorts") or ["test"]:
        frames, names = [], []
        for entry in model_entries(item):
            try:
                frames.append(inp.rows(entry["model"], cohort).set_index("patient"))
                names.append(entry["model"])
            except NotRun as exc:
                notes.append(
                    f"{label(inp.spec, entry['model'], entry)} "
                    f"({COHORT_NAMES[cohort].lower()}): {exc}"
                )
        if len(names) < 2:
            continue
        common = sorted(set.intersection(*(set(f.index) for f in frames)))
        if len(common) < max(len(f) for f in frames):
            notes.append(
                f"{COHORT_NAMES[cohort]}: paired tests on the {len(common)} patients "
                "every model scored"
            )
        y = frames[0].loc[common, "label"].to_numpy()
        if y.sum() in (0, y.size):
            notes.append(f"{COHORT_NAMES[cohort]}: one outcome class, no test")
            continue
        scores = np.vstack([f.loc[common, "score"].to_numpy() for f in frames])
        for r in matrix(scores, y, names):
            rows.append(
                {
                    "Cohort": COHORT_NAMES[cohort],
                    "Model A": label(inp.spec, r["model_a"]),
                    "Model B": label(inp.spec, r["model_b"]),
                    "AUC A": f"{r['auc_a']:.3f}",
                    "AUC B": f"{r['auc_b']:.3f}",
                    "Z": f"{r['statistic']:.3f}",
                    "P": format_p(r["p_value"]),
                    "P (Holm)": format_p(r["p_holm"]),
                }
            )
            values.append({"cohort": cohort, **r})
    notes.insert(0, "paired two-sided DeLong tests; Holm adjustment within each cohort")
    cols = ["Cohort", "Model A", "Model B", "AUC A", "AUC B", "Z", "P", "P (Holm)"]
    return Table(pd.DataFrame(rows, columns=cols), values, notes + inp.notes)


def not_reproduced(item: dict, inp: Inputs) -> Table:
    return Table(
        pd.DataFrame(
            [{"Item": item["title"], "Status": "not reproduced", "Reason": item["reason"]}]
        ),
        [],
        [],
    )
