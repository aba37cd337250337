"""Errors that name the patient, the file and what is wrong.

`InputError` is the one exception a step raises for bad *data* (as opposed to a bug). The CLI
turns it into a one-line message and exit code 2; per-patient steps record it in the patient
status table instead, so one bad patient never stops the others.
"""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input data: carries patient, file and reason so the message is actionable."""

    def __init__(
        self, reason: str, *, patient: str | None = None, file: str | Path | None = None,
        step: str | None = None,
    ):
        self.reason = reason
        self.patient = patient
        self.file = str(file) if file is not None else None
        self.step = step
        super().__init__(self.message())

    def message(self) -> str:
        parts = []
        if self.patient:
            parts.append(f"patient {self.patient}")
        if self.file:
            parts.append(f"file {self.file}")
        where = ", ".join(parts)
        return f"{where}: {self.reason}" if where else self.reason

    def as_record(self) -> dict:
        return {"step": self.step, "patient": self.patient, "file": self.file,
                "reason": self.reason}


def delimiter_hint(header: list[str], expected: str) -> str:
    """A hint when a sheet's header reads as one column holding another delimiter: the sheet
    was saved with the wrong separator."""
    if len(header) != 1:
        return ""
    found = [name for sep, name in ((",", "comma"), (";", "semicolon"), ("\t", "tab"))
             if sep in header[0]]
    if not found:
        return ""
    return (f" (its header is one column, {header[0][:60]!r}: the sheet is {found[0]}-separated;"
            f" save it {expected}-separated)")


class ConfigError(Exception):
    """Invalid configuration or sample sheet; the message names the key or row."""
