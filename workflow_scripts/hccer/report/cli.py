"""`hccer report comparison | tripod | provenance`: the reproduction report of one run."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="published-vs-reproduced table, TRIPOD+AI, provenance")
    rs = p.add_subparsers(dest="report_command", metavar="<part>")
    rs.required = True

    c = rs.add_parser(
        "comparison",
        help="the paper's headline numbers beside this run's",
        description="Compute every published number of the study preset from "
        "the prediction ledger the way the paper did, write them side by side "
        "(Markdown and TSV), and give the reason for any not run.",
    )
    c.add_argument("--study", required=True, help="merged study preset (YAML)")
    c.add_argument("--published", required=True, help="the preset's published block (YAML)")
    c.add_argument("--ledger", help="prediction ledger CSV (absent: no model track ran)")
    c.add_argument("--folds", required=True, help="cohort/folds.json")
    c.add_argument("--flow", required=True, help="cohort/flow.json")
    c.add_argument("--source", required=True, choices=["synthetic", "cohort"])
    c.add_argument("--synthetic", help="the synthetic twin's cohort.json")
    c.add_argument("--seed", type=int, default=0, help="bootstrap seed (bootstrap CIs only)")
    c.add_argument("--demo-settings", default="",
                   help="comma-separated preset keys the demo block changed (empty: none)")
    c.add_argument("--out", required=True, help="comparison Markdown")
    c.add_argument("--table", required=True, help="comparison TSV")
    c.set_defaults(func=run_comparison)

    t = rs.add_parser("tripod", help="TRIPOD+AI checklist filled from the run's metadata")
    t.add_argument(
        "--root",
        required=True,
        help="results/<study> (evidence links are relative to --out, which must lie in it)",
    )
    t.add_argument("--provenance", required=True, help="provenance.json")
    t.add_argument(
        "--comparison", help="comparison TSV (absent: the preset has no published block)"
    )
    t.add_argument("--flow", required=True)
    t.add_argument("--status", required=True, help="qc/patient_status.tsv")
    t.add_argument("--folds", required=True)
    t.add_argument("--fold-table", required=True, help="cohort/fold_table.tsv")
    t.add_argument("--ledger", help="prediction ledger CSV")
    t.add_argument("--out", required=True, help="checklist Markdown")
    t.set_defaults(func=run_tripod)

    v = rs.add_parser(
        "provenance",
        help="config, seeds, versions and input hashes of a run",
        description="Record what produced this run: the resolved config "
        "(without the salt), the merged preset, every seed, package versions, "
        "the workflow's git commit and SHA-256 hashes of the inputs, per patient "
        "keyed by pseudonym.",
    )
    v.add_argument("--config", required=True, help="the run's resolved config (YAML)")
    v.add_argument("--study", required=True, help="merged study preset (YAML)")
    v.add_argument("--published", required=True, help="the preset's published block (YAML)")
    v.add_argument("--pseudonyms", required=True, help="private pseudonym map TSV")
    v.add_argument("--dicom-root", required=True, help="one sub-folder per patient code")
    v.add_argument("--clinical", required=True, help="clinical sheet")
    v.add_argument("--masks", required=True, help="mask sheet TSV")
    v.add_argument("--folds", help="cohort/folds.json (split seed)")
    v.add_argument("--synthetic", help="the synthetic twin's cohort.json")
    v.add_argument("--paper-spec", help="the paper tables and figures spec (YAML)")
    v.add_argument("--workflow-dir", help="workflow checkout (git commit)")
    v.add_argument("--threads", type=int, default=1)
    v.add_argument("--out", required=True, help="provenance JSON")
    v.set_defaults(func=run_provenance)


def _study(args) -> dict:
    from hccer.config import load_yaml
    from hccer.study import load_view

    study = load_view(args.study).to_dict()
    if getattr(args, "published", None):
        study["published"] = load_yaml(args.published)
    return study


def _json(path):
    from hccer.jsonio import read_json

    return read_json(path) if path else None


def run_comparison(args) -> int:
    from hccer.jsonio import write_text
    from hccer.ledger import read_ledger
    from hccer.report import compare as C
    from hccer.report.published import check_published

    study = _study(args)
    block = check_published(study)
    ledger = read_ledger(args.ledger) if args.ledger else None
    table = C.compare(ledger, study, block, args.seed)
    others = C.other_models(ledger, study, block, args.seed)
    data = C.data_text(args.source, _json(args.synthetic), _json(args.flow), _json(args.folds))
    check = C.twin_check(ledger, _json(args.synthetic)) if args.source == "synthetic" else ""
    from hccer.config import settings_statement

    demo = [k for k in args.demo_settings.split(",") if k]
    write_text(args.out, C.render_markdown(table, others, study, block, data,
                                           settings_statement(dict.fromkeys(demo)))
               + ("\n" + check if check else ""))
    write_text(args.table, C.tsv(table))
    counts = table["status"].value_counts().to_dict()
    print(
        f"{study['key']}: {len(table)} published numbers; "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f" -> {args.out}"
    )
    return 0


def run_tripod(args) -> int:
    import csv

    from hccer.jsonio import read_json, write_text
    from hccer.report import tripod as T
    from hccer.report.summary import ledger_models

    def tsv(path):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f, delimiter="\t"))

    prov = read_json(args.provenance)
    study = prov["study_preset"]  # merged preset with its published block
    meta = T.RunMeta(
        study=study,
        config=prov["config"],
        flow=read_json(args.flow),
        status=tsv(args.status),
        folds=read_json(args.folds),
        fold_table=tsv(args.fold_table),
        ledger_models=ledger_models(args.ledger) if args.ledger else [],
        comparison=tsv(args.comparison) if args.comparison else [],
        synthetic=prov.get("synthetic_twin"),
        paper=prov.get("paper_spec"),
        root=Path(args.root),
    )
    items = T.build_checklist(meta)
    write_text(args.out, T.render(items, study))
    print(f"{study['key']}: TRIPOD+AI {len(items)} items -> {args.out}")
    return 0


def run_provenance(args) -> int:
    from hccer.config import load_yaml
    from hccer.jsonio import write_json
    from hccer.report import provenance as P

    config = load_yaml(args.config)
    study = _study(args)
    pseudonyms = P.read_pseudonyms(args.pseudonyms)
    hashes = P.input_hashes(pseudonyms, args.dicom_root, args.clinical, args.masks, args.threads)
    rec = P.build(
        config, study, _json(args.folds), hashes, _json(args.synthetic), args.workflow_dir
    )
    if args.paper_spec:
        rec["paper_spec"] = load_yaml(args.paper_spec)
    write_json(args.out, rec)
    print(f"{study['key']}: provenance of {len(hashes['patients'])} patients -> {args.out}")
    return 0
