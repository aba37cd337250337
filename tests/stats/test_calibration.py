"""Calibration of `hccer.stats.calibration` on equal predicted risks: no slope or intercept can
be fitted, but the Brier score and the one-group calibration curve still come out."""

from __future__ import annotations

import math

from hccer.stats.calibration import calibration


def test_calibration_of_equal_risks_has_no_slope_but_a_curve():
    c = calibration([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0], groups=10)
    assert math.isnan(c["slope"]) and math.isnan(c["intercept"])
    assert c["brier"] == 0.25 and c["hl_df"] == -1
    assert [(p["predicted"], p["observed"], p["n"]) for p in c["curve"]] == [(0.5, 0.5, 4)]
