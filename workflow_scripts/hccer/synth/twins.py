"""Twin parameter files: one YAML per study preset, holding the paper's Table 1 and cohort facts.

A twin file lists the strata of the cohort (with ER / NER sizes and surgery windows), the
scanners, the strength of each latent image trait, and every clinical variable with its levels
and per-group counts (or, for continuous variables reported as mean / median, a law per group).
`base:` lets a preset reuse another preset's file and override a few keys.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from hccer.errors import ConfigError

PRESETS = ("phase_attention", "deep_fusion", "cemri_dlrcr", "ivim_vit", "ct_3dcnn")
CODE_RE = re.compile(r"^[A-Z]+[0-9]{4}$")
MAX_PATIENTS = 9999  # four-digit codes


@cache
def _read(preset: str) -> dict:
    import yaml

    if preset not in PRESETS:
        raise ConfigError(f"unknown study preset {preset!r}; choose one of {', '.join(PRESETS)}")
    text = resources.files("hccer.synth").joinpath("twins", f"{preset}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def load_twin(preset: str) -> dict:
    """The twin parameters of `preset`, with `base:` resolved (a fresh copy each call)."""
    import copy

    spec = copy.deepcopy(_read(preset))
    base = spec.pop("base", None)
    if base:
        merged = load_twin(base)
        merged.update(spec)
        spec = merged
    spec["paper_n"] = sum(s["n_er"] + s["n_ner"] for s in spec["strata"])
    return spec


def patient_codes(preset: str, n: int) -> list[str]:
    """Patient codes of a twin cohort of `n` patients, e.g. PA0001 … PA0167 (no generation)."""
    prefix = load_twin(preset)["prefix"]
    if not 1 <= int(n) <= MAX_PATIENTS:
        raise ConfigError(f"synthetic cohort size must be 1..{MAX_PATIENTS}, got {n}")
    return [f"{prefix}{i:04d}" for i in range(1, int(n) + 1)]
