# The synthetic twin cohort: raw DICOM, masks and a clinical sheet, made on demand.


if SOURCE == "synthetic":

    rule synthesize_cohort:
        output:
            cohort=f"{SYN}/cohort.json",
            clinical=f"{SYN}/clinical.csv",
            columns=f"{SYN}/clinical_columns.json",
            masks=f"{SYN}/masks.tsv",
        params:
            root=SYN,
            n=config["data"]["synthetic"]["n"],
            seed=config["data"]["synthetic"]["seed"],
            matrix=config["data"]["synthetic"].get("matrix", 256),
        threads: workflow.cores
        log:
            log_path("synthesize_cohort"),
        benchmark:
            L.benchmark("synthesize_cohort")
        shell:
            "hccer --log {log} synth --preset {KEY} --n {params.n} --seed {params.seed} "
            "--matrix {params.matrix} --workers {threads} --out {params.root}"
