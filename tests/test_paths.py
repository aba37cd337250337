"""The path builder: every name the rules write, against the layout README.md documents."""

import re

import pytest
from hccer.paths import Layout, PrivateLayout, SyntheticLayout

L = Layout("results", "demo")


def readme_outputs(project_root) -> str:
    text = (project_root / "README.md").read_text(encoding="utf-8")
    return re.search(r"^## Outputs\n(.*?)^## ", text, re.S | re.M).group(1)


@pytest.mark.parametrize("path, expected", [
    (L.radiomics_case("p0", "ART", "r2"),
     "results/demo/radiomics/sub-p0/sub-p0_phase-ART_reader-r2_features.csv"),
    (L.radiomics_table("r1"), "results/demo/radiomics/features_reader-r1.tsv"),
    (L.radiomics_icc(), "results/demo/radiomics/icc.tsv"),
    (L.classical_record(3, "cr"), "results/demo/models/classical/fold-3_cr.json"),
    (L.vit_job("vit_b", 1, 2), "results/demo/models/vit_b/inner-1_seed-2"),
    (L.vit_features("vit_b", 0), "results/demo/models/vit_b/seed-0_features.tsv"),
    (L.vit_extractor("vit_b", 0), "results/demo/models/vit_b/seed-0_extractor.json"),
    (L.vit_record(4), "results/demo/models/vit_models/seed-4_record.json"),
    (L.vit_gradcam("vit_b", 0), "results/demo/models/vit_b/seed-0_gradcam"),
    (L.paper_spec(), "results/demo/paper/spec.yaml"),
    (L.run_config(), "results/demo/config.yaml"),
    (L.published(), "results/demo/published.yaml"),
    (L.comparison("md"), "results/demo/comparison.md"),
    (L.comparison("tsv"), "results/demo/comparison.tsv"),
    (L.tripod(), "results/demo/tripod_ai.md"),
    (L.provenance(), "results/demo/provenance.json"),
])
def test_layout_names(path, expected):
    assert path == expected


def test_wildcard_templates_fill_like_the_concrete_paths():
    # the rules pass "{pid}"-style wildcards and fill them with format/expand
    assert L.radiomics_case("{pid}", "{phase}", "{reader}").format(
        pid="p0", phase="ART", reader="r2") == L.radiomics_case("p0", "ART", "r2")
    assert L.classical_record("{fold}", "cr").format(fold=1) == L.classical_record(1, "cr")
    assert L.vit_job("{vit}", "{inner}", "{seed}").format(vit="v", inner=0, seed=1) == \
        L.vit_job("v", 0, 1)
    assert L.vit_gradcam("v", "{seed}").format(seed=2) == L.vit_gradcam("v", 2)


def test_names_match_the_readme_outputs(project_root):
    outputs = readme_outputs(project_root)
    assert "`results/<study>/`" in outputs
    for path in (L.run_config(), L.published(), L.tripod(), L.provenance(), L.study_file()):
        name = path.removeprefix(f"{L.root}/")
        assert f"`{name}`" in outputs, name
    assert "`comparison.md`/`.tsv`" in outputs
    assert "`radiomics/`" in outputs and "`models/classical/`" in outputs
    assert "`models/<vit>/`" in outputs
    for path in (L.radiomics_table("r1"), L.radiomics_icc(), L.radiomics_case("p", "A", "r1")):
        assert path.startswith(f"{L.root}/radiomics/")
    assert L.classical_record(0, "cr").startswith(f"{L.root}/models/classical/")
    for path in (L.vit_job("vit_b", 0, 0), L.vit_features("vit_b", 0), L.vit_gradcam("vit_b", 0)):
        assert path.startswith(f"{L.root}/models/vit_b/")


def test_private_map_stays_out_of_results():
    p = PrivateLayout("private", "demo")
    assert p.root == "private/demo"
    assert p.pseudonyms() == "private/demo/pseudonyms.tsv"
    assert not p.pseudonyms().startswith(L.results)


def test_synthetic_twin_layout():
    s = SyntheticLayout("resources/synthetic", "demo", 12, 11)
    root = "resources/synthetic/demo_n12_seed11"
    assert s.root == root
    assert s.record() == f"{root}/cohort.json"
    assert s.clinical() == f"{root}/clinical.csv"
    assert s.columns() == f"{root}/clinical_columns.json"
    assert s.mask_sheet() == f"{root}/masks.tsv"
    assert s.dicom() == f"{root}/dicom"
    assert s.mask("PA0001", "ART", "r2") == f"{root}/masks/PA0001/PA0001_ART_r2.nii.gz"


@pytest.mark.parametrize("strength, tail", [(1.0, ""), (1, ""), (0.5, "_s0.5"), (2.0, "_s2")])
def test_synthetic_root_names_a_non_default_strength(strength, tail):
    s = SyntheticLayout("syn", "demo", 8, 5, strength)
    assert s.root == f"syn/demo_n8_seed5{tail}"
