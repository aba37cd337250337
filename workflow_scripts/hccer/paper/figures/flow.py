"""The patient flow diagram: counts per step and exclusion reason from the status table and the
split."""

from __future__ import annotations

import pandas as pd

from hccer.cohort.status import reason_kind
from hccer.errors import InputError
from hccer.paper.figures.base import styled_pyplot
from hccer.paper.inputs import Inputs
from hccer.paper.tables.format import (
    COHORT_NAMES,
)

# -- flow diagram --------------------------------------------------------------------------------
STEP_TEXT = {
    "ingest": "Image data unusable",
    "clinical": "Clinical data invalid",
    "outcome": "Outcome unknown at the horizon",
    "registration": "Registration QC failed",
}


def flow_counts(status: pd.DataFrame, split: dict) -> dict:
    """Counts for the flow diagram from patient_status.tsv and folds.json."""
    exc = status[status["status"] == "excluded"]
    steps = []
    for step in ("ingest", "clinical", "outcome", "registration"):
        sub = exc[exc["step"] == step]
        if len(sub):
            kinds = sub["reason"].map(reason_kind).value_counts()
            steps.append(
                {
                    "step": step,
                    "n": int(len(sub)),
                    "reasons": [{"reason": k, "n": int(v)} for k, v in kinds.items()],
                }
            )
    other = exc[~exc["step"].isin(list(STEP_TEXT))]
    if len(other):
        steps.append({"step": "other", "n": int(len(other)), "reasons": []})
    assign = pd.DataFrame(split["assignment"])
    sides = []
    if split["method"] == "kfold":
        sizes = [len(f["test"]) for f in split["folds"]]
        er = dict(zip(assign["patient"], assign["er"], strict=True))
        ers = [sum(er[p] for p in f["test"]) for f in split["folds"]]
        sides.append(
            {
                "name": f"{len(sizes)}-fold cross-validation",
                "text": f"{min(sizes)}–{max(sizes)} test patients per fold\n"
                f"(ER {min(ers)}–{max(ers)} per fold)",
            }
        )
    else:
        for cohort in ("train", "test"):
            sub = assign[assign["cohort"] == cohort]
            sides.append(
                {
                    "name": COHORT_NAMES[cohort] + " cohort",
                    "text": f"n = {len(sub)}\nER {int(sub['er'].sum())}, "
                    f"NER {int((sub['er'] == 0).sum())}",
                }
            )
    return {
        "n_found": int(len(status)),
        "excluded": steps,
        "n_excluded": int(len(exc)),
        "n_analysed": int(len(assign)),
        "n_er": int(assign["er"].sum()),
        "n_included_status": int((status["status"] == "included").sum()),
        "sides": sides,
    }


def flow(item: dict, inp: Inputs):
    from hccer.jsonio import read_json

    status = pd.read_csv(inp.need("status"), sep="\t", dtype=str, keep_default_na=False)
    missing = {"patient", "status", "step", "reason"} - set(status.columns)
    if missing:
        raise InputError(f"patient status table lacks column(s) {sorted(missing)}", file=inp.status)
    counts = flow_counts(status, inp.split)
    notes = []
    if inp.flow:
        fl = read_json(inp.flow)
        counts["n_sheet_rows"] = fl.get("n_sheet_rows")
    if counts["n_included_status"] != counts["n_analysed"]:
        notes.append(
            f"{counts['n_included_status']} patients passed every check but the split "
            f"holds {counts['n_analysed']}"
        )
    plt = styled_pyplot()
    lines = sum(2 + len(s["reasons"][:3]) for s in counts["excluded"]) or 1
    fig, ax = plt.subplots(figsize=(7.2, 5.2 + 0.12 * lines))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.5", "fc": "white", "ec": "0.2", "lw": 0.9}
    ebox = dict(box, fc="0.96", ec="0.45")

    def node(x, y, text, style=box, **kw):
        return ax.text(x, y, text, ha="center", va="center", bbox=style, fontsize=8.5, **kw)

    def arrow(x0, y0, x1, y1):
        ax.annotate(
            "", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "-|>", "lw": 0.9, "color": "0.2"}
        )

    found = f"Patients found (images or clinical sheet)\nn = {counts['n_found']}"
    if counts.get("n_sheet_rows") is not None:
        found += f"; clinical sheet rows: {counts['n_sheet_rows']}"
    node(3.2, 9.3, found)
    if counts["excluded"]:
        parts = [f"Excluded (n = {counts['n_excluded']})"]
        for s in counts["excluded"]:
            parts.append(f"{STEP_TEXT.get(s['step'], s['step'])}: {s['n']}")
            parts += [f"   · {r['reason']} ({r['n']})" for r in s["reasons"][:3]]
            if len(s["reasons"]) > 3:
                parts.append(f"   · {len(s['reasons']) - 3} other reason(s)")
        node(7.1, 7.0, "\n".join(parts), ebox, wrap=False, multialignment="left")
        ax.annotate(
            "", (5.0, 7.0), (3.2, 7.0), arrowprops={"arrowstyle": "-|>", "lw": 0.9, "color": "0.2"}
        )
    else:
        node(7.1, 7.0, "Excluded: none", ebox)
        ax.annotate(
            "", (6.0, 7.0), (3.2, 7.0), arrowprops={"arrowstyle": "-|>", "lw": 0.9, "color": "0.2"}
        )
    arrow(3.2, 8.75, 3.2, 5.3)
    node(
        3.2,
        4.75,
        f"Analysed\nn = {counts['n_analysed']} (ER {counts['n_er']}, NER "
        f"{counts['n_analysed'] - counts['n_er']})",
    )
    xs = [3.2] if len(counts["sides"]) == 1 else [1.7, 4.7]
    for x, side in zip(xs, counts["sides"], strict=True):
        arrow(3.2, 4.2, x, 2.3)
        node(x, 1.6, f"{side['name']}\n{side['text']}")
    return fig, [counts], notes
