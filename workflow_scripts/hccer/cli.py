"""The `hccer` console command: one subcommand per workflow step.

Each step module exposes `register(subparsers)`, which adds its parser and sets `func`. Modules
import their heavy dependencies inside the functions, so `hccer --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from hccer.errors import ConfigError, InputError

# (module, purpose) in pipeline order; a module registers one or more subcommands.
STEP_MODULES = (
    "hccer.synth.cli",
    "hccer.ingest.cli",
    "hccer.preprocess.cli",
    "hccer.cohort.cli",
    "hccer.ivim.cli",
    "hccer.radiomics.cli",
    "hccer.classical.cli",
    "hccer.dl.cli",
    "hccer.ivimvit.cli",
    "hccer.ledger_cli",
    "hccer.stats.cli",
    "hccer.paper.cli",
    "hccer.report.cli",
    "hccer.config_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hccer",
        description="Early-recurrence HCC workflow steps. Each step is also a Snakemake rule.",
    )
    parser.add_argument("--log", help="append log messages to this file as well as stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="<step>")
    sub.required = True
    for name in STEP_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a track not installed in this build
            if exc.name and exc.name.startswith("hccer"):
                continue
            raise
        module.register(sub)
    return parser


def setup_logging(logfile: str | None, verbose: bool) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if logfile:
        handlers.append(logging.FileHandler(logfile, mode="a", encoding="utf-8"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log, args.verbose)
    log = logging.getLogger("hccer")
    try:
        rc = args.func(args)
    except InputError as exc:
        log.error("input error: %s", exc.message())
        print(f"hccer {args.command}: {exc.message()}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        print(f"hccer {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
