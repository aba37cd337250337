"""Writers: a table as CSV + Markdown + LaTeX (+ JSON with the numbers behind it), a figure as
PNG + PDF (+ JSON). CSV holds the table only; Markdown and LaTeX add the title and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hccer.jsonio import provenance, write_json, write_text
from hccer.stats.tables import latex_escape, to_csv, to_latex, to_markdown


@dataclass
class Table:
    frame: pd.DataFrame  # display cells, in the paper's order
    values: list[dict] = field(default_factory=list)  # numbers behind the cells
    notes: list[str] = field(default_factory=list)


def _notes(item: dict, notes: list[str]) -> list[str]:
    return ([item["note"]] if item.get("note") else []) + list(dict.fromkeys(notes))


def write_table(table: Table, item: dict, stem: str | Path, stats: dict) -> list[Path]:
    stem = Path(stem)
    notes = _notes(item, table.notes)
    md = f"**{item['title']}**\n\n" + to_markdown(table.frame)
    if notes:
        md += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    tex = to_latex(table.frame, caption=item["title"], label=f"tab:{item['id']}")
    if notes:
        body = "\\par\\footnotesize " + " \\par ".join(latex_escape(n) for n in notes) + "\n"
        tex = tex.replace("\\end{table}", body + "\\end{table}")
    paths = [stem.with_suffix(s) for s in (".csv", ".md", ".tex", ".json")]
    write_text(paths[0], to_csv(table.frame))
    write_text(paths[1], md)
    write_text(paths[2], tex)
    write_json(
        paths[3],
        {
            "id": item["id"],
            "title": item["title"],
            "kind": item["kind"],
            "columns": list(map(str, table.frame.columns)),
            "rows": table.frame.to_dict(orient="records"),
            "values": table.values,
            "notes": notes,
            "stats": stats,
            "provenance": provenance(stats.get("seed")),
        },
    )
    return paths


def write_figure(
    fig, values: list[dict], notes: list[str], item: dict, stem: str | Path, stats: dict
) -> list[Path]:
    from hccer.stats.figures import save

    stem = Path(stem)
    paths = save(fig, stem)
    write_json(
        stem.with_suffix(".json"),
        {
            "id": item["id"],
            "title": item["title"],
            "kind": item["kind"],
            "values": values,
            "notes": _notes(item, notes),
            "stats": stats,
            "provenance": provenance(stats.get("seed")),
        },
    )
    return [*paths, stem.with_suffix(".json")]
