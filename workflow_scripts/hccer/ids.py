"""Pseudonymous patient identifiers.

Two identities, one name each: the *patient code* is what the site gave a patient (the
`patient_code` column of the clinical and mask sheets, the DICOM folder name; never in results),
the *pseudonym* is what every output carries (the `patient` column, `pid` in code and
wildcards). A pseudonym is a keyed hash (HMAC-SHA256) of the patient code with a secret salt,
so the same code always maps to the same pseudonym within a project, and no one without the
salt can recompute the mapping from a list of hospital codes.

The salt is read from the file the config names (`pseudonym_salt_file`) and reaches the steps
through the environment (`SALT_ENV`), never a command line: Snakemake writes command lines and
params to its logs and metadata, and a cluster keeps its job scripts. Rules track it by
`salt_id`, a one-way tag, so a new salt reruns what pseudonymises.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

PSEUDONYM_RE = re.compile(r"^[A-Za-z0-9]+$")
PATIENT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PATIENT_CODE = "patient_code"
# the sheets' name for the patient code before it was `patient_code`: still read, with a warning
OLD_PATIENT_CODE = "patient_id"

SALT_ENV = "HCCER_PSEUDONYM_SALT"
# The twin's salt is public (a synthetic cohort has no patient to protect; it is the value the
# demo config once carried, so twin pseudonyms and splits stay as they were). A site's cohort
# must bring its own, and this one is refused for it.
TWIN_SALT = "hccer-demo-salt-change-me"
PUBLIC_SALTS = (TWIN_SALT,)
MIN_SALT_CHARS = 16
MAKE_SALT = ("python3 -c 'import secrets; print(secrets.token_hex(32))' > private/salt && "
             "chmod 600 private/salt")


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


def read_salt_file(path: str | Path) -> str:
    """The salt in `path` (one line; surrounding whitespace dropped). Refused: a missing, empty,
    short or public salt. Messages name the file, never its content."""
    from hccer.errors import ConfigError

    path = Path(path)
    how = f"make one with: {MAKE_SALT}"
    try:
        salt = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"pseudonym_salt_file {path} does not exist; {how}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"pseudonym_salt_file {path} cannot be read ({type(exc).__name__})"
                          ) from None
    if len(salt) < MIN_SALT_CHARS:
        raise ConfigError(f"pseudonym_salt_file {path} holds {len(salt)} characters; a salt needs "
                          f">= {MIN_SALT_CHARS} (guessable salts make pseudonyms reversible); "
                          f"{how}")
    if salt in PUBLIC_SALTS:
        raise ConfigError(f"pseudonym_salt_file {path} holds the public demo salt; a cohort "
                          f"needs a secret one: {how}")
    return salt


def project_salt(config: dict) -> str:
    """The run's salt: the file's for any cohort; the public twin salt for a synthetic twin
    without a file."""
    from hccer.errors import ConfigError

    path = config.get("pseudonym_salt_file")
    if path:
        return read_salt_file(path)
    if config["data"]["source"] == "synthetic":
        return TWIN_SALT
    raise ConfigError("data.source is 'cohort' but pseudonym_salt_file is not set: keep a "
                      f"secret salt in a file outside results/ ({MAKE_SALT}) and set "
                      "pseudonym_salt_file: private/salt")


def salt_from_env() -> str:
    """The salt a step was given by the workflow (the environment variable SALT_ENV)."""
    from hccer.errors import InputError

    salt = os.environ.get(SALT_ENV, "")
    if not salt:
        raise InputError(f"the pseudonym salt is missing: the workflow passes it in the "
                         f"environment variable {SALT_ENV} (read from pseudonym_salt_file); "
                         "set it when running this step by hand")
    return salt


def salt_id(salt: str) -> str:
    """A one-way tag of the salt (12 hex digits of a domain-separated SHA-256): a rule param
    that reruns the pseudonymising steps when the salt changes. It reveals no more than the
    pseudonyms themselves do."""
    return hashlib.sha256(b"hccer-salt-id\0" + salt.encode()).hexdigest()[:12]


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
