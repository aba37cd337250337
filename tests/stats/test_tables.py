"""The LaTeX writer of `hccer.stats.tables` escapes the symbols the paper tables use."""

from __future__ import annotations

import pandas as pd
from hccer.stats.tables import to_latex


def test_latex_escapes_paper_symbols():
    tex = to_latex(pd.DataFrame({"Intra-phase": ["✓"], "HBsAg": ["−"], "TB (µmol/L)": ["χ²"]}))
    assert "\\checkmark{}" in tex and "$-$" in tex and "$\\mu$" in tex and "$\\chi$$^2$" in tex
