"""Checks of tumour masks listed in the mask sheet against the series they were drawn on.

Masks are referred to by sheet row, phase and reader, never by path: paths in a site's sheet
often contain the site's patient code, which must not reach any output. A mask is a NIfTI/NRRD
volume on the series' grid (single-label, or multi-label with the sheet's optional `segment`
column naming the label), a DICOM-SEG (`segment`: SegmentLabel or SegmentNumber) or an RTSTRUCT
(`segment`: ROIName), both resolved onto the grid of the series they refer to
(`hccer.ingest.maskformats`).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from hccer.errors import delimiter_hint
from hccer.ids import PATIENT_CODE, code_column_renames
from hccer.ingest.geometry import same_grid

log = logging.getLogger(__name__)

SHEET_COLUMNS = (PATIENT_CODE, "phase", "reader", "path")


def read_mask_sheet(sheet: str | Path) -> list[dict]:
    """Rows of a mask sheet (TSV: patient_code, phase, reader, path), each with its line number."""
    sheet = Path(sheet)
    with open(sheet, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        renames = code_column_renames(reader.fieldnames or [], sheet.name)
        reader.fieldnames = [renames.get(c, c) for c in reader.fieldnames or []]
        missing = [c for c in SHEET_COLUMNS if c not in reader.fieldnames]
        if missing:
            from hccer.errors import InputError

            hint = delimiter_hint(reader.fieldnames, "tab")
            raise InputError(f"mask sheet lacks column(s) {', '.join(missing)}; expected "
                             f"{', '.join(SHEET_COLUMNS)}{hint}", file=sheet.name)
        return [{**{k: (v or "").strip() for k, v in row.items() if k}, "line": n}
                for n, row in enumerate(reader, start=2)]


def unmatched_lines(rows: list[dict], codes: set[str]) -> list[int]:
    """Sheet lines whose patient code names no patient folder: masks no step will use."""
    return sorted(r["line"] for r in rows if r[PATIENT_CODE] not in codes)


def mask_geometry(image) -> dict:
    return {"size": list(image.GetSize()), "spacing": list(image.GetSpacing()),
            "origin": list(image.GetOrigin()), "direction": list(image.GetDirection())}


def reference_image(geom: dict):
    """An empty image on a converted series' grid (what a DICOM-SEG or RTSTRUCT is placed on)."""
    import SimpleITK as sitk

    ref = sitk.Image([int(v) for v in geom["size"][:3]], sitk.sitkUInt8)
    ref.SetSpacing([float(v) for v in geom["spacing"][:3]])
    ref.SetOrigin([float(v) for v in geom["origin"][:3]])
    ref.SetDirection([float(v) for v in geom["direction"][:9]])
    return ref


def read_mask(path: Path, segment: str | None, series: dict | None):
    """The mask of one sheet row as an image: a volume file as read (one label of it with
    `segment`), a SEG/RTSTRUCT placed on `series`' grid ({geometry, files, series_uid}) after
    checking that it refers to that series. InputError names what is wrong."""
    from hccer.errors import InputError
    from hccer.ingest import maskformats as mf

    if mf.mask_kind(path) == "image":
        return mf.load_mask(path, segment=segment)
    if not series or series.get("geometry") is None:
        raise InputError("a DICOM-SEG/RTSTRUCT mask needs a usable series for its phase",
                         file=path.name)
    files = [Path(f) for f in series["files"]]
    # series are named by their keys, not UIDs: a UID root can identify the site
    try:
        drawn_on = mf.referenced_series_uid(path, instances=mf.instance_index(files))
    except InputError:
        raise InputError("the mask refers to several series; a tumour mask is drawn on one",
                         file=path.name) from None
    if drawn_on is None:
        raise InputError(f"the mask names no series it was drawn on, so it cannot be confirmed "
                         f"to belong to series {series['key']} chosen for this phase",
                         file=path.name)
    if drawn_on != series["series_uid"]:
        other = series.get("keys", {}).get(drawn_on, "not in this patient's folder")
        raise InputError(f"the mask was drawn on series {other}, but series {series['key']} "
                         "was chosen for this phase (fix the manifest override or the mask)",
                         file=path.name)
    return mf.load_mask(path, segment=segment, series_files=files,
                     reference=reference_image(series["geometry"]))


