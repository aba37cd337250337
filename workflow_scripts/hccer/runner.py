"""How a workflow job runs the package: from the workflow's own source, not an install.

Each rule's command starts with `hccer`; the job shell defines it as a function that runs
`python -m hccer` with the source folder first on PYTHONPATH. A conda env (envs/*.yaml) then
needs only the third-party pins, and a venv runs the same code as Snakemake's process.
"""

from __future__ import annotations


def shell_function(src: str) -> str:
    """Bash text that defines `hccer` for a job (Snakemake's strict mode first, as its own
    prefix would have set it)."""
    return ("set -euo pipefail; "
            f'hccer() {{ PYTHONPATH="{src}${{PYTHONPATH:+:$PYTHONPATH}}" python -m hccer "$@"; }}; ')
