"""The axes-level figure functions of `hccer.stats.figures` draw what the figure-level ones did:
ROC curves with their legend, and a Kaplan-Meier panel with an event-free group."""

from __future__ import annotations

from hccer.stats.figures import draw_roc, km_figure, pyplot_styled, roc_figure


def test_axes_level_roc_draws_the_figure_level_curves(tmp_path):
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


def test_km_panel_with_an_event_free_group(tmp_path):
    groups = [
        {"name": "high", "time": [3.0, 5.0, 8.0], "event": [1, 1, 0]},
        {"name": "low", "time": [10.0, 12.0], "event": [0, 0]},
    ]
    paths = km_figure(groups, tmp_path / "km", logrank_p=0.04)
    assert all(p.stat().st_size > 1000 for p in paths)
