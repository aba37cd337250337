"""`hccer triage`, `hccer screen` and `hccer convert`: thin command-line layer over the ingest functions."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hccer.errors import InputError

log = logging.getLogger(__name__)

TRIAGE_EPILOG = """\
outputs:
  --out-manifest  TSV, one row per series: patient, series_key (hash of the series UID + split
                  letter), folder (relative to the patient folder), header summary, phase,
                  selected, confidence, evidence, problems.
  --out-status    JSON: {patient, ok, phases: {phase: series_key}, problems: [{step, patient,
                  file, reason}], warnings, series: {series_key: {folder, files, geometry}},
                  masks}. `series` lists the member files of every series (relative to its
                  folder); pass it to `hccer convert --files STATUS.json --series-key K`.
override:
  --override TSV with columns patient, phase and series_key (or folder): for each row of this
  patient the named series is used for that phase, whatever triage concluded (evidence "user
  override", confidence 1). Edit a copy of the manifest's keys to fix a misclassification.
Triage exits 0 on bad patient data; problems are recorded in the status and ok is false when a
required phase is missing or a required mask is bad.
"""


def run_triage(args: argparse.Namespace) -> int:
    from hccer.errors import ConfigError
    from hccer.ingest.sources import patient_code
    from hccer.ingest.triage import manifest_text, triage_patient
    from hccer.jsonio import write_json, write_text
    from hccer.study import load_view

    if bool(args.patient_dir) == bool(args.dicom_root):
        raise ConfigError("give --dicom-root (the workflow) or --patient-dir, not both")
    if args.dicom_root:
        code = patient_code(args.dicom_root, args.patient)
        folder = Path(args.dicom_root) / code
    else:
        code, folder = args.patient_code, args.patient_dir
    if args.masks and not code:
        raise ConfigError("--masks with --patient-dir needs --patient-code (the patient's code "
                          "in the mask sheet)")
    study = load_view(args.study, "core")
    rows, status = triage_patient(folder, args.patient, study, masks=args.masks,
                                  patient_code=code, override=args.override,
                                  allow_missing_slices=args.allow_missing_slices)
    write_text(args.out_manifest, manifest_text(rows))
    write_json(args.out_status, status)
    selected = ", ".join(f"{k}={v}" for k, v in status["phases"].items()) or "none"
    print(f"triage {args.patient}: {len(rows)} series, phases {selected}, "
          f"{len(status['problems'])} problem(s), ok={status['ok']}")
    return 0


def run_screen(args: argparse.Namespace) -> int:
    from hccer.ingest.screen import screen_records
    from hccer.jsonio import read_json, write_text

    table = screen_records(read_json(p) for p in args.status).sort_values("patient")
    write_text(args.out, table.to_csv(sep="\t", index=False))
    print(f"screen: {int(table['ok'].sum())} of {len(table)} patients passed ingest checks")
    return 0


def _relative(path: str | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        rel = Path(path).resolve().relative_to(base.resolve()).as_posix()
        return base.name if rel == "." else rel
    except ValueError:
        return Path(path).name


def run_convert(args: argparse.Namespace) -> int:
    from hccer.ingest.classify import group_series
    from hccer.ingest.convert import list_series_files, read_series, write_nifti
    from hccer.ingest.dicomio import scan_dir
    from hccer.ingest.triage import safe_provenance
    from hccer.jsonio import read_json, write_json

    if bool(args.series_dir) == bool(args.dicom_root):
        raise InputError("give the series folder or --dicom-root with --from-status, not both")
    try:
        series_dir = Path(args.series_dir) if args.series_dir else None
        names = None
        frames = None                  # {file: frame indices}: a series in enhanced files
        skipped: list = []
        if args.from_status:
            if not args.phase:
                raise InputError("--from-status needs --phase", file=Path(args.from_status).name)
            status = read_json(args.from_status)
            key = status.get("phases", {}).get(args.phase)
            if key is None:
                raise InputError(f"triage chose no series for phase {args.phase}",
                                 file=Path(args.from_status).name)
            args.files, args.series_key = args.from_status, key
            if args.dicom_root:
                from hccer.ingest.sources import patient_folder

                series_dir = patient_folder(args.dicom_root, args.patient) / status[
                    "series"][key]["folder"]
        if series_dir is None:
            raise InputError("--dicom-root needs --from-status, --phase and --patient")
        if args.files:
            listing = read_json(args.files)
            if isinstance(listing, dict):
                if not args.series_key:
                    raise InputError("--files is a triage status; give --series-key too",
                                     file=Path(args.files).name)
                entry = listing.get("series", {}).get(args.series_key)
                if entry is None:
                    raise InputError(f"series {args.series_key} is not listed",
                                     file=Path(args.files).name)
                names = entry["files"]
                frames = entry.get("frames")
            else:
                names = list(listing)
            files = list_series_files(series_dir, names)
        else:
            headers, skipped, bad = scan_dir(series_dir)
            if bad:
                raise InputError(bad[0]["reason"], file=bad[0]["file"])
            groups = group_series(headers)
            if len(groups) > 1:
                raise InputError(
                    f"the folder holds {len(groups)} series or acquisitions (series keys "
                    f"{', '.join(g['key'] for g in groups)}); convert one with --files "
                    "STATUS.json --series-key K from `hccer triage`")
            files = [h.path for h in groups[0]["headers"]] if groups else list_series_files(
                series_dir)
        image, meta = read_series(files, patient=args.patient, frames=frames,
                                  allow_missing=args.allow_missing_slices)
        meta["skipped_files"] += len(skipped)
    except InputError as exc:
        raise InputError(exc.reason, patient=args.patient or exc.patient,
                         file=_relative(exc.file, series_dir) if series_dir else exc.file
                         ) from exc
    written = write_nifti(image, meta, args.out)
    if args.sidecar:
        write_json(args.sidecar, {**meta, "patient": args.patient, "series_key": args.series_key,
                                  "provenance": safe_provenance()})
    size = "x".join(str(v) for v in image.GetSize())
    print(f"convert: {size} voxels, spacing "
          f"{', '.join(f'{v:.4g}' for v in meta['geometry']['spacing'])} mm"
          f"{', ' + str(len(meta['warnings'])) + ' warning(s)' if meta['warnings'] else ''} "
          f"-> {', '.join(p.name for p in written)}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "triage", help="classify one patient's DICOM series into the study's phases",
        description="Scan a patient's DICOM folder (headers only), group slices into series, "
                    "classify them into the study preset's phases and check the masks.",
        epilog=TRIAGE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dicom-root", help="one folder per patient: the patient's is found by its "
                   "pseudonym (salt from the environment; the workflow's way, so that no site "
                   "code is on the command line)")
    p.add_argument("--patient-dir", help="the patient's DICOM folder (by hand)")
    p.add_argument("--patient", required=True, help="pseudonym used in every output")
    p.add_argument("--study", required=True, help="study preset YAML (config/studies/<key>.yaml)")
    p.add_argument("--masks", help="mask sheet TSV (patient_code, phase, reader, path)")
    p.add_argument("--patient-code", help="the site's patient code in the mask sheet (never written)")
    p.add_argument("--override", help="user-edited TSV: patient, phase, series_key (or folder)")
    p.add_argument("--allow-missing-slices", action="store_true",
                   help="interpolate across slices missing from a stack (default: unusable)")
    p.add_argument("--out-manifest", required=True, help="phase manifest TSV to write")
    p.add_argument("--out-status", required=True, help="status JSON to write")
    p.set_defaults(func=run_triage)

    c = subparsers.add_parser(
        "convert", help="convert one DICOM series to NIfTI",
        description="Convert one series folder (or the listed files of a split series) to "
                    "NIfTI: slices ordered along the normal, HU/real values, tilt and uneven "
                    "spacing resampled onto a regular grid with a warning; DWI gives 4D + .bval.")
    c.add_argument("series_dir", nargs="?", help="folder of the series (or --dicom-root)")
    c.add_argument("out", help="output .nii.gz")
    c.add_argument("--files", help="JSON: a list of files relative to series_dir, or a triage "
                                   "status (then --series-key picks the series)")
    c.add_argument("--series-key", help="series key from the triage manifest")
    c.add_argument("--from-status", help="triage status JSON: convert the series it chose for "
                                         "--phase (same as --files STATUS --series-key K)")
    c.add_argument("--phase", help="phase to convert, with --from-status")
    c.add_argument("--dicom-root", help="instead of the series folder: the DICOM root, with "
                   "--from-status, --phase and --patient (the pseudonym finds the folder)")
    c.add_argument("--allow-missing-slices", action="store_true",
                   help="interpolate across slices missing from the stack")
    c.add_argument("--sidecar", help="write conversion metadata JSON here")
    c.add_argument("--patient", help="pseudonym for messages and the sidecar")
    c.set_defaults(func=run_convert)

    s = subparsers.add_parser("screen", help="gather triage statuses into the included-patient list")
    s.add_argument("--status", nargs="+", required=True, help="triage status JSON files")
    s.add_argument("--out", required=True, help="screen table TSV (patient, ok, reason)")
    s.set_defaults(func=run_screen)
