"""`hccer ivim fit` and `hccer ivim gather`: thin command-line layer over the IVIM modules."""

from __future__ import annotations

import logging
from pathlib import Path

from hccer.errors import ConfigError

log = logging.getLogger(__name__)

# Keys of the preset's `ivim` block that tune the fit; CLI flags override them.
_FIT_KEYS = ("b_threshold", "d_bounds", "dstar_bounds", "f_bounds", "s0_fraction",
             "s0_percentile", "dstar_grid")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ivim", help="IVIM-DWI fitting: ADC, D, D*, f maps and tumour VOI statistics",
        description="Voxel-wise segmented IVIM fit (D from b ≥ threshold, f from the "
                    "intercept, D* by bounded least squares) and mono-exponential ADC over "
                    "all b-values, on the native DWI grid.")
    sub = p.add_subparsers(dest="ivim_command", metavar="<action>")
    sub.required = True

    f = sub.add_parser("fit", help="fit one patient's 4D DWI; write maps, VOI stats, figure")
    f.add_argument("--dwi", required=True, help="4D DWI NIfTI (one volume per b-value)")
    f.add_argument("--bval", help="b-values file (default: the .bval next to --dwi)")
    f.add_argument("--mask", help="reader-1 tumour VOI on the DWI grid")
    f.add_argument("--mask2", help="reader-2 tumour VOI (inter-reader ICC)")
    f.add_argument("--mask-of", nargs=3, metavar=("SHEET", "DICOM_ROOT", "PHASE"),
                   help="instead of --mask/--mask2: the masks SHEET lists for --patient (found "
                   "by its pseudonym under DICOM_ROOT) and PHASE; readers from --readers")
    f.add_argument("--readers", nargs="+", default=["r1"], help="with --mask-of (default r1)")
    f.add_argument("--out-prefix", required=True,
                   help="maps go to PREFIX_desc-{ADC,D,Dstar,f}_map.nii.gz and "
                        "PREFIX_desc-fitstatus_mask.nii.gz")
    f.add_argument("--stats", required=True, help="VOI statistics JSON")
    f.add_argument("--figure", help="PNG: b=0, highest b and the maps at the largest VOI slice")
    f.add_argument("--study", help="study preset YAML; its `ivim` block sets the fit options")
    f.add_argument("--b-threshold", type=float, help="s/mm² (default 200)")
    f.add_argument("--dstar-bounds", type=float, nargs=2, metavar=("LO", "HI"),
                   help="mm²/s (default 0.001 0.5)")
    f.add_argument("--d-bounds", type=float, nargs=2, metavar=("LO", "HI"),
                   help="mm²/s (default 0 0.005)")
    f.add_argument("--patient", help="pseudonym, for messages and the statistics")
    f.set_defaults(func=_fit)

    g = sub.add_parser("gather", help="VOI statistics of all patients → feature table (+ ICC)")
    g.add_argument("--stats", nargs="+", required=True, help="per-patient statistics JSONs")
    g.add_argument("--out", required=True, help="TSV: patient, D, Dstar, f, ADC, ...")
    g.add_argument("--icc", help="JSON: ICC(2,1) between readers per parameter")
    g.add_argument("--folds", help="folds.json; with --icc-cohort restricts the ICC patients")
    g.add_argument("--icc-cohort", help="cohort of folds.json used for the ICC (e.g. train)")
    g.set_defaults(func=_gather)


