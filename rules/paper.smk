# Paper tables and figures: every item of the preset's `reproduce` block, built by a generic
# builder (`kind`) from the prediction ledger and the cohort files, into
# results/<study>/tables/<id>.{csv,md,tex,json} and results/<study>/figures/<id>.{png,pdf,json}.
# One rule per group of items that read the same kind of input. Statistics options (config
# `stats:`) reach only these rules, so changing one never retrains a model.
# The spec (PAPER) and the target function (paper_targets) are in common.smk: the report reads
# them too. The ledger and the Grad-CAM folders (GRADCAM_DIRS) are asked for at DAG time, once
# every model track has registered.

from hccer.paper import rules as paperrules
from hccer.paper import spec as paperspec

PAPER_SPEC = L.paper_spec()
# What every paper job carries: its caption reads title, folds and statistics options.
PAPER_PARAMS = {
    "title": lambda wc: paperspec.find_item(PAPER, wc.item)[1]["title"],
    "stats": PAPER["stats"],
    "n_folds": PAPER["split"].get("n_folds") or 1,
    "flags": lambda wc, input: paperrules.flags(input),
}


localrules:
    write_paper_spec,


rule write_paper_spec:
    output:
        PAPER_SPEC,
    params:
        # the spec is a param: editing `reproduce` or `stats` rewrites it and reruns only the
        # paper rules below
        spec=PAPER,
    log:
        log_path("write_paper_spec"),
    benchmark:
        L.benchmark("write_paper_spec"),
    run:
        paperspec.write_spec(output[0], dict(params.spec), log[0])


if paperrules.ids(PAPER, "tables", "cohort"):

    rule tabulate_cohort:
        input:
            unpack(
                lambda wc: paperrules.cohort_inputs(
                    PAPER,
                    wc.item,
                    L,
                    STUDY["crop"]["mode"],
                    gated_pids(),
                    L.cohort("ivim_features.tsv") if STUDY["modality"] == "DWI" else None,
                    [L.classical_record(f, CLIN["name"]) for f in FOLDS] if CLIN else None,
                )
            ),
            spec=PAPER_SPEC,
            outcome=L.cohort("outcome.tsv"),
            folds=L.cohort("folds.json"),
        output:
            csv=report(
                L.table("{item}", "csv"),
                category=KEY,
                subcategory="Tables",
                caption="../report/paper_tables_cohort.rst",
                labels={"table": "{item}"},
            ),
            other=multiext(L.table("{item}"), ".md", ".tex", ".json"),
        params:
            **PAPER_PARAMS,
            stem=lambda wc: L.table(wc.item),
        wildcard_constraints:
            item="|".join(paperrules.ids(PAPER, "tables", "cohort")),
        conda:
            "../envs/stats.yaml"
        log:
            log_path("tabulate_cohort", "{item}"),
        benchmark:
            L.benchmark("tabulate_cohort", "{item}"),
        shell:
            "hccer --log {log} paper table --spec {input.spec} --item {wildcards.item} "
            "--out {params.stem} {params.flags}"


if paperrules.ids(PAPER, "tables", "models"):

    rule tabulate_models:
        input:
            ledger=ledger_input,
            spec=PAPER_SPEC,
        output:
            csv=report(
                L.table("{item}", "csv"),
                category=KEY,
                subcategory="Tables",
                caption="../report/paper_tables_models.rst",
                labels={"table": "{item}"},
            ),
            other=multiext(L.table("{item}"), ".md", ".tex", ".json"),
        params:
            **PAPER_PARAMS,
            stem=lambda wc: L.table(wc.item),
        wildcard_constraints:
            item="|".join(paperrules.ids(PAPER, "tables", "models")),
        conda:
            "../envs/stats.yaml"
        log:
            log_path("tabulate_models", "{item}"),
        benchmark:
            L.benchmark("tabulate_models", "{item}"),
        shell:
            "hccer --log {log} paper table --spec {input.spec} --item {wildcards.item} "
            "--out {params.stem} {params.flags}"


