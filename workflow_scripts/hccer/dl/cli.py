"""`hccer train` (one experiment, fold, seed), `hccer gradcam`, `hccer rescore` and
`hccer dl-jobs`."""

from __future__ import annotations

import argparse


def _train(args: argparse.Namespace) -> int:
    from hccer.dl.gpuslot import slot_for

    slot_for(args.device)              # a GPU of its own, chosen before torch starts
    from hccer.dl.job import run_job
    from hccer.dl.tabular import TabularFiles
    from hccer.study import load_view

    study = load_view(args.study, "deep")
    files = TabularFiles(args.radiomics_features, args.radiomics_record, args.clinical_record)
    s = run_job(study, args.experiment, args.fold, args.seed, args.crops, args.folds,
                args.outcome, args.out_dir, args.ledger, device=args.device,
                threads=args.threads, base_seed=args.base_seed, tabular_files=files,
                init_dirs=args.init_from)
    auc = "n/a" if s["test_auc"] is None else f"{s['test_auc']:.3f}"
    print(f"{args.experiment} fold {args.fold} seed {args.seed}: test AUC {auc}, "
          f"{s['seconds']:.0f} s on {s['device']}")
    return 0


def _gradcam(args: argparse.Namespace) -> int:
    from hccer.dl.gradcam import run_gradcam

    n = run_gradcam(args.checkpoint, args.crops, args.out_dir, args.folds, args.threads)
    print(f"Grad-CAM overlays for {n} patients in {args.out_dir}")
    return 0


def _rescore(args: argparse.Namespace) -> int:
    from hccer.dl.gpuslot import slot_for

    slot_for(args.device)
    from hccer.dl.rescore import rescore

    rows = rescore(args.checkpoint, args.crops, args.folds, args.outcome, args.model,
                   args.ledger, device=args.device, threads=args.threads)
    print(f"{args.model}: {len(rows)} test patients scored -> {args.ledger}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train one deep experiment on one fold and seed, "
                              "score its held-out patients and write a ledger part")
    p.add_argument("--study", required=True, help="merged study preset YAML")
    p.add_argument("--experiment", required=True, help="an id under deep.experiments")
    p.add_argument("--fold", type=int, required=True, help="outer fold in folds.json")
    p.add_argument("--seed", type=int, required=True, help="training seed (ledger seed column)")
    p.add_argument("--base-seed", type=int, default=0, help="workflow seed mixed into the run")
    p.add_argument("--folds", required=True, help="folds.json")
    p.add_argument("--outcome", required=True, help="outcome.tsv")
    p.add_argument("--crops", nargs="+", required=True, help="crop .npz files (sub-<id>_...)")
    p.add_argument("--out-dir", required=True, help="checkpoint, history, curves, summary")
    p.add_argument("--ledger", required=True, help="ledger part CSV to write")
    p.add_argument("--device", default=None, help="auto, cpu or cuda (default deep.device)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--radiomics-features", help="radiomics feature table (tabular inputs)")
    p.add_argument("--radiomics-record", help="the fold's radiomics record (selected features)")
    p.add_argument("--clinical-record", help="the fold's clinical record (selected variables)")
    p.add_argument("--init-from", nargs="+", default=None, metavar="JOB_DIR",
                   help="job folders (summary.json, checkpoint.pt) of the init_from candidates")
    p.set_defaults(func=_train)

    g = subparsers.add_parser("gradcam", help="Grad-CAM at the last pooling layer of a trained "
                              "3D CNN, overlaid on the input's central slice, per patient")
    g.add_argument("--checkpoint", required=True)
    g.add_argument("--folds", required=True, help="folds.json (patients of the job's fold)")
    g.add_argument("--crops", nargs="+", required=True)
    g.add_argument("--out-dir", required=True)
    g.add_argument("--threads", type=int, default=None)
    g.set_defaults(func=_gradcam)

    r = subparsers.add_parser("rescore", help="score a trained network's test patients on other "
                              "crops of them (e.g. a second reader's VOIs) as a new ledger model")
    r.add_argument("--checkpoint", required=True, help="checkpoint.pt of a training job")
    r.add_argument("--folds", required=True, help="folds.json (the job's test patients)")
    r.add_argument("--outcome", required=True, help="outcome.tsv")
    r.add_argument("--crops", nargs="+", required=True, help="the other crops (.npz)")
    r.add_argument("--model", required=True, help="ledger model name of these scores")
    r.add_argument("--ledger", required=True, help="ledger part CSV to write")
    r.add_argument("--device", default="auto", help="auto, cpu or cuda")
    r.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    r.set_defaults(func=_rescore)
