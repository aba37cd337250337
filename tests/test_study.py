"""Study views: each stage's frozen part of the merged preset, and the one loader."""

import copy
import json
import pickle
from pathlib import Path

import pytest
import yaml
from hccer.config import load_study, load_yaml
from hccer.errors import ConfigError
from hccer.study import (
    CORE,
    REPORT_ONLY,
    VIEWS,
    StudyViewError,
    load_view,
    study_view,
    view_document,
    write_view,
)

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(p.stem for p in (ROOT / "config" / "studies").glob("*.yaml"))
# Schema keys no step reads beside the report (which reads the whole preset).
DESCRIPTIVE = {"title", "paper"}


def preset(key: str, overrides: dict | None = None) -> dict:
    config = {"study": key, "data": {"source": "synthetic", "synthetic": {}},
              "study_overrides": overrides or {}}
    return load_study(config, ROOT)


def test_every_preset_section_belongs_to_a_view_or_the_report():
    schema = load_yaml(ROOT / "config" / "schemas" / "study.schema.yaml")
    sections = set(CORE) | {s for v in VIEWS.values() for s in v}
    assert sections <= set(schema["properties"]), sections - set(schema["properties"])
    unplaced = set(schema["properties"]) - sections - DESCRIPTIVE - set(REPORT_ONLY)
    assert not unplaced, f"schema sections no view holds: {unplaced}"


def test_reading_outside_the_view_is_an_error_not_a_default():
    view = study_view(preset("cemri_dlrcr"), "crop")
    assert view["crop"]["mode"] == "slices2d" and view.key == "cemri_dlrcr"
    assert view.phases == ("AP", "PVP", "DP") and view.reference_phase == "AP"
    for read in (lambda: view["deep"], lambda: view.get("vit", {}), lambda: "radiomics" in view):
        with pytest.raises(StudyViewError, match="'crop' does not hold"):
            read()
    # a key the view holds but the preset leaves out still takes the default
    assert study_view(preset("phase_attention"), "vit").get("vit", "absent") == "absent"


def test_a_view_is_frozen_and_copies_thaw():
    view = study_view(preset("phase_attention"), "deep")
    with pytest.raises(TypeError):
        view["deep"]["defaults"]["lr"] = 1.0
    with pytest.raises(TypeError):
        view["phases"].append("DL")
    thawed = copy.deepcopy(view["deep"])
    thawed["defaults"]["lr"] = 1.0                      # a deep copy is the caller's own
    assert view["deep"]["defaults"]["lr"] != 1.0
    assert json.loads(json.dumps(view["deep"])) == view.to_dict()["deep"]
    again = pickle.loads(pickle.dumps(view["deep"]))
    assert type(again) is dict and again == view.to_dict()["deep"]
    assert yaml.safe_load(yaml.safe_dump(view.to_dict())) == view.to_dict()


@pytest.mark.parametrize("key", PRESETS)
def test_view_file_round_trip_and_the_wrong_file_is_refused(tmp_path, key):
    study = preset(key)
    for name in VIEWS:
        path = tmp_path / f"{name}.yaml"
        write_view(str(path), study, name, str(tmp_path / f"{name}.log"))
        back = load_view(path, name)
        assert back.to_dict() == {k: v for k, v in study.items() if k in CORE + VIEWS[name]}
    with pytest.raises(ConfigError, match="is the 'crop' view; this step needs the 'deep'"):
        load_view(tmp_path / "crop.yaml", "deep")
    full = tmp_path / "study.yaml"
    full.write_text(yaml.safe_dump({k: v for k, v in study.items() if k not in REPORT_ONLY}))
    assert load_view(full).get("title") == study["title"]
    with pytest.raises(StudyViewError):      # the merged preset read as a view is the view
        load_view(full, "split")["crop"]


@pytest.mark.parametrize("key", PRESETS)
def test_an_edit_changes_exactly_the_views_that_hold_it(key):
    """What makes `snakemake` rerun only the readers of the edited part: every other view's
    file content stays the same."""
    base = preset(key)
    first = next(iter(base["deep"]["experiments"]))
    edits = {
        "deep": {"deep": {"experiments": {first: {"lr": 0.123}}}},
        "crop": {"crop": {"margin_mm": 7}},
        "outcome": {"outcome": {"horizon_days": 300}},
    }
    for section, over in edits.items():
        edited = preset(key, over)
        changed = {v for v in VIEWS if view_document(base, v) != view_document(edited, v)}
        assert changed == {v for v, parts in VIEWS.items() if section in parts}, section


def test_every_view_a_rule_names_exists():
    import re

    named = set()
    for smk in (ROOT / "rules").glob("*.smk"):
        named |= set(re.findall(r'L\.study_file\("(\w+)"\)', smk.read_text()))
    assert named and named <= set(VIEWS), named - set(VIEWS)

