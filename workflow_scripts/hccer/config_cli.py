"""CLI: hccer check-config — validate a config and its study preset without running anything."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("check-config", help="validate a config file and its study preset")
    p.add_argument("config", help="config YAML (e.g. config/config.yaml)")
    p.add_argument("--root", default=".", help="project root holding config/schemas")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from hccer.config import cohort_path_problems, load_study, load_yaml, validate
    from hccer.errors import ConfigError

    root = Path(args.root)
    cfg = validate(load_yaml(args.config), root / "config" / "schemas" / "config.schema.yaml",
                   f"config {Path(args.config).name}")
    study = load_study(cfg, root)
    problems = cohort_path_problems(cfg)
    if problems:
        raise ConfigError(f"config {Path(args.config).name}: " + "; ".join(problems))
    print(f"config OK: study {study['key']} ({study['modality']}, phases "
          f"{', '.join(study['phases'])}), data source {cfg['data']['source']}")
    return 0
