#!/usr/bin/env bash
# Set up the environment in .venv/ (idempotent) and run one thing:
#   bash bootstrap.sh demo    the demo study end to end on a synthetic twin cohort
#                             (config/demo.yaml over config/config.yaml)
#   bash bootstrap.sh test    lint + the test suite (what CI runs)
#   bash bootstrap.sh env     only create/update the environment
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-env}"

py="${PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      py="$cand"; break
    fi
  done
fi
[ -n "$py" ] || { echo "bootstrap: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
stamp=.venv/.hccer-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch is pinned to 2.13.0 (CPU wheel); an unpinned torch would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet -c requirements/constraints.txt -e ".[all,dev]"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"

case "$what" in
  env) echo "environment ready: .venv (hccer $(.venv/bin/python -c 'import hccer; print(hccer.__version__)'))" ;;
  demo)
    shift || true
    # a run killed hard (kill -9, power loss) leaves its lock behind; with no Snakemake
    # running here it is stale, and the demo clears it instead of failing on it
    if [ -n "$(ls -A .snakemake/locks 2>/dev/null)" ] && [ -d /proc/self ]; then
      here=""
      for pid in $(pgrep -f "bin/snakemake" || true); do
        [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$PWD" ] && here=1
      done
      if [ -z "$here" ]; then
        echo "bootstrap: removing a stale Snakemake lock (no Snakemake is running here)"
        snakemake --unlock --cores 1 --configfile config/demo.yaml "$@"
      fi
    fi
    # the demo's small networks and crops are an explicit file, never the default
    snakemake --cores all --configfile config/demo.yaml "$@"
    echo "demo finished: see results/ (status: results/*/qc/summary.md)" ;;
  test)
    shift || true
    ruff check workflow_scripts tests benchmarks
    snakemake --lint
    pytest -q "$@" ;;
  *) echo "usage: bash bootstrap.sh demo|test|env" >&2; exit 2 ;;
esac
