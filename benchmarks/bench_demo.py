"""Where a finished run spent its time and disk: one row per rule from the run's benchmark
records, the run's wall time from its Snakemake log, and the disk each results folder holds.

Usage: .venv/bin/python benchmarks/bench_demo.py [--results results/phase_attention]
           [--log .snakemake/log/<run>.snakemake.log] [--startup]
Every rule writes `benchmarks/<rule>/<job>.tsv` (Snakemake's `benchmark:`: wall s, CPU s, peak
RSS, MB read and written). Wall is summed over a rule's jobs, so with 2 cores the column sums
to about twice the run's wall. `--startup` also times `hccer <step> --help` and the import of
each heavy library once (the floor a job of that step pays before it does any work).
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from _run_folder import missing_from_run

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]")
LIBRARIES = ("numpy", "pandas", "SimpleITK", "ants", "radiomics", "torch", "sklearn",
             "lifelines", "matplotlib.pyplot", "pydicom")


def read_records(bench_dir: Path) -> dict[str, list[dict]]:
    """Each rule's benchmark rows (one per job), values as floats."""
    rules: dict[str, list[dict]] = {}
    for tsv in sorted(bench_dir.glob("*/*.tsv")):
        with tsv.open() as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                rules.setdefault(tsv.parent.name, []).append(
                    {k: _num(v) for k, v in row.items() if k != "h:m:s"})
    return rules


def _num(v: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def rule_table(rules: dict[str, list[dict]]) -> list[dict]:
    out = []
    for rule, rows in rules.items():
        wall = sum(r.get("s", 0.0) for r in rows)
        cpu = sum(r.get("cpu_time", 0.0) for r in rows)
        out.append({"rule": rule, "jobs": len(rows), "wall_s": wall, "cpu_s": cpu,
                    "wall_per_job": wall / len(rows), "cpu_per_job": cpu / len(rows),
                    "max_rss_mb": max((r.get("max_rss", 0.0) for r in rows), default=0.0),
                    "io_out_mb": sum(r.get("io_out", 0.0) for r in rows)})
    return sorted(out, key=lambda r: -r["cpu_s"])


def run_wall(log: Path) -> tuple[float, int] | None:
    """Seconds between the first and the last time stamp of a Snakemake log, and its jobs."""
    stamps, done = [], 0
    for line in log.read_text(errors="replace").splitlines():
        m = STAMP.match(line)
        if m:
            stamps.append(datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y"))
        if line.startswith("Finished job"):
            done += 1
    if len(stamps) < 2:
        return None
    return (stamps[-1] - stamps[0]).total_seconds(), done


def folder_sizes(study_dir: Path) -> list[tuple[str, float, int]]:
    """(sub-folder, MB, files) under a study's results folder, largest first."""
    out = []
    for sub in sorted(p for p in study_dir.iterdir() if p.is_dir()):
        files = [f for f in sub.rglob("*") if f.is_file()]
        out.append((sub.name, sum(f.stat().st_size for f in files) / 1e6, len(files)))
    return sorted(out, key=lambda r: -r[1])


def startup_times() -> list[tuple[str, float]]:
    """Wall seconds of a bare `hccer --help` and of importing each heavy library alone."""
    out = []
    hccer = Path(sys.executable).with_name("hccer")
    t0 = time.perf_counter()
    subprocess.run([str(hccer), "--help"], capture_output=True, check=True)
    out.append(("hccer --help", time.perf_counter() - t0))
    for lib in LIBRARIES:
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, "-c", f"import {lib}"], capture_output=True).returncode
        out.append((f"python -c 'import {lib}'" + ("" if rc == 0 else " (not installed)"),
                    time.perf_counter() - t0))
    return out


def latest_log() -> Path | None:
    logs = sorted(Path(".snakemake/log").glob("*.snakemake.log"))
    return logs[-1] if logs else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default="results/phase_attention", help="a study's results folder")
    ap.add_argument("--log", help="the run's Snakemake log (default: the newest in .snakemake/log)")
    ap.add_argument("--startup", action="store_true", help="also time start-up and imports")
    args = ap.parse_args(argv)
    study = Path(args.results)
    problem = missing_from_run(study, ["provenance.json"])
    if problem or not (study / "benchmarks").is_dir():
        print(problem or f"{study} has no benchmarks/ folder (made by a run of this version)",
              file=sys.stderr)
        return 2
    table = rule_table(read_records(study / "benchmarks"))
    print(f"## {study}: per rule (sorted by CPU)\n")
    print(f"{'rule':32s} {'jobs':>5s} {'wall s':>8s} {'CPU s':>8s} {'wall/job':>9s} "
          f"{'CPU/job':>8s} {'RSS MB':>7s} {'out MB':>8s}")
    for r in table:
        print(f"{r['rule']:32s} {r['jobs']:5d} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} "
              f"{r['wall_per_job']:9.2f} {r['cpu_per_job']:8.2f} {r['max_rss_mb']:7.0f} "
              f"{r['io_out_mb']:8.1f}")
    jobs = sum(r["jobs"] for r in table)
    print(f"{'all rules':32s} {jobs:5d} {sum(r['wall_s'] for r in table):8.1f} "
          f"{sum(r['cpu_s'] for r in table):8.1f}")
    log = Path(args.log) if args.log else latest_log()
    if log and log.is_file():
        wall = run_wall(log)
        if wall:
            print(f"\nrun wall (first to last stamp of {log}): {wall[0] / 60:.1f} min, "
                  f"{wall[1]} jobs finished")
    print("\n## disk under the study folder\n")
    sizes = folder_sizes(study)
    for name, mb, n in sizes:
        print(f"{name:20s} {mb:10.1f} MB {n:7d} files")
    print(f"{'total':20s} {sum(s[1] for s in sizes):10.1f} MB")
    if args.startup:
        print("\n## start-up (wall s, one process each)\n")
        for what, s in startup_times():
            print(f"{what:48s} {s:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
