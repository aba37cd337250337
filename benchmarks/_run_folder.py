"""The check shared by the benchmarks that read a finished run's results/<study> folder."""

from __future__ import annotations

from pathlib import Path


def missing_from_run(d: Path, relative: list[str]) -> str | None:
    """A one-line message naming the files of a finished run that `d` lacks, or None."""
    missing = [str(d / r) for r in relative if not (d / r).is_file()]
    if not missing:
        return None
    return (f"{d} is not a finished run's study folder (results/<study>): missing "
            f"{', '.join(missing)}")
