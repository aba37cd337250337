"""Helpers of rules/paper.smk: targets, per-item inputs and command-line options, kept here so
the rule file holds rules only and these are importable and testable."""

from __future__ import annotations

from hccer.errors import ConfigError
from hccer.paper.spec import find_item, items

TABLE_EXT = ("csv", "md", "tex", "json")
FIGURE_EXT = ("png", "pdf", "json")
OPTIONS = ("ledger", "outcome", "folds", "flow", "status", "study", "ivim", "crops", "gradcam",
           "records", "sidecars")


def ids(spec: dict, section: str, group: str) -> list[str]:
    return [i["id"] for i in items(spec, section, group)]


def targets(layout, spec: dict) -> list[str]:
    """Every table and figure file of the paper spec (static: no checkpoint needed)."""
    return [layout.table(i["id"], e) for i in spec["tables"] for e in TABLE_EXT] + [
        layout.figure(i["id"], e) for i in spec["figures"] for e in FIGURE_EXT
    ]


def gradcam_dirs(study_root: str, jobs) -> dict[str, list[str]]:
    """Model -> Grad-CAM folders of its (experiment, fold, seed) jobs that make maps."""
    from hccer.dl.experiments import model_dir

    out: dict[str, list[str]] = {}
    for exp, fold, seed in jobs:
        out.setdefault(exp, []).append(f"{model_dir(study_root, exp, fold, seed)}/gradcam")
    return out


def crop_files(layout, mode: str, pids: list[str], ext: str) -> list[str]:
    return [layout.crop(pid, mode, ext) for pid in pids]


def cohort_inputs(
    spec: dict, item_id: str, layout, mode: str, pids: list[str], ivim_table: str | None = None,
    clinical_records: list[str] | None = None,
) -> dict:
    """fold_distribution counts slices from the crops' metadata; a Table 1 of a study with an
    IVIM track also reads its per-patient IVIM values; odds-ratio tables read the clinical
    model's records; scan characteristics read the headers kept beside each native series;
    other items need nothing beyond the outcome table and the split."""
    kind = find_item(spec, item_id)[1]["kind"]
    if kind == "odds_ratios":
        if not clinical_records:
            raise ConfigError(f"table {item_id}: odds_ratios needs the study's clinical block")
        return {"records": list(clinical_records)}
    if kind == "scan_characteristics":
        phase = find_item(spec, item_id)[1]["phase"]
        return {"sidecars": [layout.deriv(p, phase=phase, desc="native", ext="json")
                             for p in pids]}
    if kind == "fold_distribution":
        return {"crops": crop_files(layout, mode, pids, "json")}
    if kind == "table1" and ivim_table:
        return {"ivim": ivim_table}
    return {}


def image_inputs(
    spec: dict,
    item_id: str,
    layout,
    mode: str,
    pids: list[str],
    gradcam_dirs: dict[str, list[str]],
    ledger: list[str],
) -> dict:
    """Crops (arrays and metadata) for image figures; Grad-CAM folders of the item's models
    (`gradcam_dirs`: model -> folders of its jobs with Grad-CAM) and the ledger that ranks the
    patients shown."""
    item = find_item(spec, item_id)[1]
    files = {
        "crops": crop_files(layout, mode, pids, "npz") + crop_files(layout, mode, pids, "json")
    }
    if item["kind"] == "gradcam":
        files["gradcam"] = [d for m in item.get("models") or [] for d in gradcam_dirs.get(m, [])]
        files["ledger"] = list(ledger)
    return files


def flags(inputs) -> str:
    """`hccer paper` options for the named inputs a job has (lists for crops and Grad-CAM)."""
    out = []
    keys = set(inputs.keys())
    for key in OPTIONS:
        if key in keys:
            value = inputs[key]
            files = [value] if isinstance(value, str) else list(value)
            if files:
                out.append(f"--{key} " + " ".join(files))
    return " ".join(out)
