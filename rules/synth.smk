# The synthetic twin cohort: raw DICOM, masks and a clinical sheet, made on demand.


if SOURCE == "synthetic":

    rule synthesize_cohort:
        output:
            cohort=SYN.record(),
            clinical=SYN.clinical(),
            columns=SYN.columns(),
            masks=SYN.mask_sheet(),
        params:
            root=lambda wc, output: os.path.dirname(output.cohort),
            preset=KEY,
            n=config["data"]["synthetic"]["n"],
            seed=config["data"]["synthetic"]["seed"],
            matrix=config["data"]["synthetic"].get("matrix", 256),
            strength=config["data"]["synthetic"].get("strength", 1.0),
        # all the cores Snakemake was given; 1 where none were (e.g. `snakemake --report`)
        threads: lambda wc: workflow.resource_settings.cores or 1
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
