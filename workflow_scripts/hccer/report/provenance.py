"""Run provenance: the resolved config and merged preset, every seed, package versions and
content hashes of the inputs, with nothing that identifies a patient or the site.

Input hashes are SHA-256. The clinical sheet and the mask sheet are hashed as files. Each
patient's DICOM is hashed as one digest over its files in sorted relative-path order
(path, NUL, file digest), so a renamed, added, removed or changed file changes it; each
patient's masks likewise over (phase, reader, file digest) rows of the mask sheet. Patients are
keyed by pseudonym only: no site code, path, salt or header value is written.
"""

from __future__ import annotations

import csv
import hashlib
import platform
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from hccer.errors import InputError
from hccer.ids import PATIENT_CODE, code_column_renames

_CHUNK = 1 << 20
SECRET_KEYS = ("pseudonym_salt",)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read for hashing: {exc.strerror}", file=path) from None
    return h.hexdigest()


def hash_tree(folder: str | Path) -> dict:
    """Digest over every file below `folder` (relative paths + contents), file and byte count."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError("patient folder not found", file=root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    h = hashlib.sha256()
    size = 0
    for p in files:
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(bytes.fromhex(sha256_file(p)))
        size += p.stat().st_size
    return {"sha256": h.hexdigest(), "files": len(files), "bytes": size}


def hash_masks(rows: list[dict], sheet_dir: Path) -> dict:
    """Digest over one patient's mask rows (phase, reader, file digest), sorted."""
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: (r["phase"], r["reader"])):
        digest = sha256_file(sheet_dir / r["path"])
        h.update(f"{r['phase']}\0{r['reader']}\0{digest}\n".encode())
    return {"sha256": h.hexdigest(), "masks": len(rows)}


def read_pseudonyms(path: str | Path) -> dict[str, str]:
    """pseudonym -> site code, from the private map (never written to results)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        renames = code_column_renames(reader.fieldnames or [], Path(path).name)
        reader.fieldnames = [renames.get(c, c) for c in reader.fieldnames or []]
        rows = list(reader)
    if not {PATIENT_CODE, "pseudonym"} <= set(reader.fieldnames):
        raise InputError(f"pseudonym map needs columns {PATIENT_CODE} and pseudonym", file=path)
    return {r["pseudonym"]: r[PATIENT_CODE] for r in rows}


def input_hashes(
    pseudonyms: dict[str, str],
    dicom_root: str | Path,
    clinical: str | Path,
    mask_sheet: str | Path,
    threads: int = 1,
) -> dict:
    """Hashes of the clinical sheet, the mask sheet and, per pseudonym, DICOM and masks."""
    from hccer.ingest.masks import read_mask_sheet

    sheet = Path(mask_sheet)
    by_code: dict[str, list[dict]] = {}
    for r in read_mask_sheet(sheet):
        by_code.setdefault(r[PATIENT_CODE], []).append(r)
    pids = sorted(pseudonyms)

    def one(pid: str) -> tuple[str, dict]:
        code = pseudonyms[pid]
        rec = {"dicom": hash_tree(Path(dicom_root) / code)}
        rec["masks"] = hash_masks(by_code.get(code, []), sheet.parent)
        return pid, rec

    with ThreadPoolExecutor(max(1, threads)) as pool:  # hashlib releases the GIL
        patients = dict(pool.map(one, pids))
    return {
        "clinical_sheet_sha256": sha256_file(clinical),
        "mask_sheet_sha256": sha256_file(sheet),
        "patients": patients,
        "method": "sha256; DICOM: sorted (relative path, NUL, file sha256) per patient "
        "folder; masks: sorted (phase, reader, file sha256) per patient",
    }


def public_config(config: dict) -> dict:
    """The config without secrets and without the demo settings of other studies, which do
    not act on this run (and must not rerun its provenance)."""
    out = {k: v for k, v in config.items() if k not in SECRET_KEYS}
    by_study = out.get("demo")
    if isinstance(by_study, dict) and "study" in out:
        out["demo"] = {k: v for k, v in by_study.items() if k == out["study"]}
    return out


def environment() -> dict[str, str]:
    """Every installed distribution and its version (what `pip freeze` would list)."""
    out = {}
    for d in metadata.distributions():
        name = d.metadata["Name"]
        if name:
            out[name.lower()] = d.version
    return dict(sorted(out.items()))


def workflow_revision(folder: str | Path | None) -> dict:
    """Git commit of the workflow checkout and whether it had uncommitted changes."""
    if folder is None:
        return {}
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            text=True,
            capture_output=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        dirty = (
            subprocess.run(
                ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                text=True,
                capture_output=True,
                timeout=60,
                check=True,
            ).stdout.strip()
            != ""
        )
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "note": "not a git checkout"}
    return {"git_commit": head, "uncommitted_changes": dirty}


def seeds(config: dict, study: Mapping, folds: dict | None) -> dict:
    out = {
        "config_seed": int(config["seed"]),
        "registration_seed": int(config["seed"]),
        "classical_model_seed": int(config["seed"]),
    }
    if config["data"]["source"] == "synthetic":
        out["synthetic_twin_seed"] = int(config["data"]["synthetic"]["seed"])
    if folds is not None:
        out["split_seed"] = folds.get("seed")
    deep = study.get("deep") or {}
    if deep:
        out["deep_seeds"] = [int(s) for s in deep.get("seeds", [0])]
    return out


def build(
    config: dict,
    study: Mapping,
    folds: dict | None,
    hashes: dict,
    synthetic: dict | None = None,
    workflow_dir: str | Path | None = None,
) -> dict:
    """The provenance record of one run (JSON-serialisable)."""
    from hccer.config import demo_settings, settings_statement
    from hccer.jsonio import versions

    demo = demo_settings(config) if "study" in config else {}
    rec = {
        "study": study["key"],
        "demo_settings": bool(demo),
        "settings": settings_statement(demo),
        "config": public_config(config),
        "study_preset": study,
        "seeds": seeds(config, study, folds),
        "versions": versions(),
        "environment": environment(),
        "platform": {
            "python": platform.python_version(),
            "system": platform.system(),
            "machine": platform.machine(),
        },
        "workflow": workflow_revision(workflow_dir),
        "inputs": hashes,
    }
    if synthetic is not None:
        rec["synthetic_twin"] = {
            k: synthetic[k]
            for k in (
                "preset",
                "n",
                "seed",
                "generator_version",
                "matrix",
                "strength",
                "censored_fraction",
                "n_analysed",
                "n_er_analysed",
                "n_censored",
                "oracle_auc",
                "scanners",
                "dicom_files",
            )
            if k in synthetic
        }
    return rec


def write_config(path: str, config: dict, log_path: str) -> None:
    """The run's resolved config (Snakefile default, config files, --config) without secrets."""
    import yaml

    from hccer.jsonio import write_text

    write_text(path, yaml.safe_dump(public_config(config), sort_keys=False, allow_unicode=True))
    write_text(log_path, "resolved config written (pseudonym salt left out)\n")
