# Config + study preset validation, the patient list, pseudonyms and the path layout, and every
# name that several stages read. Each stage's .smk reads only names from here and its own, so
# the include order of the stages carries no meaning, except that the model tracks register
# their ledger parts in include order (the order of `hccer ledger --parts`).
# Everything here runs at DAG-build time, so it stays cheap: no image is opened.

import csv
import functools
import os
import sys
from pathlib import Path

from hccer.config import (check_demo_source, check_retired_keys, cohort_path_problems,
                          load_study, validate)
from hccer.errors import ConfigError
from hccer.ids import PATIENT_CODE, SALT_ENV, project_salt, pseudonymise, salt_id
from hccer.paper import rules as paperrules
from hccer.paper import spec as paperspec
from hccer.paths import Layout, PrivateLayout, SyntheticLayout
from hccer.radiomics.rules import outer_folds
from hccer.runner import shell_function

# The package runs from this workflow's own source in every job (`hccer.runner`): a conda env
# (envs/*.yaml: third-party pins only) needs no install of hccer, and a venv runs the same code.
# Snakemake formats the prefix, hence the doubled braces.
shell.prefix(shell_function(os.path.join(workflow.basedir, "workflow_scripts"))
             .replace("{", "{{").replace("}", "}}"))
# ... and `python` is the interpreter that runs Snakemake (its venv) even when that is not
# activated (e.g. `.venv/bin/snakemake`); a conda rule env puts its own bin first.
envvars:
    "PATH",


os.environ.update(PATH=os.pathsep.join([os.path.dirname(sys.executable), os.getenv("PATH", "")]))

check_retired_keys(config)
validate(config, os.path.join(workflow.basedir, "config", "schemas", "config.schema.yaml"), "config")
check_demo_source(config)
STUDY = load_study(config, workflow.basedir)
KEY = STUDY["key"]
L = Layout(config["results"], KEY)
PRIV = PrivateLayout(config.get("private", "private"), KEY)
# The salt reaches the steps through the environment, never a command line or param (both
# are written to Snakemake's logs and metadata); SALT_ID (a one-way tag) is the param that
# reruns the pseudonymising steps when it changes.
SALT = project_salt(config)
SALT_ID = salt_id(SALT)
os.environ[SALT_ENV] = SALT
SEED = int(config["seed"])
SOURCE = config["data"]["source"]
REF = STUDY["reference_phase"]
PHASES = STUDY["phases"]
READERS = ["r1", "r2"] if STUDY["second_reader"] else ["r1"]
MASK_PHASES = STUDY["mask_phases"]
SPACING = " ".join(str(s) for s in config["preprocess"]["spacing_mm"])
REG = config["registration"]


def intermediate(path):
    """An image volume only the next steps read (native, 1 mm, registered; masks are small and
    kept): temp() unless preprocess.keep_intermediates."""
    return path if config["preprocess"].get("keep_intermediates") else temp(path)


# Preset blocks that several stages read (None where the preset has none) and the outer folds
# (k-fold: 0..k-1; hold-out: 0) of the classical, deep and paper rules.
RAD = STUDY.get("radiomics")
CLIN = STUDY.get("clinical")
CLASSICAL = STUDY.get("classical")
FOLDS = outer_folds(STUDY["split"])
PUBLISHED = STUDY.get("published")


if SOURCE == "synthetic":
    from hccer.synth import patient_codes

    SYN_CFG = config["data"]["synthetic"]
    SYN = SyntheticLayout(SYN_CFG.get("root", "resources/synthetic"), KEY, SYN_CFG["n"],
                          SYN_CFG["seed"], float(SYN_CFG.get("strength", 1.0)))
    CODES = patient_codes(KEY, int(SYN_CFG["n"]))
    DICOM_ROOT = SYN.dicom()
    CLINICAL = SYN.clinical()
    COLUMNS = SYN.columns()
    MASK_SHEET = SYN.mask_sheet()
    SOURCE_READY = [SYN.record()]
else:
    SYN = None
    C = config["data"]["cohort"]
    DICOM_ROOT, CLINICAL, MASK_SHEET = C["dicom_root"], C["clinical"], C["masks"]
    COLUMNS = C.get("columns")
    SOURCE_READY = []
    # Patients = folders under the DICOM root plus IDs of the sheet; the cohort step reports
    # every patient found on one side only.
    if problems := cohort_path_problems(config):
        raise ConfigError("; ".join(problems))
    CODES = sorted(p.name for p in Path(DICOM_ROOT).iterdir() if p.is_dir())

PID = {code: pseudonymise(code, SALT) for code in CODES}
CODE = {pid: code for code, pid in PID.items()}
if len(CODE) != len(PID):
    raise ValueError("two patient codes map to the same pseudonym; use another salt")
PIDS = sorted(CODE)


wildcard_constraints:
    pid="p[0-9a-f]{10}",
    phase="|".join(PHASES),
    reader="r[0-9]+",
    # outer folds and seeds of the classical, deep and ViT model jobs
    fold="[0-9]+",
    seed="[0-9]+",


def log_path(rule, *keys):
    return L.log(rule, *keys)


@functools.cache
def mask_rows(sheet):
    """The mask sheet's rows, read once per run (called for every patient's masks)."""
    from hccer.ingest.masks import read_mask_sheet

    return read_mask_sheet(sheet)


def mask_path(pid, phase, reader):
    """The source mask of one patient, phase and reader (synthetic layout or the sheet)."""
    code = CODE[pid]
    if SOURCE == "synthetic":
        return SYN.mask(code, phase, reader)
    sheet = Path(MASK_SHEET)
    for row in mask_rows(str(sheet)):
        if (row[PATIENT_CODE], row["phase"], row["reader"]) == (code, phase, reader):
            return str(sheet.parent / row["path"])
    # named by pseudonym: Snakemake prints this, and the site's code must not reach a log
    raise ValueError(f"no mask for patient {pid}, phase {phase}, reader {reader} in {sheet.name}")


