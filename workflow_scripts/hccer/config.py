"""Configuration and sample-sheet validation with closed JSON schemas and one clear message."""

from __future__ import annotations

from pathlib import Path

import yaml

from hccer.errors import ConfigError


def load_yaml(path: str | Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must contain a mapping at the top level")
    return data


def _where(error) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


def _coerce_scalar(value, types):
    """A string from `snakemake --config key=value` to the type the schema asks for."""
    if not isinstance(value, str) or "string" in types:
        return value
    low = value.strip().lower()
    if "boolean" in types and low in ("true", "false"):
        return low == "true"
    if "null" in types and low in ("null", "none", "~"):
        return None
    for kind, cast in (("integer", int), ("number", float)):
        if kind in types:
            try:
                return cast(value)
            except ValueError:
                continue
    return value


def _resolve(schema: dict, root: dict) -> dict:
    """A schema with its local `$ref` (`#/...`) replaced by the part of `root` it names."""
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        target = root
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def coerce(data, schema: dict, root: dict | None = None):
    """Convert command-line strings to schema types in place of a copy; structure unchanged.

    Snakemake passes nested `--config` values as strings, so `n: '24'` must become 24 before a
    closed schema can judge it; local `$ref`s are followed (an experiment's `lr` under
    `deep.experiments` is typed by a reference to `deep.defaults`).
    """
    root = schema if root is None else root
    schema = _resolve(schema, root)
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    if isinstance(data, dict) and ("properties" in schema or "additionalProperties" in schema):
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else {}
        props = schema.get("properties", {})
        return {k: coerce(v, props.get(k, extra), root) for k, v in data.items()}
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [coerce(v, schema["items"], root) for v in data]
    return _coerce_scalar(data, types)


def schema_problems(data: dict, schema_path: str | Path, what: str) -> list[str]:
    """Every schema problem of `data` (coerced to schema types in place), one line each."""
    import jsonschema

    schema = load_yaml(schema_path)
    coerced = coerce(data, schema)
    data.clear()
    data.update(coerced)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data),
                    key=lambda e: list(e.absolute_path))
    return [f"{what}: unknown key(s) under `{_where(e)}`: {e.message}"
            if e.validator == "additionalProperties" else f"{what}: `{_where(e)}`: {e.message}"
            for e in errors]


def validate(data: dict, schema_path: str | Path, what: str) -> dict:
    """Validate `data` (coerced to schema types; the input is updated in place) and raise
    ConfigError naming the key and the fix on the first error."""
    if problems := schema_problems(data, schema_path, what):
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + more)
    return data


def cohort_path_problems(config: dict) -> list[str]:
    """Every missing input of a `data.source: cohort` config, one line each (none for the
    synthetic twin): the DICOM root must be a folder with one sub-folder per patient, the
    clinical and mask sheets (and the optional column dictionary and override) files."""
    if config["data"]["source"] != "cohort":
        return []
    c = config["data"]["cohort"]
    problems = []
    root = Path(c["dicom_root"])
    if not root.is_dir():
        problems.append(f"data.cohort.dicom_root: {root} is not a folder")
    elif not any(p.is_dir() for p in root.iterdir()):
        problems.append(f"data.cohort.dicom_root: {root} holds no patient folder")
    for key in ("clinical", "masks", "columns", "manifest_override"):
        if c.get(key) and not Path(c[key]).is_file():
            problems.append(f"data.cohort.{key}: {c[key]} is not a file")
    return problems


