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


def validate(data: dict, schema_path: str | Path, what: str) -> dict:
    """Validate `data`; raise ConfigError naming the key and the fix on the first error."""
    import jsonschema

    schema = load_yaml(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        if e.validator == "additionalProperties":
            msg = f"{what}: unknown key(s) under `{_where(e)}`: {e.message}"
        else:
            msg = f"{what}: `{_where(e)}`: {e.message}"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(msg + more)
    return data


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


def load_study(config: dict, root: str | Path) -> dict:
    root = Path(root)
    path = root / "config" / "studies" / f"{config['study']}.yaml"
    study = validate(load_yaml(path), root / "config" / "schemas" / "study.schema.yaml",
                     f"study preset {path.name}")
    check_cross_fields(config, study)
    return study
