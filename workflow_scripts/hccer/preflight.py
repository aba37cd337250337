"""What `hccer check-config` checks before a run: the config the workflow will use (merged as
Snakemake merges it) and, for a site's cohort, every input file it names, opened and read.

Every problem is collected and reported at once, one line each (patient, file, what is wrong),
so a user fixes an export in one pass instead of one error per run. Unlike a workflow step this
runs on the user's own terminal and names patients by their site code, with the pseudonym the
run will give them: the code is what the user can look up.
"""

from __future__ import annotations

from pathlib import Path

from hccer.errors import ConfigError, InputError


def config_problems(config: dict, root: str | Path) -> tuple[dict | None, list[str]]:
    """(the validated study preset or None, every config-level problem)."""
    from hccer.config import check_demo_source, check_retired_keys, load_study, schema_problems
    from hccer.ids import project_salt

    root = Path(root)
    problems: list[str] = []
    try:
        check_retired_keys(config)
    except ConfigError as exc:
        return None, [str(exc)]
    problems += schema_problems(config, root / "config" / "schemas" / "config.schema.yaml",
                                "config")
    if problems:
        return None, problems
    study = None
    for check in (check_demo_source, project_salt):
        try:
            check(config)
        except ConfigError as exc:
            problems.append(str(exc))
    try:
        study = load_study(config, root)
    except ConfigError as exc:
        problems.append(str(exc))
    return study, problems


def cohort_problems(config: dict, study: dict, salt: str) -> list[str]:
    """Every problem of a site cohort's files: DICOM root, clinical sheet, column dictionary,
    mask sheet and each mask file it lists (none for the synthetic twin)."""
    from hccer.config import cohort_path_problems

    if config["data"]["source"] != "cohort":
        return []
    if problems := cohort_path_problems(config):
        return problems
    c = config["data"]["cohort"]
    codes = sorted(p.name for p in Path(c["dicom_root"]).iterdir() if p.is_dir())
    name = _namer(salt)
    out = [f"{name(code)}: DICOM folder {Path(c['dicom_root']).name}/{code} holds no file"
           for code in codes if not any(f.is_file() for f in (Path(c["dicom_root"]) / code)
                                        .rglob("*"))]
    out += _clinical_problems(c, study, codes, name)
    out += _mask_problems(Path(c["masks"]), study, codes, name)
    return out


def _namer(salt: str):
    from hccer.ids import check_patient_code, pseudonymise

    def name(code: str) -> str:
        if check_patient_code(code):
            return f"patient code on this row ({check_patient_code(code)})"
        return f"patient {code} ({pseudonymise(code, salt)})"

    return name


def _clinical_problems(c: dict, study: dict, codes: list[str], name) -> list[str]:
    import pandas as pd

    from hccer.cohort import clinical, outcome
    from hccer.ids import PATIENT_CODE
    from hccer.jsonio import read_json

    sheet = Path(c["clinical"]).name
    try:
        df = clinical.read_sheet(c["clinical"])
    except InputError as exc:
        return [str(exc)]
    out = [f"{name(p['patient']) if p['patient'] else 'clinical sheet'}, {sheet}: {p['reason']}"
           for p in outcome.check_sheet(df, sheet)]
    if PATIENT_CODE not in df.columns:
        return out
    try:
        dictionary = (clinical.normalise_dictionary(read_json(c["columns"])) if c.get("columns")
                      else clinical.implied_dictionary(study))
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        return out + [f"column dictionary {Path(c['columns']).name} cannot be read: "
                      f"{type(exc).__name__}: {exc}"]
    for code, reasons in clinical.check_values(df, dictionary).items():
        who = f"clinical sheet {sheet}" if code == "*" else f"{name(code)}, {sheet}"
        out += [f"{who}: {r}" for r in reasons]
    listed = set(df[PATIENT_CODE].dropna().astype(str).str.strip())
    out += [f"{name(code)}: DICOM folder but no row in {sheet}" for code in codes
            if code not in listed]
    out += [f"{name(code)}, {sheet}: a row but no DICOM folder under the DICOM root"
            for code in sorted(listed - set(codes)) if not pd.isna(code)]
    return out


def _mask_problems(sheet: Path, study: dict, codes: list[str], name) -> list[str]:
    import SimpleITK as sitk

    from hccer.ids import PATIENT_CODE
    from hccer.ingest.maskformats import mask_kind
    from hccer.ingest.masks import read_mask_sheet

    try:
        rows = read_mask_sheet(sheet)
    except InputError as exc:
        return [str(exc)]
    out = []
    for code in codes:
        have = {(r["phase"], r["reader"]) for r in rows if r[PATIENT_CODE] == code}
        out += [f"{name(code)}, {sheet.name}: no mask listed for phase {ph} (reader r1)"
                for ph in study["mask_phases"] if (ph, "r1") not in have]
    for row in rows:
        where = f"{sheet.name} line {row['line']}"
        if row[PATIENT_CODE] not in codes:
            out.append(f"{where}: patient code names no folder under the DICOM root")
            continue
        path = sheet.parent / row["path"]
        if not path.is_file():
            out.append(f"{name(row[PATIENT_CODE])}, {where}: mask file {row['path']} does not "
                       "exist")
            continue
        try:
            if mask_kind(path) != "image":
                continue              # a DICOM-SEG/RTSTRUCT: triage places it on its series
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(path))
            reader.ReadImageInformation()
        except (RuntimeError, InputError):
            out.append(f"{name(row[PATIENT_CODE])}, {where}: mask file {row['path']} cannot be "
                       "read as an image, DICOM-SEG or RTSTRUCT")
    return out


def check(files: list[str | Path], root: str | Path) -> tuple[dict, dict | None, list[str]]:
    """(merged config, study or None, every problem) for the config files as a run gets them."""
    from hccer.config import merged_config
    from hccer.ids import project_salt

    config = merged_config(files, root)
    study, problems = config_problems(config, root)
    if study is not None and not problems:
        problems += cohort_problems(config, study, project_salt(config))
    return config, study, problems
