"""A patient's source files, found from the pseudonym alone.

Workflow steps are given the DICOM root, the mask sheet and the pseudonym, never the site's
patient code or a path that holds it: Snakemake writes every command line and param to its
logs and metadata, and the folder and file names of an export usually carry the code. The step
finds the patient's folder by pseudonymising the folder names under the root with the salt it
was given (the environment variable `hccer.ids.SALT_ENV`).
"""

from __future__ import annotations

from pathlib import Path

from hccer.errors import InputError


def patient_code(dicom_root: str | Path, pid: str, salt: str | None = None) -> str:
    """The site code (folder name under the DICOM root) whose pseudonym is `pid`."""
    from hccer.ids import pseudonymise, salt_from_env

    salt = salt or salt_from_env()
    root = Path(dicom_root)
    try:
        names = [p.name for p in root.iterdir() if p.is_dir()]
    except OSError as exc:
        raise InputError(f"the DICOM root cannot be listed ({type(exc).__name__})",
                         patient=pid, file=root.name) from None
    found = [n for n in names if pseudonymise(n, salt) == pid]
    if not found:
        raise InputError("no folder under the DICOM root has this pseudonym (renamed or "
                         "removed since the run started, or another salt)", patient=pid,
                         file=root.name)
    return found[0]


def patient_folder(dicom_root: str | Path, pid: str) -> Path:
    return Path(dicom_root) / patient_code(dicom_root, pid)


def mask_file(sheet: str | Path, dicom_root: str | Path, pid: str, phase: str,
              reader: str) -> Path:
    """The source mask the sheet lists for this patient, phase and reader."""
    return mask_entry(sheet, dicom_root, pid, phase, reader)[0]


def mask_entry(sheet: str | Path, dicom_root: str | Path, pid: str, phase: str,
               reader: str) -> tuple[Path, str | None]:
    """(source mask file, its `segment`: label / SEG segment / RTSTRUCT ROI, or None)."""
    from hccer.ids import PATIENT_CODE
    from hccer.ingest.masks import read_mask_sheet

    code = patient_code(dicom_root, pid)
    sheet = Path(sheet)
    rows = [r for r in read_mask_sheet(sheet)
            if (r[PATIENT_CODE], r["phase"], r["reader"]) == (code, phase, reader)]
    if not rows:
        raise InputError(f"no mask for phase {phase}, reader {reader}", patient=pid,
                         file=sheet.name)
    return sheet.parent / rows[-1]["path"], rows[-1].get("segment") or None


def series_files(dicom_root: str | Path, pid: str, status: dict, phase: str) -> list[Path]:
    """The DICOM files of the series triage chose for `phase` (its status JSON)."""
    entry = status["series"][status["phases"][phase]]
    folder = patient_folder(dicom_root, pid) / entry["folder"]
    return [folder / f for f in entry["files"]]
