"""Table builders: `build(item, inputs) -> Table`, one per kind, in modules by what a table
shows (cohort, performance, survival, comparison). Every statistic comes from `hccer.stats`; a
builder selects ledger rows, applies the item's threshold rule and lays the numbers out in the
paper's rows and columns."""

from __future__ import annotations

from hccer.paper.inputs import Inputs
from hccer.paper.output import Table
from hccer.paper.tables.cohort import fold_distribution, scan_characteristics, table1
from hccer.paper.tables.comparison import delong_matrix, not_reproduced
from hccer.paper.tables.performance import fold_metrics, holdout_metrics, odds_ratios
from hccer.paper.tables.survival import km_summary

BUILDERS = {
    "table1": table1,
    "fold_distribution": fold_distribution,
    "odds_ratios": odds_ratios,
    "scan_characteristics": scan_characteristics,
    "fold_metrics": fold_metrics,
    "holdout_metrics": holdout_metrics,
    "km_summary": km_summary,
    "delong_matrix": delong_matrix,
    "not_reproduced": not_reproduced,
}


def build(item: dict, inp: Inputs) -> Table:
    if item["kind"] == "model_summary":
        from hccer.paper.netsummary import model_summary

        return model_summary(item, inp)
    return BUILDERS[item["kind"]](item, inp)
