"""Small JSON/TSV writers shared by every step: atomic writes, sorted keys, provenance."""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

_TRACKED = ("hccer", "numpy", "scipy", "pandas", "simpleitk", "antspyx", "pydicom", "torch",
            "scikit-learn", "pyradiomics-bhklab", "lifelines", "statsmodels", "snakemake")


def _default(o: Any):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=_default, allow_nan=True) + "\n"


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, dumps(obj))


def write_text(path: str | Path, text: str) -> None:
    """Write via a temporary file and rename, so an interrupted job never leaves half a file."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez (uncompressed), atomically."""
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(path, buf.getvalue())


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _TRACKED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def command_flags(argv: list[str] | None = None) -> list[str]:
    """The command, its subcommands and option names: values are paths that may hold site
    codes, so none is kept."""
    argv = sys.argv if argv is None else argv
    out = [Path(argv[0]).name] if argv else []
    after_option = False
    for tok in argv[1:]:
        if tok.startswith("--"):
            out.append(tok.split("=")[0])
            after_option = "=" not in tok
        elif not after_option and re.fullmatch(r"[a-z][a-z0-9-]*", tok):
            out.append(tok)
        else:
            after_option = False
    return out


def provenance(seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """What produced an output: seed, package versions and option names (no data values)."""
    rec = {"seed": seed, "versions": versions(), "argv": command_flags()}
    rec.update(extra)
    return rec
