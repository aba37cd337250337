"""Triage of one patient's DICOM folder: series → phase manifest + status.

Never raises on bad patient data: every problem becomes a record in the status, so one bad
patient never stops the others. `ok` is False when a required phase is missing or unusable, or
a required mask is bad.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from hccer.errors import InputError
from hccer.ingest.classify import (
    DESCRIPTION_PATTERNS,
    classify_series,
    description_role,
    group_series,
    modality_of_study,
    select_phases,
)
from hccer.ingest.dicomio import format_time, scan_dir
from hccer.ingest.geometry import series_geometry
from hccer.ingest.masks import check_masks

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = (
    "patient", "series_key", "folder", "n_files", "modality", "series_number", "description",
    "image_type", "acq_time", "contrast", "b_values", "rows", "cols", "pixel_spacing",
    "slice_spacing", "orientation", "n_slices", "split", "phase", "selected", "confidence",
    "evidence", "problems",
)
GEOMETRY_KEYS = ("size", "spacing", "origin", "direction")


def required_phases(study: Mapping) -> list[str]:
    """Phases a patient cannot do without: the model's, the reference and the mask phases."""
    need = list(study.get("model_phases") or study["phases"])
    for p in [study.get("reference_phase"), *(study.get("mask_phases") or [])]:
        if p and p not in need:
            need.append(p)
    return [p for p in study["phases"] if p in need] + [p for p in need
                                                        if p not in study["phases"]]


def _member_files(hs: list, root: Path) -> tuple[Path, list[str], dict[str, list[int]]]:
    """(folder, files relative to it, {file: 0-based frames} of enhanced multi-frame files)."""
    rels = [h.path.relative_to(root) for h in hs]
    folder = Path(os.path.commonpath([r.parent.as_posix() or "." for r in rels])) if rels else Path()

    def name(r: Path) -> str:
        return r.relative_to(folder).as_posix() if folder != Path(".") else r.as_posix()

    frames: dict[str, list[int]] = {}
    for h, r in zip(hs, rels, strict=True):
        if h.frame is not None:
            frames.setdefault(name(r), []).append(h.frame)
    return folder, sorted({name(r) for r in rels}), {k: sorted(v) for k, v in
                                                      sorted(frames.items())}


def _summary(group: dict, root: Path, allow_missing: bool = False) -> dict:
    hs = group["headers"]
    folder, files, frames = _member_files(hs, root)
    first = hs[0]
    rec = {
        "key": group["key"], "folder": folder.as_posix() or ".", "files": files,
        "frames": frames,
        "n_files": len(files), "modality": first.modality, "series_number": first.series_number,
        "description": first.description, "image_type": list(first.image_type),
        "acq_time_s": min((h.acq_time_s for h in hs if h.acq_time_s is not None), default=None),
        "bolus_start_s": first.bolus_start_s,
        "contrast": any(h.contrast for h in hs),
        "b_values": sorted({round(h.b_value, 3) for h in hs if h.b_value is not None}),
        "echo_time": first.echo_time, "rows": first.rows, "cols": first.cols,
        "pixel_spacing": list(first.pixel_spacing) if first.pixel_spacing else None,
        "split": group["split_reason"], "geometry": None, "geometry_error": None,
        "orientation": "", "n_slices": len(hs), "problems": [], "warnings": [],
    }
    try:
        geom = series_geometry(hs, allow_missing=allow_missing)
    except InputError as exc:
        rec["geometry_error"] = exc.reason
        rec["problems"].append(exc.reason)
        return rec
    rec["geometry"] = {k: geom[k] for k in GEOMETRY_KEYS}
    rec["orientation"] = geom["orientation"]
    rec["n_slices"] = geom["n_slices"]
    rec["slice_spacing"] = geom["spacing"][2]
    rec["warnings"].extend(geom["warnings"])
    return rec