if paperrules.ids(PAPER, "tables", "networks"):

    rule tabulate_networks:
        input:
            spec=PAPER_SPEC,
            study=L.study_file("deep"),
            crops=lambda wc: paperrules.crop_files(
                L, STUDY["crop"]["mode"], gated_pids()[:1], "json"
            ),
        output:
            csv=report(
                L.table("{item}", "csv"),
                category=KEY,
                subcategory="Tables",
                caption="../report/paper_tables_networks.rst",
                labels={"table": "{item}"},
            ),
            other=multiext(L.table("{item}"), ".md", ".tex", ".json"),
        params:
            **PAPER_PARAMS,
            stem=lambda wc: L.table(wc.item),
        wildcard_constraints:
            item="|".join(paperrules.ids(PAPER, "tables", "networks")),
        conda:
            "../envs/torch.yaml"
        log:
            log_path("tabulate_networks", "{item}"),
        benchmark:
            L.benchmark("tabulate_networks", "{item}"),
        shell:
            "hccer --log {log} paper table --spec {input.spec} --item {wildcards.item} "
            "--out {params.stem} {params.flags}"


if paperrules.ids(PAPER, "figures", "models"):

    rule plot_models:
        input:
            ledger=ledger_input,
            spec=PAPER_SPEC,
        output:
            png=report(
                L.figure("{item}", "png"),
                category=KEY,
                subcategory="Figures",
                caption="../report/paper_figures_models.rst",
                labels={"figure": "{item}"},
            ),
            other=multiext(L.figure("{item}"), ".pdf", ".json"),
        params:
            **PAPER_PARAMS,
            stem=lambda wc: L.figure(wc.item),
        wildcard_constraints:
            item="|".join(paperrules.ids(PAPER, "figures", "models")),
        conda:
            "../envs/stats.yaml"
        log:
            log_path("plot_models", "{item}"),
        benchmark:
            L.benchmark("plot_models", "{item}"),
        shell:
            "hccer --log {log} paper figure --spec {input.spec} --item {wildcards.item} "
            "--out {params.stem} {params.flags}"


if paperrules.ids(PAPER, "figures", "cohort"):

    rule plot_cohort:
        input:
            spec=PAPER_SPEC,
            flow=L.cohort("flow.json"),
            status=L.qc("patient_status.tsv"),
            folds=L.cohort("folds.json"),
        output:
            png=report(
                L.figure("{item}", "png"),
                category=KEY,
                subcategory="Figures",
                caption="../report/paper_figures_cohort.rst",
                labels={"figure": "{item}"},
            ),
            other=multiext(L.figure("{item}"), ".pdf", ".json"),
        params:
            **PAPER_PARAMS,
            stem=lambda wc: L.figure(wc.item),
        wildcard_constraints:
            item="|".join(paperrules.ids(PAPER, "figures", "cohort")),
        conda:
            "../envs/stats.yaml"
        log:
            log_path("plot_cohort", "{item}"),
        benchmark:
            L.benchmark("plot_cohort", "{item}"),
        shell:
            "hccer --log {log} paper figure --spec {input.spec} --item {wildcards.item} "
            "--out {params.stem} {params.flags}"


if paperrules.ids(PAPER, "figures", "images"):

    rule plot_images:
        input:
            unpack(
                lambda wc: paperrules.image_inputs(
                    PAPER, wc.item, L, STUDY["crop"]["mode"], gated_pids(), GRADCAM_DIRS,
                    ledger_input(),
                )
            ),
            spec=PAPER_SPEC,
            folds=L.cohort("folds.json"),
        output:
            png=report(
                L.figure("{item}", "png"),
                category=KEY,
                subcategory="Figures",
                caption="../report/paper_figures_images.rst",
                labels={"figure": "{item}"},
            ),
            other=multiext(L.figure("{item}"), ".pdf", ".json"),
        params:
            **PAPER_PARAMS,
            stem=lambda wc: L.figure(wc.item),
        wildcard_constraints:
            item="|".join(paperrules.ids(PAPER, "figures", "images")),
        conda:
            "../envs/stats.yaml"
        log:
            log_path("plot_images", "{item}"),
        benchmark:
            L.benchmark("plot_images", "{item}"),
        shell:
            "hccer --log {log} paper figure --spec {input.spec} --item {wildcards.item} "
            "--out {params.stem} {params.flags}"
