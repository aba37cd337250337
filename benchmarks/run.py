"""Run every benchmark (or those named) one after another and print their tables.

Usage: .venv/bin/python benchmarks/run.py [dag convert register synth stats ceiling clinical ivim
       radiomics train paper_size]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["dag", "convert", "register", "synth", "stats", "ceiling", "clinical", "ivim", "radiomics",
         "train", "paper_size"]


def main(argv: list[str]) -> int:
    names = argv or ORDER
    failed = []
    for name in names:
        script = HERE / f"bench_{name}.py"
        print(f"\n=== {name} ({script.name}) ===", flush=True)
        rc = subprocess.run([sys.executable, str(script)], check=False).returncode
        if rc:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
