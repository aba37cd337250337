"""`hccer paper table|figure`: one table or figure of the study's paper from the run's files.

  table   STEM.csv, STEM.md, STEM.tex and STEM.json (the numbers behind the cells)
  figure  STEM.png (300 dpi), STEM.pdf and STEM.json

The item (`--item`) is looked up in the paper spec (`--spec`, written by the workflow from the
preset's `reproduce` block and the config's `stats` block). Give the files its kind reads:
--ledger for model tables and figures, --outcome/--folds (and --ivim for IVIM rows) for
cohort tables, --status/--flow for the flow diagram, --study and --crops for layer tables,
--crops/--gradcam for images, --records for odds-ratio tables, --sidecars for scan
characteristics.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def _inputs(args):
    from hccer.config import load_yaml
    from hccer.paper.inputs import Inputs

    spec = load_yaml(args.spec)
    return spec, Inputs(
        spec=spec,
        ledger=args.ledger,
        outcome=args.outcome,
        folds=args.folds,
        flow=args.flow,
        status=args.status,
        study=args.study,
        ivim=args.ivim,
        crops=list(args.crops or []),
        gradcam=list(args.gradcam or []),
        records=list(args.records or []),
        sidecars=list(args.sidecars or []),
    )


def _stem(path: str) -> str:
    for ext in (".csv", ".md", ".tex", ".json", ".png", ".pdf"):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path


def cmd_table(args) -> int:
    from hccer.errors import ConfigError
    from hccer.paper import tables
    from hccer.paper.output import write_table
    from hccer.paper.spec import find_item

    spec, inp = _inputs(args)
    section, item = find_item(spec, args.item)
    inp.what = f"item {item['id']} ({item['kind']})"
    if section != "tables":
        raise ConfigError(f"{args.item} is a figure; use `hccer paper figure`")
    table = tables.build(item, inp)
    paths = write_table(table, item, _stem(args.out), spec["stats"])
    print(
        f"{item['id']} ({item['kind']}): {len(table.frame)} rows -> "
        f"{', '.join(p.name for p in paths)}"
    )
    return 0


def cmd_figure(args) -> int:
    from hccer.errors import ConfigError
    from hccer.paper import figures
    from hccer.paper.output import write_figure
    from hccer.paper.spec import find_item

    spec, inp = _inputs(args)
    section, item = find_item(spec, args.item)
    inp.what = f"item {item['id']} ({item['kind']})"
    if section != "figures":
        raise ConfigError(f"{args.item} is a table; use `hccer paper table`")
    fig, values, notes = figures.build(item, inp)
    paths = write_figure(fig, values, notes, item, _stem(args.out), spec["stats"])
    print(f"{item['id']} ({item['kind']}) -> {', '.join(p.name for p in paths)}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "paper",
        help="the study's paper tables and figures",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ps = p.add_subparsers(dest="paper_command", metavar="<table|figure>")
    ps.required = True
    for name, func, what in (
        ("table", cmd_table, "one table (CSV, Markdown, LaTeX, JSON)"),
        ("figure", cmd_figure, "one figure (PNG, PDF, JSON)"),
    ):
        a = ps.add_parser(name, help=what)
        a.add_argument("--spec", required=True, help="paper spec YAML (workflow-written)")
        a.add_argument("--item", required=True, help="item id of the spec")
        a.add_argument("--out", required=True, help="output STEM (extensions are added)")
        a.add_argument("--ledger", help="prediction ledger CSV")
        a.add_argument("--outcome", help="cohort/outcome.tsv")
        a.add_argument("--folds", help="cohort/folds.json")
        a.add_argument("--flow", help="cohort/flow.json")
        a.add_argument("--status", help="qc/patient_status.tsv")
        a.add_argument("--study", help="the merged study preset YAML")
        a.add_argument("--ivim", help="cohort/ivim_features.tsv (IVIM rows of Table 1)")
        a.add_argument("--crops", nargs="*", help="crop arrays (.npz) and metadata (.json)")
        a.add_argument("--gradcam", nargs="*", help="Grad-CAM folders of trained models")
        a.add_argument("--records", nargs="*",
                       help="clinical model records (models/classical/fold-<k>_<name>.json)")
        a.add_argument("--sidecars", nargs="*",
                       help="native series sidecars (derivatives/.../*_desc-native.json)")
        a.set_defaults(func=func)
