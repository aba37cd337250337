"""Facts of a run for the HTML report's front page, read from whatever the run has written.

Snakemake renders the front page (report/workflow.rst) with the config only, so the Snakefile
attaches this summary to the config when it is parsed for `snakemake --report`. It reads small
tables only; a file not written yet leaves its facts out.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path

from hccer.report.published import model_sources


def _read_tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def ledger_models(path: str | Path) -> list[str]:
    """Model names of a ledger CSV, without loading it as a table."""
    with open(path, newline="", encoding="utf-8") as f:
        return sorted({row["model"] for row in csv.DictReader(f)})


def run_summary(
    root: str | Path, study: Mapping, source: str, synthetic_record: str | Path | None = None
) -> dict:
    root = Path(root)
    out: dict = {
        "title": study["title"],
        "modality": study["modality"],
        "phases": ", ".join(study["phases"]),
        "split": study["split"]["method"],
        "models_configured": ", ".join(sorted(model_sources(study))) or "none",
        "source": source,
    }
    status = root / "qc" / "patient_status.tsv"
    if status.is_file():
        rows = _read_tsv(status)
        inc = sum(r["status"] == "included" for r in rows)
        by_step: dict[str, int] = {}
        for r in rows:
            if r["status"] != "included":
                by_step[r["step"]] = by_step.get(r["step"], 0) + 1
        out.update(
            n_found=len(rows),
            n_included=inc,
            n_excluded=len(rows) - inc,
            excluded_by_step=", ".join(f"{k} {v}" for k, v in sorted(by_step.items())) or "none",
        )
    flow = root / "cohort" / "flow.json"
    if flow.is_file():
        f = json.loads(flow.read_text(encoding="utf-8"))
        out.update(n_er=f.get("n_er"), n_ner=f.get("n_ner"))
    ledger = root / "ledger" / "ledger.csv"
    if ledger.is_file():
        out["models_run"] = ", ".join(ledger_models(ledger))
    if synthetic_record and Path(synthetic_record).is_file():
        s = json.loads(Path(synthetic_record).read_text(encoding="utf-8"))
        o = s.get("oracle_auc", {})
        out["synthetic"] = (
            f"n = {s['n']}, seed {s['seed']}, generator "
            f"{s.get('generator_version')}, oracle AUC overall "
            f"{o.get('overall', float('nan')):.3f} (image-only "
            f"{o.get('image_only', float('nan')):.3f}, clinical-only "
            f"{o.get('clinical_only', float('nan')):.3f}; learnable image ceiling at this "
            f"size {o.get('image_learnable_cv5') or float('nan'):.3f})"
        )
    return out
