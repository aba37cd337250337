"""Table writers: CSV, Markdown (GitHub pipe tables) and LaTeX (booktabs), written atomically."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from hccer.jsonio import write_text

_LATEX_ESCAPE = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                 "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                 "\\": r"\textbackslash{}", "±": r"$\pm$", "—": "---", "–": "--",
                 "≥": r"$\geq$", "≤": r"$\leq$", "<": r"$<$", ">": r"$>$",
                 "✓": r"\checkmark{}", "−": r"$-$", "µ": r"$\mu$", "²": r"$^2$",
                 "χ": r"$\chi$"}


def _cell(v, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def to_markdown(df: pd.DataFrame, digits: int = 3) -> str:
    head = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in df.itertuples(index=False):
        cells = [_cell(v, digits).replace("|", r"\|") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPE.get(ch, ch) for ch in text)


def to_latex(df: pd.DataFrame, digits: int = 3, caption: str | None = None,
             label: str | None = None) -> str:
    cols = "l" * len(df.columns)
    out = ["\\begin{table}[ht]", "\\centering"]
    if caption:
        out.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        out.append(f"\\label{{{label}}}")
    out += [f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
            " & ".join(latex_escape(str(c)) for c in df.columns) + " \\\\", "\\midrule"]
    for row in df.itertuples(index=False):
        out.append(" & ".join(latex_escape(_cell(v, digits)) for v in row) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(out) + "\n"


def to_csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def write_table(df: pd.DataFrame, stem: str | Path, digits: int = 3,
                caption: str | None = None) -> list[Path]:
    """Write <stem>.csv, <stem>.md and <stem>.tex; returns the paths."""
    stem = Path(stem)
    paths = [stem.with_suffix(".csv"), stem.with_suffix(".md"), stem.with_suffix(".tex")]
    write_text(paths[0], to_csv(df))
    write_text(paths[1], to_markdown(df, digits))
    write_text(paths[2], to_latex(df, digits, caption))
    return paths
