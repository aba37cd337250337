"""`hccer classical clinical|radiomics|staging`: per-fold model jobs writing ledger parts."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _common(p: argparse.ArgumentParser, fold: bool = True) -> None:
    p.add_argument("--study", required=True, help="merged study preset (YAML)")
    p.add_argument("--outcome", required=True, help="cohort/outcome.tsv")
    p.add_argument("--folds", required=True, help="cohort/folds.json")
    if fold:
        p.add_argument("--fold", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True, help="ledger part (CSV)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classical", help="clinical, radiomics and staging models -> ledger")
    cs = p.add_subparsers(dest="classical_command", metavar="<model>")
    cs.required = True

    c = cs.add_parser("clinical", help="the study's clinical model on one fold")
    _common(c)
    c.add_argument("--ivim", help="IVIM features TSV (patient, D, Dstar, f, ADC) to join")
    c.add_argument("--record", required=True, help="JSON: selected variables, ORs, weights")
    c.set_defaults(func=run_clinical)

    r = cs.add_parser("radiomics", help="selection funnel + classifiers on one fold")
    _common(r)
    r.add_argument("--features", required=True, help="wide feature table (TSV)")
    r.add_argument("--icc", help="ICC table (TSV) for the icc step")
    r.add_argument("--clinical-record", help="the fold's clinical record (combined model)")
    r.add_argument("--record", required=True, help="JSON: selected features, coefficients")
    r.set_defaults(func=run_radiomics)

    s = cs.add_parser("staging", help="staging-system and blood-ratio comparator scores")
    _common(s, fold=False)
    s.set_defaults(func=run_staging)


def _load(args, view: str):
    from hccer.classical.clinical import outcome_frame
    from hccer.jsonio import read_json
    from hccer.study import load_view

    return load_view(args.study, view), outcome_frame(args.outcome), read_json(args.folds)


def _write(args, ledger, record=None, record_path=None) -> None:
    from hccer.jsonio import provenance, write_json
    from hccer.ledger import write_part

    ledger = write_part(args.out, [ledger])
    if record_path:
        write_json(record_path, {**record, "provenance": provenance(args.seed)})
    print(f"{args.classical_command}: {len(ledger)} ledger rows, models "
          f"{', '.join(sorted(ledger['model'].unique()))} -> {args.out}")


def _block(study: Mapping, name: str):
    from hccer.errors import ConfigError

    block = study.get(name)
    if not block:
        raise ConfigError(f"study {study.get('key')} has no '{name}' block")
    return block


def run_clinical(args) -> int:
    import pandas as pd

    from hccer.classical.fit import fit_clinical_fold
    from hccer.errors import InputError

    study, outcome, split = _load(args, "clinical")
    extra = None
    if args.ivim:
        extra = pd.read_csv(args.ivim, sep="\t", dtype={"patient": str}).set_index("patient")
        missing = sorted(set(outcome.index) - set(extra.index))
        if missing:
            raise InputError(f"no IVIM parameters for patient(s) {', '.join(missing[:5])}",
                             file=args.ivim)
        extra = extra.astype(str)
    ledger, record = fit_clinical_fold(outcome, split, args.fold, _block(study, "clinical"),
                                       args.seed, extra, file=args.outcome)
    _write(args, ledger, record, args.record)
    return 0


def run_radiomics(args) -> int:
    import pandas as pd

    from hccer.classical.clinical import code_table
    from hccer.classical.fit import fit_radiomics_fold
    from hccer.jsonio import read_json
    from hccer.radiomics.table import read_features

    study, outcome, split = _load(args, "classical")
    block = dict(_block(study, "classical"))
    features = read_features(args.features)
    icc = None
    if args.icc:
        icc = pd.read_csv(args.icc, sep="\t").set_index("feature")["icc"]
    design = None
    if args.clinical_record and block.get("combined"):
        chosen = read_json(args.clinical_record)["selected"]
        specs = [v for v in _block(study, "clinical")["variables"] if v["name"] in chosen]
        design = code_table(outcome, specs, args.outcome)
    ledger, record = fit_radiomics_fold(features, outcome, split, args.fold, block, args.seed,
                                        icc, design)
    _write(args, ledger, record, args.record)
    return 0


def run_staging(args) -> int:
    from hccer.classical.fit import staging_rows

    study, outcome, split = _load(args, "clinical")
    block = _block(study, "clinical").get("staging")
    if not block:
        from hccer.errors import ConfigError

        raise ConfigError(f"study {study.get('key')} has no clinical.staging block")
    _write(args, staging_rows(outcome, split, block, args.seed, file=args.outcome))
    return 0