def unmatched_mask_lines():
    """Mask-sheet lines naming no patient folder (a site's sheet only; an unreadable sheet is
    reported by every patient's triage instead)."""
    if SOURCE == "synthetic":
        return []
    from hccer.errors import InputError
    from hccer.ingest.masks import unmatched_lines

    try:
        return unmatched_lines(mask_rows(str(MASK_SHEET)), set(CODES))
    except InputError:
        return []


def supplied_digest(wc):
    """Digest of what the site supplied for one patient (DICOM files, mask rows and files,
    override rows; `hccer.ingest.tracking`): a param of triage, so fixing one patient's input
    reruns that patient. The twin's files come from synthesize_cohort, whose record is an
    input of triage already."""
    if SOURCE == "synthetic":
        return ""
    from hccer.errors import InputError
    from hccer.ingest.tracking import inputs_digest
    from hccer.ingest.triage import read_override

    code = CODE[wc.pid]
    try:
        rows = [r for r in mask_rows(str(MASK_SHEET)) if r[PATIENT_CODE] == code]
    except InputError as exc:
        rows = exc.reason
    override = C.get("manifest_override")
    try:
        extra = read_override(override, wc.pid) if override else []
    except (InputError, OSError) as exc:
        extra = str(exc)
    return inputs_digest(patient_dir(wc.pid), rows, Path(MASK_SHEET).parent, extra)


def screened_pids(wildcards=None):
    """Patients whose inputs passed triage (known after the screen checkpoint)."""
    table = checkpoints.screen_cohort.get().output.table
    with open(table, newline="", encoding="utf-8") as f:
        return sorted(r["patient"] for r in csv.DictReader(f, delimiter="\t")
                      if r["ok"] == "True")


def gated_pids(wildcards=None):
    """Patients whose inputs passed triage and registration QC."""
    table = checkpoints.gate_registration.get().output[0]
    with open(table, newline="", encoding="utf-8") as f:
        return sorted(r["patient"] for r in csv.DictReader(f, delimiter="\t")
                      if r["ok"] == "True")


def moving_phases():
    return [p for p in PHASES if p != REF]


def preprocess_targets(wildcards):
    return [L.crop(pid, STUDY["crop"]["mode"], "npz") for pid in gated_pids()]


# Targets known before any checkpoint: listed apart so a dry run shows their jobs.
STATIC_TARGETS = [L.cohort("outcome.tsv"), PRIV.pseudonyms()]


# Model tracks register here (in their own .smk): functions of wildcards returning the
# ledger parts they write and any other final targets. Kept as lists so a track is one include.
LEDGER_PARTS = []
MODEL_TARGETS = []
# Tracks whose models have Grad-CAM maps register ledger model name -> folders here; the
# paper's image figures read them.
GRADCAM_DIRS = {}


def ledger_parts(wildcards):
    return [p for fn in LEDGER_PARTS for p in fn(wildcards)]


def ledger_input(wildcards=None):
    """The ledger, for rules that read it when some track writes one (else no input). A
    function, so it is asked only once every track has registered."""
    return [L.ledger()] if LEDGER_PARTS else []


def model_targets(wildcards):
    targets = [t for fn in MODEL_TARGETS for t in fn(wildcards)]
    return targets + ledger_input()


# The preset's paper tables and figures (rules/paper.smk) and the reproduction report
# (rules/report.smk): static, so a dry run lists them.
PAPER = paperspec.paper_spec(STUDY, config.get("stats"))


def paper_targets(wildcards):
    return paperrules.targets(L, PAPER)


REPORT_TARGETS = [L.provenance(), L.tripod()] + (
    [L.comparison("md"), L.comparison("tsv")] if PUBLISHED else []
)


def cohort_targets(wildcards):
    return [L.cohort("folds.json"), L.qc("patient_status.tsv"), L.qc("summary.md")]


def patient_dir(pid):
    return f"{DICOM_ROOT}/{CODE[pid]}"


# The IVIM fit (rules/ivim.smk) writes its maps on the DWI phase; the ViT track crops them.
IVIM_PHASE = "DWI"


def ivim_map(pid, name):
    """One IVIM parametric map (ADC, D, Dstar, f) of a patient, on the native DWI grid."""
    return L.deriv(pid, phase=IVIM_PHASE, desc=name, suffix="map")


def masked_moving_phases():
    return [p for p in PHASES if p != REF and p in MASK_PHASES]


def unmasked_moving_phases():
    return [p for p in PHASES if p != REF and p not in MASK_PHASES]


def crop_inputs(wc):
    images, masks = {}, {}
    for ph in PHASES:
        if ph == REF:
            images[ph] = L.deriv(wc.pid, phase=ph, desc="resampled")
            masks[ph] = L.deriv(wc.pid, phase=ph, reader="r1", desc="resampled", suffix="mask")
        else:
            images[ph] = L.deriv(wc.pid, phase=ph, space=REF, desc="registered")
            if ph in MASK_PHASES:
                masks[ph] = L.deriv(wc.pid, phase=ph, reader="r1", space=REF,
                                    desc="registered", suffix="mask")
    return {"images": images, "masks": masks}


def crop_input_files(wc):
    files = crop_inputs(wc)
    named = {f"image_{k}": v for k, v in files["images"].items()}
    named.update({f"mask_{k}": v for k, v in files["masks"].items()})
    if STUDY["modality"] == "DWI":  # b-values, read beside the resampled stack
        named["bval"] = L.deriv(wc.pid, phase=REF, desc="resampled", ext="bval")
    return dict(named, study=L.study_file("crop"))
