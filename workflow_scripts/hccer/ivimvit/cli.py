"""`hccer vit crop-maps|train|features|fit|explain`: the IVIM ViT pipeline's steps."""

from __future__ import annotations


def _study(path: str):
    from hccer.study import load_view

    return load_view(path, "vit")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from hccer.errors import ConfigError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"{what} expects NAME=PATH, got {item!r}")
        out[key] = value
    return out


def _crop_maps(args) -> int:
    from hccer.ivimvit.maps import run_crop_maps

    meta = run_crop_maps(_pairs(args.map, "--map"), args.mask, args.box, _study(args.study),
                         args.spacing, args.patient, args.out, args.meta, args.qc_png,
                         args.interp)
    print(f"map crop {args.patient}: {meta['arrays']['maps']} ({meta['scaling']}) -> {args.out}")
    return 0


def _train(args) -> int:
    from hccer.dl.gpuslot import slot_for

    slot_for(args.device)              # a GPU of its own, chosen before torch starts
    from hccer.ivimvit.train import run_vit_fold

    s = run_vit_fold(_study(args.study), args.experiment, args.inner, args.seed, args.crops,
                     args.folds, args.out_dir, args.device, args.threads, args.base_seed)
    auc = "n/a" if s["val_auc"] is None else f"{s['val_auc']:.3f}"
    print(f"{args.experiment} inner fold {args.inner} seed {args.seed}: validation AUC {auc}, "
          f"{s['seconds']:.0f} s on {s['device']}")
    return 0


def _features(args) -> int:
    from pathlib import Path

    from hccer.ivimvit.features import run_extract

    jobs = [str(Path(p).parent) for p in args.summaries]
    r = run_extract(args.experiment, args.seed, jobs, args.crops, args.folds, args.out,
                    args.record, args.device, args.threads)
    print(f"{args.experiment} seed {args.seed}: {r['n_features']} features x "
          f"{r['n_patients']} patients from inner fold {r['chosen_inner_fold']} -> {args.out}")
    return 0


def _fit(args) -> int:
    from hccer.errors import ConfigError
    from hccer.ivimvit.models import run_fit

    if bool(args.perm_bdl) != bool(args.perm_mdl):
        raise ConfigError("give both --perm-bdl and --perm-mdl, or neither")
    feats = {"bdl": args.bdl, "mdl": args.mdl}
    perm = {"bdl": args.perm_bdl, "mdl": args.perm_mdl} if args.perm_bdl else None
    rec = run_fit(_study(args.study), feats, args.outcome, args.folds, args.seed, args.out,
                  args.record, args.base_seed, perm, args.clinical_record, args.ivim,
                  args.extractors)
    print("vit models: " + ", ".join(f"{m} test AUC {a.get('test')}"
                                     for m, a in rec.get("auc", {}).items()))
    return 0


def _explain(args) -> int:
    from hccer.ivimvit.explain import run_explain

    n = run_explain(_study(args.study), args.extractor, args.crops, args.map_crops, args.folds,
                    args.out_dir, args.threads)
    print(f"Grad-CAM for {n} patients in {args.out_dir}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("vit", help="IVIM ViTs: map crops, per-inner-fold training, deep "
                              "features, bDL/mDL/fDL and combined models, Grad-CAM")
    sub = p.add_subparsers(dest="vit_command", metavar="<step>")
    sub.required = True

    c = sub.add_parser("crop-maps", help="ADC/D/D*/f maps cut to the b-value crop's box")
    c.add_argument("--study", required=True, help="merged study preset YAML")
    c.add_argument("--patient", required=True)
    c.add_argument("--map", action="append", required=True, metavar="NAME=PATH",
                   help="native-grid map (ADC, D, Dstar, f)")
    c.add_argument("--mask", required=True, help="resampled tumour mask (b-value crop grid)")
    c.add_argument("--box", required=True, help="the bbox3d crop's metadata JSON")
    c.add_argument("--spacing", type=float, nargs=3, required=True, help="mm (x y z)")
    c.add_argument("--interp", default="linear", choices=["linear", "bspline"])
    c.add_argument("--out", required=True, help="arrays (.npz): maps, mask")
    c.add_argument("--meta", required=True, help="metadata (.json)")
    c.add_argument("--qc-png")
    c.set_defaults(func=_crop_maps)

    t = sub.add_parser("train", help="one ViT on one inner fold of the training cohort")
    t.add_argument("--study", required=True)
    t.add_argument("--experiment", required=True, help="an id under deep.experiments")
    t.add_argument("--inner", type=int, required=True, help="inner fold in folds.json")
    t.add_argument("--seed", type=int, required=True)
    t.add_argument("--base-seed", type=int, default=0, help="workflow seed mixed into the run")
    t.add_argument("--folds", required=True)
    t.add_argument("--crops", nargs="+", required=True)
    t.add_argument("--out-dir", required=True)
    t.add_argument("--device", default=None, help="auto, cpu or cuda (default deep.device)")
    t.add_argument("--threads", type=int, default=None)
    t.set_defaults(func=_train)

    f = sub.add_parser("features", help="CLS features of every patient from the best fold")
    f.add_argument("--experiment", required=True)
    f.add_argument("--seed", type=int, required=True)
    f.add_argument("--summaries", nargs="+", required=True,
                   help="summary.json of each inner-fold job (checkpoint.pt beside it)")
    f.add_argument("--crops", nargs="+", required=True)
    f.add_argument("--folds", required=True)
    f.add_argument("--out", required=True, help="features TSV")
    f.add_argument("--record", required=True, help="JSON: chosen fold and its AUC")
    f.add_argument("--device", default=None)
    f.add_argument("--threads", type=int, default=None)
    f.set_defaults(func=_features)

    m = sub.add_parser("fit", help="bDL/mDL/fDL logistic and combined LASSO -> ledger part")
    m.add_argument("--study", required=True)
    m.add_argument("--bdl", required=True, help="b-value ViT features TSV")
    m.add_argument("--mdl", required=True, help="map ViT features TSV")
    m.add_argument("--perm-bdl", help="permutation-control b-value ViT features")
    m.add_argument("--perm-mdl", help="permutation-control map ViT features")
    m.add_argument("--extractors", nargs="*", help="extractor JSONs (recorded)")
    m.add_argument("--outcome", required=True)
    m.add_argument("--folds", required=True)
    m.add_argument("--ivim", help="IVIM features TSV (D for the combined model)")
    m.add_argument("--clinical-record", help="the clinical model's record (its predictors)")
    m.add_argument("--seed", type=int, required=True)
    m.add_argument("--base-seed", type=int, default=0)
    m.add_argument("--out", required=True, help="ledger part CSV")
    m.add_argument("--record", required=True, help="JSON: selections, coefficients, AUCs")
    m.set_defaults(func=_fit)

    e = sub.add_parser("explain", help="Grad-CAM of the b-value ViT on b = 1000, per patient")
    e.add_argument("--study", required=True)
    e.add_argument("--extractor", required=True, help="the bDL extractor JSON")
    e.add_argument("--crops", nargs="+", required=True, help="bbox3d crops")
    e.add_argument("--map-crops", nargs="+", required=True, help="map crops (VOI mask)")
    e.add_argument("--folds", required=True)
    e.add_argument("--out-dir", required=True)
    e.add_argument("--threads", type=int, default=None)
    e.set_defaults(func=_explain)
