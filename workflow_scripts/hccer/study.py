"""The study preset as frozen views: each stage reads only the part of the preset it needs.

The workflow writes one file per view (`results/<study>/study/<view>.yaml`, `Layout.study`)
and each rule takes the view of its stage as input, so editing one part of the preset reruns
exactly the steps that read that part: an experiment's learning rate lives in the `deep` view,
which no triage, conversion, registration, crop, clinical or radiomics step reads.

A view is a read-only mapping. Reading a preset key that the view does not hold is an error,
not a silent default, so a stage that starts to need more of the preset fails in the tests
until its view (here) says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# What identifies the acquisition; every view holds it.
CORE = ("key", "modality", "phases", "model_phases", "b_values", "reference_phase",
        "mask_phases", "second_reader")
# Stage -> preset sections beyond the core that its steps read.
VIEWS: dict[str, tuple[str, ...]] = {
    "core": (),                                        # triage, patient status
    "outcome": ("outcome", "clinical"),                # ER label, the model variables' types
    "split": ("split",),
    "crop": ("crop",),
    "ivim": ("ivim",),                                 # IVIM parameter maps
    "clinical": ("split", "clinical"),                 # clinical model, staging comparators
    "classical": ("split", "clinical", "radiomics", "classical"),
    "deep": ("split", "crop", "clinical", "deep"),     # network jobs, layer tables
    "vit": ("split", "crop", "clinical", "deep", "vit"),
}
# Kept out of every view: the report reads them from their own files.
REPORT_ONLY = ("published", "reproduce")
FULL = "full"                                          # the merged preset, for the report


class StudyViewError(RuntimeError):
    """A step read a part of the preset its view does not hold (a bug, not bad input)."""


class FrozenDict(dict):
    """A dict that refuses changes; JSON-serialisable, and copies thaw to plain containers."""

    def _refuse(self, *_args, **_kwargs):
        raise TypeError("the study preset is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __copy__(self):
        return dict(self)

    def __deepcopy__(self, memo):
        return thaw(self)

    def __reduce__(self):
        return (dict, (thaw(self),))


class FrozenList(list):
    def _refuse(self, *_args, **_kwargs):
        raise TypeError("the study preset is read-only")

    __setitem__ = __delitem__ = append = extend = insert = pop = remove = _refuse
    clear = sort = reverse = __iadd__ = __imul__ = _refuse

    def __copy__(self):
        return list(self)

    def __deepcopy__(self, memo):
        return thaw(self)

    def __reduce__(self):
        return (list, (thaw(self),))


def freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain, mutable, YAML-dumpable containers again."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value


def view_keys(view: str) -> tuple[str, ...]:
    if view not in VIEWS:
        raise StudyViewError(f"no study view {view!r}; views: {', '.join(VIEWS)}")
    return CORE + VIEWS[view]


class StudyView(Mapping):
    """One stage's part of the merged preset: `view["crop"]`, `view.get("vit", {})`,
    `view.key`, `view.phases`; every read outside the view raises StudyViewError."""

    def __init__(self, name: str, data: Mapping, allowed: tuple[str, ...] | None):
        self.name = name
        self._allowed = None if allowed is None else frozenset(allowed)
        self._data = freeze({k: v for k, v in data.items()
                             if self._allowed is None or k in self._allowed})

    def _check(self, key: str) -> None:
        if self._allowed is not None and key not in self._allowed:
            raise StudyViewError(f"study view {self.name!r} does not hold {key!r}; add it to "
                                 f"VIEWS[{self.name!r}] in hccer/study.py if the step needs it")

    def __getitem__(self, key: str) -> Any:
        self._check(key)
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        self._check(key)
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._check(key)
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"StudyView({self.name!r}, {sorted(self._data)})"

    # the core, typed
    @property
    def key(self) -> str:
        return self._data["key"]

    @property
    def modality(self) -> str:
        return self._data["modality"]

    @property
    def phases(self) -> tuple[str, ...]:
        return tuple(self._data["phases"])

    @property
    def reference_phase(self) -> str:
        return self._data["reference_phase"]

    @property
    def mask_phases(self) -> tuple[str, ...]:
        return tuple(self._data["mask_phases"])

    def to_dict(self) -> dict:
        """A plain, mutable deep copy (for code that builds on the preset)."""
        return thaw(self._data)


def study_view(study: Mapping, view: str) -> StudyView:
    """The view `view` of a merged preset (`full`: everything but the report-only blocks)."""
    if view == FULL:
        return StudyView(FULL, {k: v for k, v in study.items() if k not in REPORT_ONLY}, None)
    return StudyView(view, study, view_keys(view))


def view_document(study: Mapping, view: str) -> dict:
    """What the view's file holds: its name and its part of the preset, in preset order."""
    part = study_view(study, view)
    return {"view": view, "study": part.to_dict()}


def write_view(path: str, study: Mapping, view: str, log_path: str) -> None:
    import yaml

    from hccer.jsonio import write_text

    doc = view_document(study, view)
    write_text(path, yaml.safe_dump(doc, sort_keys=False))
    write_text(log_path, f"study view {view!r} of {doc['study']['key']}: "
                         f"{', '.join(doc['study'])}\n")


def load_view(path: str | Path, need: str | None = None) -> StudyView:
    """The one loader of a study file: a view file, or the merged preset (`study.yaml`).

    `need` names the view a step reads; a file whose view lacks part of it is a ConfigError
    naming both, so a step handed the wrong file fails at once and clearly.
    """
    from hccer.config import load_yaml
    from hccer.errors import ConfigError

    doc = load_yaml(path)
    if set(doc) == {"view", "study"} and isinstance(doc["study"], dict):
        name, allowed = str(doc["view"]), view_keys(str(doc["view"]))
        data = doc["study"]
    else:                                   # the merged preset
        name, allowed, data = FULL, None, doc
    for key in ("key", "modality", "phases"):
        if key not in data:
            raise ConfigError(f"study file {path} lacks key {key!r}")
    if need is not None and allowed is not None and not set(view_keys(need)) <= set(allowed):
        missing = sorted(set(view_keys(need)) - set(allowed))
        raise ConfigError(f"study file {path} is the {name!r} view; this step needs the "
                          f"{need!r} view ({', '.join(missing)} missing)")
    return StudyView(name if need is None else need, data,
                     allowed if need is None else view_keys(need))
