"""CLI: hccer outcome | split | status (cohort-level steps)."""

from __future__ import annotations

import logging
from pathlib import Path

from hccer.study import load_view

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("outcome", help="derive the ER label and survival columns from follow-up",
                       description="Read the clinical sheet, check every value, derive ER at the "
                       "study horizon and write a pseudonymised cohort table (no dates). The salt is read "
                       "from the environment variable HCCER_PSEUDONYM_SALT.")
    p.add_argument("--clinical", required=True, help="clinical CSV (patient_code, dates, variables)")
    p.add_argument("--study", required=True, help="study preset YAML")
    p.add_argument("--columns", help="column dictionary JSON (types, units, levels)")
    p.add_argument("--out", required=True, help="cohort table TSV")
    p.add_argument("--flow", required=True, help="flow counts JSON")
    p.set_defaults(func=_outcome)

    p = sub.add_parser("split", help="patient-level seeded folds / hold-out sets (folds.json)")
    p.add_argument("--outcome", required=True, help="cohort table from `hccer outcome`")
    p.add_argument("--study", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--include", help="TSV with a `patient` column: only these are split")
    p.add_argument("--clinical", help="clinical CSV, needed for split by surgery date")
    p.add_argument("--out", required=True, help="folds.json")
    p.add_argument("--table", help="fold distribution TSV")
    p.set_defaults(func=_split)

    p = sub.add_parser("status", help="per-patient status table and run summary")
    p.add_argument("--study", required=True)
    p.add_argument("--screen", required=True)
    p.add_argument("--outcome", required=True)
    p.add_argument("--gate", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--unmatched-mask-lines", help="comma-separated mask sheet lines that name "
                   "no patient folder (reported in the summary)")
    p.set_defaults(func=_status)


def _outcome(args) -> int:
    import pandas as pd

    from hccer.cohort import clinical, outcome
    from hccer.errors import InputError
    from hccer.ids import PATIENT_CODE, check_patient_code, pseudonymise, salt_from_env
    from hccer.jsonio import read_json, write_json, write_text

    study = load_view(args.study, "outcome")
    df = clinical.read_sheet(args.clinical)
    sheet_problems = outcome.check_sheet(df, Path(args.clinical).name)
    fatal = [p for p in sheet_problems if p["patient"] is None and "lacks required" in p["reason"]]
    if fatal:
        raise InputError(fatal[0]["reason"], file=args.clinical)
    bad_rows: dict[str, list[str]] = {}
    for p in sheet_problems:
        bad_rows.setdefault(str(p["patient"]), []).append(p["reason"])
    codes = set(df[PATIENT_CODE].dropna().astype(str))
    for code in list(bad_rows):
        if code.strip() != code and code.strip() in codes:
            bad_rows.setdefault(code.strip(), []).append(
                "the sheet lists this patient code twice, once with spaces around it")
    ok_ids = df[PATIENT_CODE].notna() & ~df[PATIENT_CODE].astype(str).isin(bad_rows)
    policy = outcome.OutcomePolicy(int(study["outcome"]["horizon_days"]),
                                   int(study["outcome"]["min_followup_days"]))
    res = outcome.derive_outcome(df[ok_ids], policy)
    dictionary = (clinical.normalise_dictionary(read_json(args.columns)) if args.columns
                  else clinical.implied_dictionary(study))
    value_problems = clinical.check_values(df[ok_ids], dictionary)
    if "*" in value_problems:
        raise InputError("; ".join(value_problems["*"]), file=Path(args.clinical).name)
    variables = [c for c in df.columns if c != PATIENT_CODE and not c.endswith("_date")]
    merged = res.merge(df[ok_ids][[PATIENT_CODE, *variables]], on=PATIENT_CODE, how="left")
    merged.insert(1, "step", "outcome")
    for i, row in merged.iterrows():
        vp = value_problems.get(row[PATIENT_CODE])
        if vp:
            merged.loc[i, ["included", "step", "reason"]] = [False, "clinical", "; ".join(vp)]
    # a rejected row is listed under the pseudonym of its code, when the code (spaces around it
    # removed) can be one: so the patient's DICOM folder meets the reason; the other rows are
    # unusable rows of flow.json
    by_key: dict[str, list[str]] = {}
    unusable: list[str] = []
    for code, reasons in bad_rows.items():
        if code in ("None", "nan") or check_patient_code(code.strip()):
            unusable.extend(reasons)
        else:
            by_key.setdefault(code.strip(), []).extend(reasons)
    rejected = [{PATIENT_CODE: key, "step": "clinical", "included": False,
                 "reason": "; ".join(reasons)} for key, reasons in by_key.items()]
    if rejected:
        merged = pd.concat([merged, pd.DataFrame(rejected)], ignore_index=True)
    salt = salt_from_env()
    merged.insert(0, "patient", [pseudonymise(c, salt) for c in merged[PATIENT_CODE]])
    merged = merged.drop(columns=PATIENT_CODE).sort_values("patient")
    write_text(args.out, merged.to_csv(sep="\t", index=False))
    flow = outcome.flow_counts(res)
    flow["n_excluded_clinical_values"] = int(sum(1 for v in value_problems.values() if v))
    flow["n_sheet_rows"] = int(len(df))
    flow["unusable_rows"] = [p["reason"] for p in sheet_problems if p["patient"] is None]
    flow["unusable_rows"] += unusable
    write_json(args.flow, flow)
    inc = merged["included"].astype(bool)
    print(f"outcome: {int(inc.sum())} of {len(merged)} patients labelled "
          f"(ER {int((merged.loc[inc, 'er'] == 1).sum())}); excluded {int((~inc).sum())}")
    return 0


def _split(args) -> int:
    import pandas as pd

    from hccer.cohort.split import fold_table, make_split
    from hccer.errors import InputError
    from hccer.ids import PATIENT_CODE, pseudonymise, salt_from_env
    from hccer.jsonio import write_json, write_text

    study = load_view(args.study, "split")
    tab = pd.read_csv(args.outcome, sep="\t")
    tab = tab[tab["included"].astype(bool)]
    if args.include:
        inc = pd.read_csv(args.include, sep="\t")
        if "ok" in inc.columns:  # a gate table: only patients that passed
            inc = inc[inc["ok"].astype(str).str.lower() == "true"]
        keep = set(inc["patient"])
        tab = tab[tab["patient"].isin(keep)]
    spec = study["split"]
    if spec["method"] == "holdout_date":
        if not args.clinical:
            raise InputError("a split by surgery date needs --clinical")
        from hccer.cohort import clinical

        sheet = clinical.read_sheet(args.clinical)
        salt = salt_from_env()
        dates = {pseudonymise(c, salt): d
                 for c, d in zip(sheet[PATIENT_CODE], sheet["surgery_date"], strict=True)}
        tab = tab.assign(surgery_date=tab["patient"].map(dates))
    if len(tab) == 0:
        raise InputError("no patient is left to split (all excluded; see patient_status.tsv)")
    try:
        split = make_split(tab[[c for c in ("patient", "er", "surgery_date") if c in tab]],
                           spec, args.seed)
    except ValueError as exc:
        raise InputError(f"cannot split {len(tab)} patients: {exc}") from None
    write_json(args.out, split)
    if args.table:
        write_text(args.table, fold_table(split).to_csv(sep="\t", index=False))
    print(f"split: {spec['method']}, {len(split['folds'])} outer fold(s), {len(tab)} patients")
    return 0


def _status(args) -> int:
    import pandas as pd

    from hccer.cohort.status import combine, summary_markdown
    from hccer.jsonio import write_text

    study = load_view(args.study, "core")
    screen = pd.read_csv(args.screen, sep="\t", keep_default_na=False)
    gate = pd.read_csv(args.gate, sep="\t", keep_default_na=False)
    out = pd.read_csv(args.outcome, sep="\t", keep_default_na=False)
    out_stage = pd.DataFrame({"patient": out["patient"], "step": out["step"],
                              "ok": out["included"].astype(str).str.lower() == "true",
                              "reason": out["reason"], "warnings": ""})
    patients = sorted(set(screen["patient"]) | set(out["patient"]))
    no_images = sorted(set(out["patient"]) - set(screen["patient"]))
    stages = [screen.assign(ok=screen["ok"].astype(str).str.lower() == "true"), out_stage,
              gate.assign(ok=gate["ok"].astype(str).str.lower() == "true")]
    if no_images:
        stages.append(pd.DataFrame({"patient": no_images, "step": "ingest", "ok": False,
                                    "reason": "in the clinical sheet but no images were found",
                                    "warnings": ""}))
    no_sheet = sorted(set(screen["patient"]) - set(out["patient"]))
    if no_sheet:
        stages.append(pd.DataFrame({"patient": no_sheet, "step": "clinical", "ok": False,
                                    "reason": "images found but the patient is not in the "
                                              "clinical sheet", "warnings": ""}))
    table = combine(stages, patients)
    write_text(args.out, table.to_csv(sep="\t", index=False))
    notes = []
    if args.unmatched_mask_lines:
        notes.append(f"Mask sheet lines that name no patient folder (their masks are not used): "
                     f"{args.unmatched_mask_lines.replace(',', ', ')}.")
    write_text(args.summary, summary_markdown(table, study["key"], notes))
    n_exc = int((table["status"] == "excluded").sum())
    print(f"status: {len(table) - n_exc} included, {n_exc} excluded (see {args.summary})")
    return 0
