"""Pseudonymous patient identifiers.

Two identities, one name each: the *patient code* is what the site gave a patient (the
`patient_code` column of the clinical and mask sheets, the DICOM folder name; never in results),
the *pseudonym* is what every output carries (the `patient` column, `pid` in code and
wildcards). A pseudonym is a keyed hash (HMAC-SHA256) of the patient code with a secret salt
from the config, so the same code always maps to the same pseudonym within a project, and no
one without the salt can recompute the mapping from a list of hospital codes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable

log = logging.getLogger(__name__)

PSEUDONYM_RE = re.compile(r"^[A-Za-z0-9]+$")
PATIENT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PATIENT_CODE = "patient_code"
# the sheets' name for the patient code before it was `patient_code`: still read, with a warning
OLD_PATIENT_CODE = "patient_id"


def code_column_renames(columns: Iterable[str], file: str) -> dict[str, str]:
    """How to rename a sheet's columns so that its patient code is `patient_code`: {} for a
    current sheet, {'patient_id': 'patient_code'} for an older one (logged as a warning naming
    the file). A sheet with both columns is ambiguous: InputError."""
    cols = set(columns)
    if OLD_PATIENT_CODE not in cols:
        return {}
    if PATIENT_CODE in cols:
        from hccer.errors import InputError

        raise InputError(f"both {PATIENT_CODE!r} and {OLD_PATIENT_CODE!r} columns: keep "
                         f"{PATIENT_CODE!r} (the site's patient code) only", file=file)
    log.warning("%s: column %r is read as %r (the site's patient code); rename it in the sheet",
                file, OLD_PATIENT_CODE, PATIENT_CODE)
    return {OLD_PATIENT_CODE: PATIENT_CODE}


def pseudonymise(code: str, salt: str, length: int = 10) -> str:
    """Return 'p' + the first `length` hex digits of HMAC-SHA256(salt, code)."""
    if not code:
        raise ValueError("empty patient code")
    digest = hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()
    return "p" + digest[:length]


def check_patient_code(code: str) -> str | None:
    """Return a reason if a patient code cannot be used as a key (spaces, non-ASCII, empty).
    The reason never quotes the code: it is written beside the patient's pseudonym."""
    if code is None or code == "":
        return "empty patient code"
    if code != code.strip() and PATIENT_CODE_RE.match(code.strip()):
        return "patient code has spaces before or after it"
    if not code.isascii():
        return "patient code contains non-ASCII characters"
    if not PATIENT_CODE_RE.match(code):
        return ("patient code contains characters other than letters, digits, '_', '.', '-' "
                "(spaces are not allowed)")
    return None


def write_pseudonym_map(path: str, pairs: list[tuple[str, str]], log_path: str) -> None:
    """The map back from pseudonyms to site codes, kept outside results/."""
    from hccer.jsonio import write_text

    lines = [f"{PATIENT_CODE}\tpseudonym"] + [f"{c}\t{p}" for c, p in pairs]
    write_text(path, "\n".join(lines) + "\n")
    write_text(log_path, f"{len(pairs)} pseudonyms written (outside results/)\n")
