"""What a site supplied for one patient, as a digest: the rerun trigger of its triage.

Snakemake reruns a job when an input file is newer or a param changed. A patient's DICOM
folder, its rows of the mask sheet and of the manifest override are not single files a rule can
name, so triage takes a digest of them as a param: fixing one series, one mask or one override
row reruns that patient's triage and what depends on it, and no other patient's. The digest
holds only hashes, never a path or code (Snakemake keeps params in `.snakemake/metadata`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path


def file_state(path: str | Path) -> str:
    """Size and modification time of a file, or "missing"."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def folder_states(root: str | Path) -> list[str]:
    """Every file under `root` (relative path, size, modification time), sorted: a cheap
    listing that changes when a file is added, removed, replaced or edited."""
    root = Path(root)
    out = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            out.append(f"{path.relative_to(root).as_posix()}\t{file_state(path)}")
    return sorted(out)


def inputs_digest(dicom_dir: str | Path, mask_rows: Iterable[dict] | str,
                  sheet_dir: str | Path, override_rows: Iterable[dict] | str = ()) -> str:
    """SHA-256 over the patient's DICOM listing, mask rows (with each mask file's state) and
    override rows. A sheet that cannot be read is passed as its error text, so that fixing
    it changes the digest too."""
    h = hashlib.sha256()
    for line in folder_states(dicom_dir):
        h.update(f"dicom\t{line}\n".encode())
    if isinstance(mask_rows, str):
        h.update(f"masks unreadable\t{mask_rows}\n".encode())
    else:
        for r in sorted(mask_rows, key=lambda r: (r["phase"], r["reader"], r["path"])):
            state = file_state(Path(sheet_dir) / r["path"])
            h.update(f"mask\t{r['phase']}\t{r['reader']}\t{r['path']}\t{state}\n".encode())
    if isinstance(override_rows, str):
        h.update(f"override unreadable\t{override_rows}\n".encode())
    else:
        for r in sorted(override_rows, key=lambda r: sorted(r.items())):
            h.update(("override\t" + "\t".join(f"{k}={v}" for k, v in sorted(r.items()))
                      + "\n").encode())
    return h.hexdigest()
