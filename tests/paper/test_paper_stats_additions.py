"""What the paper builders added to hccer.stats: Table 1 keeps declared levels (zero counts
included, outside the test) and prints counts only on request; the LaTeX writer escapes the
symbols the paper tables use; the axes-level figure functions draw what the figure-level
ones did."""

from __future__ import annotations

import pandas as pd
import pytest
from hccer.stats import table1 as t1
from hccer.stats.tables import to_latex


def _frame(counts: dict[str, tuple[int, int]], levels: list[str]) -> pd.DataFrame:
    """Patients from per-level (NER, ER) counts, the variable as a Categorical."""
    rows = [
        (lv, g)
        for lv, (ner, er) in counts.items()
        for g, n in (("NER", ner), ("ER", er))
        for _ in range(n)
    ]
    df = pd.DataFrame(rows, columns=["v", "grp"])
    df["v"] = pd.Categorical(df["v"], categories=levels)
    return df


def test_declared_levels_keep_order_and_zero_rows_paper000_alb():
    # seed-000-001 Table 1, ALB: >=40 100/65, <40 2/0 (NER/ER); printed p 0.256
    df = _frame({"≥40": (100, 65), "<40": (2, 0)}, ["≥40", "<40", "not measured"])
    tab = t1.build_table1(df, "grp", ["v"], rule="pearson")
    assert list(tab["level"]) == ["≥40", "<40", "not measured"]
    assert list(tab["ER"]) == ["65 (100.0)", "0 (0.0)", "0 (0.0)"]
    assert tab.loc[0, "p"] == "0.256"


def test_bclc_with_an_empty_level_gives_the_4x2_p():
    # seed-000-001 Table 1, BCLC 0/A/B/C (printed <0.001); a declared level D nobody has
    counts = {"0": (17, 5), "A": (78, 39), "B": (1, 3), "C": (6, 18)}
    tab = t1.build_table1(_frame(counts, ["0", "A", "B", "C", "D"]), "grp", ["v"], "pearson")
    ref = t1.contingency_test([[17, 5], [78, 39], [1, 3], [6, 18]], "pearson")
    assert tab.loc[0, "p_value"] == pytest.approx(ref["p_value"])
    assert tab.loc[0, "p"] == "<0.001" and list(tab["NER"])[-1] == "0 (0.0)"


def test_counts_only_cells():
    df = _frame({"M": (93, 64), "F": (12, 9)}, ["M", "F"])  # seed-004 Table S4, sex
    tab = t1.build_table1(df, "grp", ["v"], "pearson_fisher5_2x2", percent=False)
    assert list(tab["NER"]) == ["93", "12"] and list(tab["Total"]) == ["157", "21"]
    assert tab.loc[0, "p"] == "0.855"  # printed .855


def test_latex_escapes_paper_symbols():
    tex = to_latex(pd.DataFrame({"Intra-phase": ["✓"], "HBsAg": ["−"], "TB (µmol/L)": ["χ²"]}))
    assert "\\checkmark{}" in tex and "$-$" in tex and "$\\mu$" in tex and "$\\chi$$^2$" in tex


def test_axes_level_roc_draws_the_figure_level_curves(tmp_path):
    from hccer.stats.figures import draw_roc, pyplot_styled, roc_figure

    curve = {
        "name": "m",
        "fpr": [0, 0.5, 1],
        "tpr": [0, 1, 1],
        "auc": 0.75,
        "ci_low": 0.5,
        "ci_high": 1.0,
    }
    paths = roc_figure([curve], tmp_path / "roc")
    assert all(p.stat().st_size > 1000 for p in paths)
    fig, ax = pyplot_styled().subplots()
    draw_roc(ax, [curve])
    assert ax.get_legend().get_texts()[0].get_text() == "m: 0.750 (0.500–1.000)"
    assert list(ax.get_lines()[1].get_xdata()) == [0, 0.5, 1]


def test_calibration_of_equal_risks_has_no_slope_but_a_curve():
    import math

    from hccer.stats.calibration import calibration

    c = calibration([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0], groups=10)
    assert math.isnan(c["slope"]) and math.isnan(c["intercept"])
    assert c["brier"] == 0.25 and c["hl_df"] == -1
    assert [(p["predicted"], p["observed"], p["n"]) for p in c["curve"]] == [(0.5, 0.5, 4)]


def test_km_panel_with_an_event_free_group(tmp_path):
    from hccer.stats.figures import km_figure

    groups = [
        {"name": "high", "time": [3.0, 5.0, 8.0], "event": [1, 1, 0]},
        {"name": "low", "time": [10.0, 12.0], "event": [0, 0]},
    ]
    paths = km_figure(groups, tmp_path / "km", logrank_p=0.04)
    assert all(p.stat().st_size > 1000 for p in paths)
