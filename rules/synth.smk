# The synthetic twin cohort: raw DICOM, masks and a clinical sheet, made on demand.


if SOURCE == "synthetic":

    rule synthesize_cohort:
        output:
            cohort=f"{SYN}/cohort.json",
            clinical=f"{SYN}/clinical.csv",
            columns=f"{SYN}/clinical_columns.json",
            masks=f"{SYN}/masks.tsv",
        params:
            root=lambda wc, output: os.path.dirname(output.cohort),
            preset=KEY,
            n=config["data"]["synthetic"]["n"],
            seed=config["data"]["synthetic"]["seed"],
            matrix=config["data"]["synthetic"].get("matrix", 256),
            strength=config["data"]["synthetic"].get("strength", 1.0),
        threads: workflow.cores
        conda:
            "../envs/imaging.yaml"
        log:
            log_path("synthesize_cohort"),
        benchmark:
            L.benchmark("synthesize_cohort")
        shell:
            "hccer --log {log} synth --preset {params.preset} --n {params.n} --seed {params.seed} "
            "--matrix {params.matrix} --strength {params.strength} --workers {threads} "
            "--out {params.root}"



rule write_study_preset:
    output:
        STUDY_FILE,
    params:
        # The merged preset is a param, so editing the preset or study_overrides reruns
        # exactly the steps that read it; the published numbers are the report's alone
        # (rules/report.smk) and the paper items the paper rules' (rules/paper.smk), so
        # editing one never reruns a model.
        study={k: v for k, v in STUDY.items() if k not in ("published", "reproduce")},
    log:
        log_path("write_study_preset"),
    run:
        from hccer.config import write_study

        write_study(output[0], dict(params.study), log[0])
