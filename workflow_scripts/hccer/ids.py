"""Pseudonymous patient identifiers.

A pseudonym is a keyed hash (HMAC-SHA256) of the site's patient code with a secret salt from the
config, so the same code always maps to the same pseudonym within a project, and no one without
the salt can recompute the mapping from a list of hospital IDs.
"""

from __future__ import annotations

import hashlib
import hmac
import re

PSEUDONYM_RE = re.compile(r"^[A-Za-z0-9]+$")
SOURCE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def pseudonymise(code: str, salt: str, length: int = 10) -> str:
    """Return 'p' + the first `length` hex digits of HMAC-SHA256(salt, code)."""
    if not code:
        raise ValueError("empty patient code")
    digest = hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()
    return "p" + digest[:length]


def check_source_id(code: str) -> str | None:
    """Return a reason if a patient code cannot be used as a key (spaces, non-ASCII, empty)."""
    if code is None or code == "":
        return "empty patient ID"
    if not code.isascii():
        return f"patient ID {code!r} contains non-ASCII characters"
    if not SOURCE_ID_RE.match(code):
        return (f"patient ID {code!r} contains characters other than letters, digits, '_', "
                "'.', '-' (spaces are not allowed)")
    return None


def write_pseudonym_map(path: str, pairs: list[tuple[str, str]], log_path: str) -> None:
    """The map back from pseudonyms to site codes, kept outside results/."""
    from hccer.jsonio import write_text

    lines = ["patient_id\tpseudonym"] + [f"{c}\t{p}" for c, p in pairs]
    write_text(path, "\n".join(lines) + "\n")
    write_text(log_path, f"{len(pairs)} pseudonyms written (outside results/)\n")
