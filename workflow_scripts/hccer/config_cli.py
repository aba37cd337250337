"""CLI: hccer check-config — check what a run will use, before anything runs."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "check-config", help="check the merged config and every cohort input file it names",
        description="Merge the config files over config/config.yaml as the workflow does, "
        "validate the result and its study preset, and for a cohort open the DICOM root, "
        "clinical sheet, column dictionary, mask sheet and every mask file it lists. Every "
        "problem is printed, one per line. Patients are named by their site code (with the "
        "pseudonym the run gives them): this output is for your terminal, not for results/.")
    p.add_argument("config", nargs="*", help="config YAML files, in the order given to "
                   "snakemake --configfile (none: config/config.yaml alone)")
    p.add_argument("--root", default=None, help="project root holding config/ (default: this "
                   "checkout)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from hccer.errors import ConfigError
    from hccer.preflight import check

    root = Path(args.root) if args.root else Path(__file__).resolve().parents[2]
    config, study, problems = check(args.config, root)
    if problems:
        raise ConfigError(f"{len(problems)} problem(s):\n  " + "\n  ".join(problems))
    print(f"config OK: study {study['key']} ({study['modality']}, phases "
          f"{', '.join(study['phases'])}), data source {config['data']['source']}")
    return 0