def read_override(path: str | Path, patient: str) -> list[dict]:
    """Rows of an override manifest for this patient: columns patient, phase and series_key or
    folder (a user's manual choice of series per phase)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        cols = set(reader.fieldnames or [])
        if not {"patient", "phase"} <= cols or not cols & {"series_key", "folder"}:
            raise InputError("override manifest needs columns patient, phase and series_key "
                             "or folder", file=Path(path).name)
        return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader
                if (row.get("patient") or "").strip() == patient]


def triage_patient(patient_dir: str | Path, patient: str, study: Mapping, *,
                   masks: str | Path | None = None, patient_code: str | None = None,
                   override: str | Path | None = None,
                   allow_missing_slices: bool = False) -> tuple[list[dict], dict]:
    """Scan, group, classify and check one patient. Returns (manifest rows, status). A series
    with slices missing is unusable unless `allow_missing_slices`."""
    root = Path(patient_dir)
    problems: list[dict] = []
    warnings: list[str] = []

    def problem(reason: str, file: str | None = None) -> None:
        problems.append({"step": "triage", "patient": patient, "file": file, "reason": reason})
        log.warning("patient %s%s: %s", patient, f", file {file}" if file else "", reason)

    if not root.is_dir():
        problem("patient folder has no images (folder missing)")
        return [], _status(patient, study, {}, problems, warnings, {}, [], [], safe_provenance())
    headers, skipped, bad = scan_dir(root)
    for s in skipped:
        warnings.append(f"skipped non-image file {s['file']}: {s['reason']}")
    for b in bad:
        problem(b["reason"], b["file"])
    if not headers:
        problem("no readable DICOM image in the patient folder")
    groups = group_series(headers)
    records = [_summary(g, root, allow_missing_slices) for g in groups]
    _check_series(groups, records, bad, problem, warnings)
    classes = classify_series(records, study["modality"], b_values=study.get("b_values"))
    picked, sel_problems, sel_warnings = select_phases(records, classes, study["phases"])
    for p in sel_problems:
        problem(p)
    warnings.extend(sel_warnings)
    if override:
        _apply_override(read_override(override, patient), records, classes, picked, problems,
                        problem)
    _check_phases(study, records, classes, picked, problem, warnings)
    mask_summaries: list[dict] = []
    if masks:
        uids = [g["series_uid"] for g in groups]
        m_problems, m_warnings, mask_summaries = _mask_checks(masks, patient_code, study, records,
                                                              uids, picked, patient, root)
        problems.extend(m_problems)
        warnings.extend(m_warnings)
    rows = _manifest_rows(patient, records, classes, picked)
    # `frames` only for series held in enhanced multi-frame files: which frames of each file
    # form this series (a file can hold several, e.g. temporal positions); convert needs it.
    series = {r["key"]: {"folder": r["folder"], "files": r["files"], "geometry": r["geometry"],
                         **({"frames": r["frames"]} if r["frames"] else {})}
              for r in records}
    status = _status(patient, study, {ph: records[i]["key"] for ph, i in picked.items()
                                      if records[i]["geometry"] is not None},
                     problems, warnings, series, mask_summaries,
                     [s["file"] for s in skipped], safe_provenance())
    return rows, status


def _check_series(groups: list[dict], records: list[dict], bad: list[dict], problem,
                  warnings: list[str]) -> None:
    """Record corrupt files, split or scattered series and shared folders per series."""
    for g, rec in zip(groups, records, strict=True):
        corrupt = [b["file"] for b in bad if b.get("series_uid") == g["series_uid"]]
        if corrupt:
            rec["geometry_error"] = rec["geometry_error"] or (
                f"{len(corrupt)} corrupt file(s), first {corrupt[0]}")
            rec["problems"].append(rec["geometry_error"])
        if rec["split"]:
            warnings.append(f"series {rec['key']} (folder {rec['folder']}) mixes acquisitions; "
                            f"split by {rec['split']}")
        folders = {Path(f).parent for f in rec["files"]}
        if len(folders) > 1:
            warnings.append(f"series {rec['key']} spans {len(folders)} folders under "
                            f"{rec['folder']}")
        if rec["geometry_error"] and not corrupt:
            problem(f"series {rec['key']} cannot form one volume: {rec['geometry_error']}",
                    f"{rec['folder']}")
        for w in rec["warnings"]:
            warnings.append(f"series {rec['key']}: {w}")
    shared = {}
    for g, rec in zip(groups, records, strict=True):
        shared.setdefault(rec["folder"], set()).add(g["series_uid"])
    for folder, uids in shared.items():
        if len(uids) > 1:
            warnings.append(f"folder {folder} holds {len(uids)} series; separated by "
                            "SeriesInstanceUID")


def _apply_override(rows: list[dict], records: list[dict], classes: list[dict], picked: dict,
                    problems: list[dict], problem) -> None:
    """Pick the series an override row names; its phase's selection problems no longer hold."""
    for row in rows:
        phase = row["phase"]
        match = [i for i, r in enumerate(records)
                 if (row.get("series_key") and r["key"] == row["series_key"])
                 or (not row.get("series_key") and row.get("folder")
                     and r["folder"] == row["folder"])]
        if len(match) != 1:
            problem(f"override for phase {phase} names "
                    f"{row.get('series_key') or row.get('folder')!r}, which matches "
                    f"{len(match)} series of this patient")
            continue
        picked[phase] = match[0]
        classes[match[0]].update(phase=phase, confidence=1.0)
        classes[match[0]]["evidence"].append("user override")
        problems[:] = [p for p in problems if not p["reason"].startswith(f"phase {phase} ")]


