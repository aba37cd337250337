# The merged study preset and its views: one file per stage, each holding only the part of
# the preset that stage reads (hccer/study.py), so an edit reruns exactly its readers.

from hccer.study import VIEWS, study_view


rule write_study_preset:
    output:
        L.study_file(),
    params:
        # The merged preset is a param, so editing the preset or study_overrides rewrites it;
        # only the report reads this whole file. The published numbers are the report's alone
        # (rules/report.smk) and the paper items the paper rules' (rules/paper.smk).
        study={k: v for k, v in STUDY.items() if k not in ("published", "reproduce")},
    log:
        log_path("write_study_preset"),
    benchmark:
        L.benchmark("write_study_preset"),
    run:
        from hccer.config import write_study

        write_study(output[0], dict(params.study), log[0])


rule write_study_view:
    output:
        L.study_file("{view}"),
    params:
        # a param per view: an edit outside this view leaves the file and its readers alone
        part=lambda wc: study_view(STUDY, wc.view).to_dict(),
    wildcard_constraints:
        view="|".join(VIEWS),
    log:
        log_path("write_study_view", "{view}"),
    benchmark:
        L.benchmark("write_study_view", "{view}"),
    run:
        from hccer.study import write_view

        write_view(output[0], STUDY, wildcards.view, log[0])
