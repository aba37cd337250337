"""Ingest: DICOM triage (series → phase manifest) and conversion (series → NIfTI).

Modules: `dicomio` (headers, integrity checks, pixel decoding), `geometry` (the grid a
conversion produces), `convert` (`read_series`), `classify` (grouping, `classify_series`,
`select_phases`), `masks` (mask sheet checks), `triage` (one patient), `cli`.
The main functions are also reachable here, imported on first use so `hccer --help` stays fast.
"""

from __future__ import annotations

_EXPORTS = {
    "read_series": "hccer.ingest.convert",
    "series_geometry": "hccer.ingest.geometry",
    "classify_series": "hccer.ingest.classify",
    "triage_patient": "hccer.ingest.triage",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
