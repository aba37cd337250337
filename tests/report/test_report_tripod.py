"""TRIPOD+AI checklist: every item of the published checklist, in its numbering, each with a
status and evidence links that resolve."""

import json
import re

from hccer.report import tripod as T

# Item numbers of TRIPOD+AI (Collins et al., BMJ 2024), in checklist order
NUMBERS = (
    "1 2 3a 3b 3c 4 5a 5b 6a 6b 6c 7 8a 8b 8c 9a 9b 9c 10 11 12a 12b 12c 12d 12e 12f 12g 13 14 "
    "15 16 17 18a 18b 18c 18d 18e 18f 19 20a 20b 20c 21 22 23a 23b 24 25 26 27a 27b 27c"
).split()
FILES = """study.yaml comparison.md comparison.tsv provenance.json cohort/flow.json
cohort/folds.json cohort/fold_table.tsv cohort/outcome.tsv qc/summary.md qc/patient_status.tsv
qc/registration_gate.tsv ledger/ledger.csv models/cnn3d_ss/fold-0_seed-0/summary.json
derivatives/sub-p1/sub-p1_phase-PV_space-ART_desc-registration_qc.png
tables/table_s3.md tables/results.md figures/fig4_roc.png""".split()


def meta(preset, tmp_path, source="synthetic"):
    study = preset("ct_3dcnn")
    # paper spec tables/figures as rules/paper.smk writes them; fig_flow declared, not written
    paper = {
        "tables": [
            {"id": "table_s3", "kind": "table1"},
            {"id": "results", "kind": "holdout_metrics"},
        ],
        "figures": [{"id": "fig4_roc", "kind": "roc"}, {"id": "fig_flow", "kind": "flow"}],
    }
    root = tmp_path / "results" / "ct_3dcnn"
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    config = {
        "data": {"source": source},
        "preprocess": {"spacing_mm": [1, 1, 1]},
        "registration": {"type": "Rigid", "min_ncc": 0.3, "min_dice": 0.3},
    }
    status = [
        {"patient": f"p{i}", "status": "included", "step": "", "reason": ""} for i in range(8)
    ] + [
        {
            "patient": "p9",
            "status": "excluded",
            "step": "registration",
            "reason": "phase PV: registration QC failed",
        }
    ]
    folds = {
        "n": 8,
        "seed": 3,
        "method": "holdout_date",
        "folds": [{"fold": 0, "train": [f"p{i}" for i in range(6)], "test": ["p6", "p7"]}],
    }
    fold_table = [
        {"fold": "0", "side": "train", "n": "6", "n_er": "2"},
        {"fold": "0", "side": "test", "n": "2", "n_er": "1"},
    ]
    comparison = [
        {"model": "cnn3d_ss", "status": "ok"},
        {"model": "cnn3d_ss_r2", "status": "not run"},
    ]
    synthetic = (
        {
            "n": 10,
            "seed": 11,
            "oracle_auc": {"overall": 0.9},
            "scanners": {"siemens": 5, "philips": 5},
        }
        if source == "synthetic"
        else None
    )
    return T.RunMeta(
        study=study,
        config=config,
        flow={"n_sheet": 10, "n_er": 3, "n_ner": 6},
        status=status,
        folds=folds,
        fold_table=fold_table,
        ledger_models=["cnn3d_nss", "cnn3d_ss"],
        comparison=comparison,
        synthetic=synthetic,
        root=root,
        paper=paper,
    ), root


def test_every_item_in_published_order_with_resolving_evidence(preset, tmp_path):
    m, root = meta(preset, tmp_path)
    items = T.build_checklist(m)
    assert [it.number for it in items] == NUMBERS
    assert {it.status for it in items} <= {T.REPORTED, T.PARTLY, T.NOT_DONE, T.NOT_APPLICABLE}
    for it in items:
        assert it.answer.strip(), it.number
        for rel in it.evidence:
            assert (root / rel).exists(), (it.number, rel)
    md = T.render(items, m.study)
    rows = [ln for ln in md.splitlines() if re.match(r"\| \d+[a-g]? \|", ln)]
    assert len(rows) == len(NUMBERS)
    for link in re.findall(r"\]\(([^)]+)\)", md):
        assert (root / link).exists(), link


def test_answers_come_from_the_run(preset, tmp_path):
    m, _ = meta(preset, tmp_path)
    by = {it.number: it for it in T.build_checklist(m)}
    assert "1 excluded: registration: phase PV: registration QC failed (1)" in by["11"].answer
    assert "6 training and 2 test patients" in by["12a"].answer
    assert "before 2018-01-01" in by["12a"].answer
    assert "train 6 (2 ER); test 2 (1 ER)" in by["21"].answer
    assert "`cnn3d_ss_r2`" in by["23a"].answer
    assert "class weights balanced" in by["13"].answer
    assert by["17"].status == T.NOT_APPLICABLE
    assert "siemens (5)" in by["6a"].answer
    assert "models" in by["22"].evidence
    assert by["20b"].status == T.REPORTED and by["20b"].evidence == ["tables/table_s3.md"]
    assert by["23a"].evidence == ["comparison.md", "tables/results.md", "figures/fig4_roc.png"]
    assert "figures/fig_flow.png" not in by["20a"].evidence  # declared, not written


def test_user_cohort_marks_ethics_as_not_done(preset, tmp_path):
    m, _ = meta(preset, tmp_path, source="cohort")
    by = {it.number: it for it in T.build_checklist(m)}
    assert by["17"].status == T.NOT_DONE
    assert by["8b"].status == T.NOT_DONE
    assert json.dumps([it.answer for it in by.values()]).count("synthetic twin") == 0