def check_cross_fields(config: dict, study: dict) -> None:
    """Rules a schema cannot express, each with a message naming the keys involved."""
    if study["reference_phase"] not in study["phases"]:
        raise ConfigError(f"study {study['key']}: reference_phase {study['reference_phase']} "
                          f"is not in phases {study['phases']}")
    for ph in study["mask_phases"] + study.get("model_phases", []):
        if ph not in study["phases"]:
            raise ConfigError(f"study {study['key']}: phase {ph} is not in phases "
                              f"{study['phases']}")
    split = study["split"]
    needed = {"kfold": ["n_folds"], "holdout_random": ["test_fraction"],
              "holdout_date": ["date_cutoff"]}[split["method"]]
    for key in needed:
        if key not in split:
            raise ConfigError(f"study {study['key']}: split.{key} is required for "
                              f"split.method {split['method']}")
    if config["data"]["source"] == "cohort" and "cohort" not in config["data"]:
        raise ConfigError("data.source is 'cohort' but the data.cohort block is missing")
    if config["data"]["source"] == "synthetic" and "synthetic" not in config["data"]:
        raise ConfigError("data.source is 'synthetic' but the data.synthetic block is missing")


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) \
            else v
    return out


# Keys an older config held, with what replaces them: refused by name rather than as an
# unknown key, so a user's old file says what to change.
RETIRED_KEYS = {
    "pseudonym_salt": "the salt no longer sits in the config (config files are copied into "
                      "logs and reports): put it in a file outside results/ and set "
                      "pseudonym_salt_file to its path",
    "overrides_by_study": "demo-size settings are the `demo` block of config/demo.yaml and "
                          "apply only when that file is given (bash bootstrap.sh demo); for "
                          "changes to a real study use study_overrides",
}


def check_retired_keys(config: dict) -> None:
    if found := [k for k in RETIRED_KEYS if k in config]:
        raise ConfigError("; ".join(f"config key {k}: {RETIRED_KEYS[k]}" for k in found))


def demo_settings(config: dict) -> dict:
    """The demo-size settings in force for the config's study ({} unless config/demo.yaml,
    or another file with a `demo` block for this study, was given)."""
    return (config.get("demo") or {}).get(config["study"]) or {}


def settings_statement(demo: dict | None) -> str:
    """One sentence for the first lines of comparison.md, provenance.json and the report:
    whether demo settings were in force (`demo` = the study's demo block, or empty)."""
    if demo:
        return ("Demo settings were in force (config/demo.yaml: " + ", ".join(sorted(demo))
                + " of the preset shrunk for a minutes-long run); these numbers test the "
                "pipeline, not the paper's models.")
    return "The study preset's own settings were in force (no demo settings)."


def check_demo_source(config: dict) -> None:
    """Demo settings shrink networks and crops below what any study needs: they are refused
    for a site's cohort, so a real analysis can never run with them."""
    if demo_settings(config) and config["data"]["source"] == "cohort":
        raise ConfigError(
            "the demo block (config/demo.yaml) is for the synthetic twin only; a cohort "
            "(data.source: cohort) runs the study preset's own settings: leave out "
            "config/demo.yaml, and change single settings with study_overrides")


def merged_config(files: list[str | Path], root: str | Path) -> dict:
    """The config a run uses: config/config.yaml, then each file merged over it key by key
    (as Snakemake merges --configfile files over the Snakefile's configfile)."""
    config = load_yaml(Path(root) / "config" / "config.yaml")
    for f in files:
        if Path(f).resolve() != (Path(root) / "config" / "config.yaml").resolve():
            config = deep_merge(config, load_yaml(f))
    return config


def load_study(config: dict, root: str | Path) -> dict:
    """The study preset with the demo settings (when in force) and then `study_overrides`
    merged in, validated."""
    root = Path(root)
    path = root / "config" / "studies" / f"{config['study']}.yaml"
    by_study = demo_settings(config)
    raw = deep_merge(deep_merge(load_yaml(path), by_study), config.get("study_overrides") or {})
    what = f"study preset {path.name}" + (" with demo settings" if by_study else "") + (
        " with study_overrides" if config.get("study_overrides") else "")
    study = validate(raw, root / "config" / "schemas" / "study.schema.yaml", what)
    check_cross_fields(config, study)
    return study


def write_study(path: str, study: dict, log_path: str) -> None:
    """Write the merged study preset that every step reads (its provenance, too)."""
    from hccer.jsonio import write_text

    write_text(path, yaml.safe_dump(study, sort_keys=False))
    write_text(log_path, f"study preset {study['key']} written with study_overrides merged\n")