def check_mask_array(array: np.ndarray) -> tuple[list[str], list[str], dict]:
    """Label checks of one mask array: (problems, warnings, stats).

    Problems: labels other than 0/1, empty mask. Warning: more than one 26-connected component
    (the crop step keeps the largest; it is recorded, not silently fixed).
    """
    from scipy import ndimage

    problems, warnings = [], []
    values = np.unique(array)
    extra = [v for v in values.tolist() if v not in (0, 1)]
    if extra:
        shown = ", ".join(f"{v:g}" for v in extra[:8]) + (" ..." if len(extra) > 8 else "")
        problems.append(f"labels other than 0/1: {shown}")
    fg = array != 0
    voxels = int(fg.sum())
    n_comp = 0
    if voxels == 0:
        problems.append("empty mask (no tumour voxel)")
    else:
        _, n_comp = ndimage.label(fg, structure=np.ones((3, 3, 3), bool))
        if n_comp > 1:
            warnings.append(f"{n_comp} separate tumour components (26-connectivity); the "
                            "largest is used downstream")
    return problems, warnings, {"voxels": voxels, "components": int(n_comp)}


def check_masks(sheet: str | Path, patient_code: str, mask_phases: list[str],
                phase_series: dict[str, dict], *,
                patient: str | None = None) -> tuple[list[dict], list[str], list[dict]]:
    """Check every mask row of `patient_code` for the study's mask phases.

    `phase_series` maps phase → {name (for messages), geometry (the grid the conversion will
    produce, None when the phase has no usable series), files (its DICOM files), series_uid}.
    Returns (problem records, warnings, per-mask summaries).
    """
    import SimpleITK as sitk

    from hccer.errors import InputError

    sheet = Path(sheet)
    rows = [r for r in read_mask_sheet(sheet) if r[PATIENT_CODE] == patient_code]
    problems: list[dict] = []
    warnings: list[str] = []
    summaries: list[dict] = []

    def problem(where: str, reason: str) -> None:
        problems.append({"step": "triage", "patient": patient, "file": where, "reason": reason})
        log.warning("patient %s, %s: %s", patient, where, reason)

    for phase in mask_phases:
        if not any(r["phase"] == phase for r in rows):
            problem(sheet.name, f"no mask listed for phase {phase}")
    lines: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        lines.setdefault((row["phase"], row["reader"]), []).append(row["line"])
    for (phase, reader), at in lines.items():
        if len(at) > 1:
            problem(f"{sheet.name} lines {', '.join(map(str, at))}",
                    f"phase {phase}, reader {reader} is listed {len(at)} times; keep one row")
            # which row is meant is unknown: the patient's masks are not usable as they stand
            summaries.append({"phase": phase, "reader": reader, "sheet_line": at[-1],
                              "ok": False})
    for row in rows:
        if row["phase"] not in mask_phases:
            continue
        where = f"{sheet.name} line {row['line']} (phase {row['phase']}, reader {row['reader']})"
        path = sheet.parent / row["path"]
        summary = {"phase": row["phase"], "reader": row["reader"], "sheet_line": row["line"],
                   "ok": False}
        summaries.append(summary)
        if not path.is_file():
            problem(where, "mask file does not exist")
            continue
        try:
            image = read_mask(path, row.get("segment") or None, phase_series.get(row["phase"]))
        except InputError as exc:
            problem(where, exc.reason)
            continue
        except RuntimeError:
            problem(where, "mask file cannot be read as an image (corrupt, or not NIfTI/NRRD, "
                           "DICOM-SEG or RTSTRUCT)")
            continue
        if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
            problem(where, f"mask is {image.GetDimension()}D with "
                           f"{image.GetNumberOfComponentsPerPixel()} component(s); need 3D scalar")
            continue
        bad = False
        series = phase_series.get(row["phase"]) or {}
        series_name, geom = series.get("name"), series.get("geometry")
        if geom is not None:
            diffs = same_grid(mask_geometry(image), geom)
            if diffs:
                problem(where, f"mask geometry differs from the converted grid of series "
                               f"{series_name}: " + "; ".join(diffs))
                bad = True
        arr_problems, arr_warnings, stats = check_mask_array(sitk.GetArrayViewFromImage(image))
        for reason in arr_problems:
            problem(where, reason)
        warnings.extend(f"{where}: {w}" for w in arr_warnings)
        summary.update(stats)
        summary["ok"] = not bad and not arr_problems
    return problems, warnings, summaries
