"""`hccer radiomics extract|table|icc`: one extraction, the cohort table, the reader ICC."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("radiomics", help="pyradiomics features, feature tables, reader ICC")
    rs = p.add_subparsers(dest="radiomics_command", metavar="<action>")
    rs.required = True

    e = rs.add_parser("extract", help="features of one image + mask (one row per case/slice)")
    e.add_argument("--image", required=True)
    e.add_argument("--mask", required=True)
    e.add_argument("--params", required=True, help="pyradiomics parameter file (YAML)")
    e.add_argument("--out", required=True, help="CSV: one row, pyradiomics feature names")
    e.add_argument("--patient", help="add id columns patient/phase/reader to the row")
    e.add_argument("--phase")
    e.add_argument("--reader")
    e.add_argument("--slices-from", help="2D mode: choose axial slices on this mask (largest "
                   "tumour area +- --neighbours); one row per slice")
    e.add_argument("--neighbours", type=int, default=0)
    e.add_argument("--expect", type=int, help="fail unless this many features per row")
    e.set_defaults(func=run_extract)

    t = rs.add_parser("table", help="per-case CSVs -> wide table {phase}_{feature}")
    t.add_argument("--inputs", nargs="+", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--expect", type=int, help="features per phase")
    t.set_defaults(func=run_table)

    c = rs.add_parser("icc", help="ICC(2,1) per feature between two readers' tables")
    c.add_argument("--first", required=True)
    c.add_argument("--second", required=True)
    c.add_argument("--out", required=True)
    c.set_defaults(func=run_icc)


def run_extract(args) -> int:
    import numpy as np
    import SimpleITK as sitk

    from hccer.errors import InputError
    from hccer.jsonio import write_text
    from hccer.radiomics.extract import extract_files, extract_slices, largest_slices, load_params
    from hccer.radiomics.table import case_frame

    params = load_params(args.params)
    if args.slices_from:
        image, mask = sitk.ReadImage(args.image), sitk.ReadImage(args.mask)
        ref = sitk.ReadImage(args.slices_from)
        ref_arr = sitk.GetArrayFromImage(ref)
        if ref_arr.max() == 0:
            raise InputError("reference mask is empty", patient=args.patient,
                             file=args.slices_from)
        slices = largest_slices(ref_arr, args.neighbours)
        # each phase's own mask on the chosen slices; a phase whose mask misses a slice is
        # an input problem (the masks disagree), reported rather than patched
        own = sitk.GetArrayViewFromImage(mask)
        empty = [k for k in slices if k < own.shape[0] and not own[k].any()]
        if empty:
            raise InputError(f"mask is empty on axial slice(s) {empty} chosen on the reference "
                             f"mask {args.slices_from}", patient=args.patient, file=args.mask)
        feats = extract_slices(image, mask, params, slices, image_file=args.image,
                               mask_file=args.mask, patient=args.patient)
        centre = int(np.count_nonzero(ref_arr, axis=(1, 2)).argmax())
        df = case_frame(feats, args.patient, args.phase, args.reader,
                        [k - centre for k in slices])
    else:
        feats = [extract_files(args.image, args.mask, params, patient=args.patient)]
        df = case_frame(feats, args.patient, args.phase, args.reader)
    n = len(feats[0])
    if args.expect and n != args.expect:
        raise InputError(f"{n} features extracted, expected {args.expect}", patient=args.patient,
                         file=args.params)
    write_text(args.out, df.to_csv(index=False))
    print(f"radiomics extract: {len(df)} row(s) x {n} features -> {args.out}")
    return 0


def run_table(args) -> int:
    from hccer.jsonio import write_text
    from hccer.radiomics.table import wide_table

    wide = wide_table(args.inputs, args.expect)
    write_text(args.out, wide.to_csv(sep="\t"))
    print(f"radiomics table: {wide.shape[0]} rows x {wide.shape[1]} features -> {args.out}")
    return 0


def run_icc(args) -> int:
    from hccer.jsonio import write_text
    from hccer.radiomics.select import icc_table
    from hccer.radiomics.table import read_features

    a, b = read_features(args.first), read_features(args.second)
    icc = icc_table(a, b)
    write_text(args.out, icc.rename_axis("feature").to_frame().to_csv(sep="\t"))
    print(f"radiomics icc: {len(icc)} features, {int((icc >= 0.9).sum())} with ICC >= 0.9 "
          f"on {len(a.index.intersection(b.index))} patients -> {args.out}")
    return 0