def _check_phases(study: Mapping, records: list[dict], classes: list[dict], picked: dict, problem,
                  warnings: list[str]) -> None:
    """Missing phases (a problem when required) and picked series that form no volume."""
    required = required_phases(study)
    for phase in study["phases"]:
        if phase in picked:
            continue
        why = _missing_reason(phase, study, records, classes)
        if phase in required:
            problem(f"missing phase {phase}{why}")
        else:
            warnings.append(f"phase {phase} not found{why} (not required by this study)")
    for phase, i in picked.items():
        if records[i]["geometry"] is None:
            problem(f"phase {phase}: series {records[i]['key']} is unusable: "
                    f"{records[i]['geometry_error']}", records[i]["folder"])


def _mask_checks(masks: str | Path, patient_code: str | None, study: Mapping, records: list[dict],
                 uids: list[str], picked: dict, patient: str, root: Path
                 ) -> tuple[list[dict], list[str], list[dict]]:
    """(problems, warnings, mask summaries) of the patient's masks against the picked series;
    an unreadable mask sheet is one problem of this patient, not an error."""
    keys = {uid: r["key"] for uid, r in zip(uids, records, strict=True)}
    phase_series = {ph: {"name": f"{records[i]['key']} (folder {records[i]['folder']})",
                         "key": records[i]["key"], "keys": keys, "series_uid": uids[i],
                         "geometry": records[i]["geometry"],
                         "files": [root / records[i]["folder"] / f for f in records[i]["files"]]}
                    for ph, i in picked.items()}
    try:
        m_problems, m_warnings, summaries = check_masks(
            masks, patient_code or "", list(study.get("mask_phases") or []), phase_series,
            patient=patient)
    except InputError as exc:
        return [{"step": "triage", "patient": patient, "file": exc.file,
                 "reason": exc.reason}], [], []
    return m_problems, m_warnings, summaries


def safe_provenance() -> dict:
    """Provenance without the command's arguments: paths there hold the site's patient code."""
    from hccer.jsonio import provenance

    prov = provenance()
    prov["argv"] = [a for a in prov["argv"][:2] if not a.startswith("-")] + sorted(
        a for a in prov["argv"][2:] if a.startswith("--"))
    return prov


def _missing_reason(phase: str, study: Mapping, records: list[dict], classes: list[dict]) -> str:
    """Name excluded series whose description points at the missing phase."""
    names = {"CT": {"NC": "pre", "ART": "arterial", "PV": "portal", "DL": "delayed"},
             "MR": {"AP": "arterial", "PVP": "portal", "DP": "delayed"}}
    role = names.get(modality_of_study(study["modality"]), {}).get(phase)
    notes = []
    for r, c in zip(records, classes, strict=True):
        if c["excluded"] and (c["phase"] == phase or role in DESCRIPTION_PATTERNS
                              and description_role(r["description"]) == role):
            notes.append(f"series {r['key']} (folder {r['folder']}) looks like {phase} but is "
                         f"excluded: {c['excluded']}")
    return f" ({'; '.join(notes)})" if notes else ""


def _status(patient, study, phases, problems, warnings, series, masks, skipped, prov) -> dict:
    required = required_phases(study)
    mask_bad = any(not m.get("ok") for m in masks) or any(
        p["reason"].startswith("no mask listed") for p in problems)
    ok = all(p in phases for p in required) and not mask_bad
    return {"patient": patient, "ok": bool(ok), "phases": phases, "required_phases": required,
            "problems": problems, "warnings": warnings, "series": series, "masks": masks,
            "skipped_files": skipped, "provenance": prov}


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ",".join(_fmt(v) for v in value)
    return str(value).replace("\t", " ").replace("\n", " ")


def _manifest_rows(patient, records, classes, picked) -> list[dict]:
    chosen = {i: ph for ph, i in picked.items()}
    rows = []
    for i, (r, c) in enumerate(zip(records, classes, strict=True)):
        problems = list(r["problems"]) + ([f"excluded: {c['excluded']}"] if c["excluded"] else [])
        rows.append({
            "patient": patient, "series_key": r["key"], "folder": r["folder"],
            "n_files": r["n_files"], "modality": r["modality"],
            "series_number": r["series_number"], "description": r["description"],
            "image_type": "\\".join(r["image_type"]), "acq_time": format_time(r["acq_time_s"]),
            "contrast": r["contrast"], "b_values": r["b_values"], "rows": r["rows"],
            "cols": r["cols"], "pixel_spacing": r["pixel_spacing"],
            "slice_spacing": r.get("slice_spacing"), "orientation": r["orientation"],
            "n_slices": r["n_slices"], "split": r["split"],
            "phase": chosen.get(i, c["phase"] or ""), "selected": i in chosen,
            "confidence": round(c["confidence"], 3), "evidence": "; ".join(c["evidence"]),
            "problems": "; ".join(problems),
        })
    return rows


def manifest_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow([_fmt(row[c]) for c in MANIFEST_COLUMNS])
    return buf.getvalue()