def _settings(args) -> dict:

    settings: dict = {}
    if args.study:
        from hccer.study import load_view

        study = load_view(args.study, "ivim")
        settings.update({k: v for k, v in (study.get("ivim") or {}).items() if k in _FIT_KEYS})
    for key in ("b_threshold", "dstar_bounds", "d_bounds"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    for key in ("d_bounds", "dstar_bounds", "f_bounds"):
        lo, hi = settings.get(key, (0.0, 1.0))
        if not 0 <= lo < hi:
            raise ConfigError(f"IVIM {key} must be two numbers 0 <= low < high, got {lo}, {hi}")
    if settings.get("dstar_bounds", (1.0,))[0] <= 0:
        raise ConfigError("IVIM dstar_bounds must start above 0 (the D* grid is log-spaced)")
    return settings


def _fit(args) -> int:
    import numpy as np

    from hccer.ivim import maps as M
    from hccer.jsonio import provenance, write_json

    settings = _settings(args)
    bval_path = args.bval or M.default_bval_path(args.dwi)
    b = M.read_bval(bval_path, args.patient)
    dwi, ref = M.load_dwi(args.dwi, b, args.patient)
    if args.mask_of:
        from hccer.ingest.sources import mask_file

        sheet, root, phase = args.mask_of
        masks = {r: M.load_mask(mask_file(sheet, root, args.patient, phase, r), ref,
                                args.patient, f"mask {phase}/{r} of {Path(sheet).name}")
                 for r in args.readers}
    elif args.mask:
        masks = {"r1": M.load_mask(args.mask, ref, args.patient)}
        if args.mask2:
            masks["r2"] = M.load_mask(args.mask2, ref, args.patient)
    else:
        raise ConfigError("give --mask or --mask-of")
    result = M.fit_volume(dwi, b, settings)
    M.write_maps(result, ref, args.out_prefix)
    readers = {r: M.voi_stats(result, m) for r, m in masks.items()}
    for r, s in readers.items():
        if s["n_fitted"] == 0:
            log.warning("patient %s: no voxel of the %s VOI could be fitted", args.patient, r)
    fg = result["status"] > 0
    stats = {
        "patient": args.patient,
        "b_values": b.tolist(),
        "settings": settings,
        "units": M.REPORT_UNIT,
        "readers": readers,
        "volume": {"n_fitted_region": int(fg.sum()),
                   "n_failed": int((result["status"] == 2).sum())},
        "maps": {k: str(M.map_path(args.out_prefix, k)) for k in M.MAP_NAMES},
        "provenance": provenance(),
    }
    if args.figure:
        from hccer.ivim.figure import plot_fit

        stats["figure_slice"] = plot_fit(args.figure, dwi, b, result, masks["r1"],
                                         ref.GetSpacing(), f"IVIM fit {args.patient or ''}",
                                         masks.get("r2"))
    write_json(args.stats, stats)
    r1 = readers["r1"]
    summary = (f"ivim fit {args.patient or ''}: VOI {r1['n_voxels']} voxels "
               f"({r1['n_failed']} failed): D {r1['D']:.3f}, D* {r1['Dstar']:.1f} ×10⁻³ mm²/s, "
               f"f {r1['f']:.3f}, ADC {r1['ADC']:.3f} ×10⁻³ mm²/s; "
               f"{int(np.sum(fg))} voxels fitted in the volume")
    log.info("%s", summary)
    print(summary)
    return 0


def _gather(args) -> int:
    from hccer.errors import InputError
    from hccer.ivim.gather import feature_rows, reader_icc, to_tsv
    from hccer.jsonio import provenance, read_json, write_json, write_text

    stats = []
    for path in args.stats:
        try:
            s = read_json(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read IVIM statistics ({exc})", file=path) from None
        s["_file"] = path
        stats.append(s)
    rows = feature_rows(stats)
    write_text(args.out, to_tsv(rows))
    if args.icc:
        patients = None
        if args.folds and args.icc_cohort not in (None, "all"):
            folds = read_json(args.folds)
            patients = {a["patient"] for a in folds.get("assignment", [])
                        if a.get("cohort") == args.icc_cohort}
        icc = reader_icc(rows, patients)
        n_r2 = sum(1 for r in rows if "D_r2" in r)
        write_json(args.icc, {
            "method": "ICC(2,1): two-way random effects, absolute agreement, single rater",
            "cohort": args.icc_cohort if patients is not None else "all",
            "reproducible": n_r2 >= 2,
            "parameters": icc,
            "provenance": provenance(),
        })
    log.info("ivim gather: %d patients -> %s", len(rows), args.out)
    print(f"ivim gather: {len(rows)} patients -> {args.out}")
    return 0
