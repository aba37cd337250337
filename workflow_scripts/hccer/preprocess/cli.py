"""`hccer resample`, `register`, `gate`, `crop`: thin wrappers over the preprocess modules."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        if "=" not in v:
            raise argparse.ArgumentTypeError(f"{what} must be PHASE=PATH, got {v!r}")
        ph, path = v.split("=", 1)
        out[ph] = path
    return out


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "resample", help="resample an image or mask to isotropic voxels (1 mm default)",
        description="Resample to a new spacing. New size per axis = floor(size * spacing / "
                    "new_spacing): whole voxels within the edge-to-edge extent; origin and "
                    "direction kept. 4D stacks are resampled volume by volume.")
    p.add_argument("--image", help="input NIfTI (3D, or 4D DWI stack)")
    p.add_argument("--mask-of", nargs=4, metavar=("SHEET", "DICOM_ROOT", "PHASE", "READER"),
                   help="instead of --image: the mask that SHEET lists for --patient (found by "
                   "its pseudonym under DICOM_ROOT), phase and reader: the workflow's way, so "
                   "that no site path is on the command line")
    p.add_argument("--out", required=True, help="output NIfTI")
    p.add_argument("--spacing", type=float, nargs=3, default=[1.0, 1.0, 1.0],
                   metavar=("X", "Y", "Z"), help="new spacing in mm (default 1 1 1)")
    p.add_argument("--status", help="with --mask-of: the triage status (a DICOM mask's series)")
    p.add_argument("--grid", help="with --mask-of: the converted series' sidecar JSON (the grid "
                   "a DICOM mask is placed on)")
    p.add_argument("--interp", choices=["linear", "bspline", "label"], default="linear",
                   help="linear/bspline for images; label for masks (per-label linear + argmax)")
    p.add_argument("--patient", help="pseudonym, for messages")
    p.set_defaults(func=_resample)

    r = subparsers.add_parser(
        "register", help="rigidly register a phase to the reference phase (ANTs) with QC",
        description="Register MOVING to FIXED with antspyx, resample it (and its mask) onto the "
                    "fixed grid, and write QC metrics. A failed registration is not an error: "
                    "the QC JSON says passed=false and why.")
    r.add_argument("--fixed", required=True, help="reference-phase image (1 mm)")
    r.add_argument("--moving", required=True, help="phase image to align (1 mm)")
    r.add_argument("--out-image", required=True)
    r.add_argument("--out-transform", required=True, help="ITK/ANTs .mat (fixed -> moving)")
    r.add_argument("--qc", required=True, help="QC JSON")
    r.add_argument("--moving-mask", help="tumour mask on the moving grid")
    r.add_argument("--out-mask", help="moving mask resampled onto the fixed grid")
    r.add_argument("--fixed-mask", help="tumour mask on the fixed grid (ROI + Dice)")
    r.add_argument("--qc-png", help="checkerboard overlay PNG")
    r.add_argument("--type", default="Rigid", choices=["Rigid", "QuickRigid", "Affine"])
    r.add_argument("--init", default="identity", choices=["identity", "com"],
                   help="start from scanner coordinates (identity) or centres of mass")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--min-ncc", type=float, default=0.5)
    r.add_argument("--min-dice", type=float, default=0.5)
    r.add_argument("--max-translation", type=float, default=30.0, help="mm")
    r.add_argument("--max-rotation", type=float, default=15.0, help="degrees")
    r.add_argument("--identity", action="store_true",
                   help="no registration (the reference phase): resample onto FIXED as is")
    r.add_argument("--patient")
    r.add_argument("--phase")
    r.set_defaults(func=_register)

    c = subparsers.add_parser(
        "crop", help="ROI crops per the study preset (slices2d / voi3d / bbox3d)",
        description="Crop registered 1 mm images around the tumour as the preset's crop block "
                    "says; writes arrays (.npz) and metadata (.json).")
    c.add_argument("--study", required=True, help="study preset YAML")
    c.add_argument("--patient", required=True)
    c.add_argument("--image", action="append", required=True, metavar="PHASE=PATH")
    c.add_argument("--mask", action="append", required=True, metavar="PHASE=PATH")
    c.add_argument("--out", required=True, help="arrays (.npz)")
    c.add_argument("--meta", required=True, help="metadata (.json)")
    c.add_argument("--qc-png", help="montage of the crops")
    c.set_defaults(func=_crop)

    g = subparsers.add_parser("gate", help="gather registration QC into a pass/fail table")
    g.add_argument("--qc", nargs="*", default=[], help="registration QC JSON files")
    g.add_argument("--patients", required=True, help="TSV of screened patients (patient, ok)")
    g.add_argument("--out", required=True)
    g.set_defaults(func=_gate)


def _resample(args) -> int:
    from hccer.preprocess.imageio import read_image, write_image
    from hccer.preprocess.resample import resample_image

    if bool(args.image) == bool(args.mask_of):
        from hccer.errors import ConfigError

        raise ConfigError("give --image or --mask-of (with --patient), not both")
    if args.mask_of:
        img, shown = _source_mask(args)
    else:
        img, shown = read_image(args.image, args.patient, "resample"), args.image
    out = resample_image(img, args.spacing, args.interp, patient=args.patient, file=shown)
    write_image(out, args.out)
    print(f"resampled to {'x'.join(map(str, out.GetSize()))} -> {args.out}")
    return 0


def _source_mask(args):
    """The mask a sheet row names, as an image on its series' native grid: a volume file (one
    label of it with the row's `segment`), or a DICOM-SEG/RTSTRUCT placed on the converted
    series (the grid of --grid, the files of --status), which triage checked it refers to."""
    from hccer.errors import InputError
    from hccer.ingest import maskformats as mf
    from hccer.ingest.masks import reference_image
    from hccer.ingest.sources import mask_entry, series_files
    from hccer.jsonio import read_json
    from hccer.preprocess.imageio import read_image

    sheet, root, phase, reader = args.mask_of
    path, segment = mask_entry(sheet, root, args.patient, phase, reader)
    shown = f"mask {phase}/{reader} of {Path(sheet).name}"
    try:
        kind = mf.mask_kind(path) if path.is_file() else "image"
        if kind == "image" and not segment:
            return read_image(path, args.patient, "resample", shown=shown), shown
        if kind == "image":
            return mf.load_mask(path, segment=segment), shown
        if not (args.status and args.grid):
            raise InputError("a DICOM-SEG/RTSTRUCT mask needs --status and --grid")
        files = series_files(root, args.patient, read_json(args.status), phase)
        ref = reference_image(read_json(args.grid)["geometry"])
        return mf.load_mask(path, segment=segment, series_files=files, reference=ref), shown
    except InputError as exc:
        raise InputError(exc.reason, patient=args.patient, file=shown, step="resample") from None


def _register(args) -> int:
    from hccer.preprocess.register import run_register

    rec = run_register(
        args.fixed, args.moving, args.out_image, args.out_transform, args.qc,
        moving_mask_path=args.moving_mask, out_mask=args.out_mask,
        fixed_mask_path=args.fixed_mask, qc_png=args.qc_png, transform_type=args.type,
        threads=args.threads, seed=args.seed, min_ncc=args.min_ncc, min_dice=args.min_dice,
        max_translation_mm=args.max_translation, max_rotation_deg=args.max_rotation,
        identity=args.identity, init=args.init, patient=args.patient, phase=args.phase)
    m = rec["metrics"]
    print(f"passed={rec['passed']} ncc {m['ncc_before']:.3f} -> {m['ncc_after']:.3f} "
          f"({rec['seconds']:.1f} s){' ' + '; '.join(rec['reasons']) if rec['reasons'] else ''}")
    return 0


def _gate(args) -> int:
    import pandas as pd

    from hccer.jsonio import read_json, write_text
    from hccer.preprocess.gate import gate_table

    table = gate_table((read_json(p) for p in args.qc), pd.read_csv(args.patients, sep="\t"))
    write_text(args.out, table.to_csv(sep="\t", index=False))
    print(f"registration gate: {int(table['ok'].sum())} of {len(table)} patients passed QC")
    return 0


def _crop(args) -> int:
    from hccer.errors import ConfigError
    from hccer.preprocess.crop import run_crop
    from hccer.study import load_view

    study = load_view(args.study, "crop")
    try:
        images = _pairs(args.image, "--image")
        masks = _pairs(args.mask, "--mask")
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(str(exc)) from None
    meta = run_crop(study, args.patient, images, masks, args.out, args.meta, args.qc_png)
    print(f"crop {meta['mode']}: {meta['arrays']} -> {args.out}")
    return 0
