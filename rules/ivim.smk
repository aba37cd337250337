# IVIM-DWI fitting: parametric maps (ADC, D, D*, f) and tumour VOI statistics.
# Li et al. 2026, J Hepatocell Carcinoma 13, doi 10.2147/JHC.S564217 — IVIM-DWI vision transformers.
# Spec: ../shared/specs/seed-003.md.
# Maps are fitted on the native DWI grid (before any interpolation), where the VOIs were drawn;
# they hold finite values (0 = not fitted, see the fit-status mask) so they resample like images.

if STUDY["modality"] == "DWI":
    IVIM = STUDY.get("ivim", {})

    # Path templates over the {pid} wildcard (expand() fills them for the gather step).
    IVIM_MAP = ivim_map("{pid}", "{name}")
    IVIM_STATS = L.deriv("{pid}", phase=IVIM_PHASE, desc="ivim", suffix="stats", ext="json")
    # `hccer ivim fit` names its maps PREFIX_desc-<map>_map.nii.gz
    IVIM_PREFIX = IVIM_MAP.removesuffix("_desc-{name}_map.nii.gz")

    rule fit_ivim:
        input:
            SOURCE_READY,
            dwi=L.deriv("{pid}", phase=IVIM_PHASE, desc="native"),
            bval=L.deriv("{pid}", phase=IVIM_PHASE, desc="native", ext="bval"),
            screen=L.cohort("screen.tsv"),
            study=L.study_file("ivim"),
        output:
            adc=IVIM_MAP.replace("{name}", "ADC"),
            d=IVIM_MAP.replace("{name}", "D"),
            dstar=IVIM_MAP.replace("{name}", "Dstar"),
            f=IVIM_MAP.replace("{name}", "f"),
            status=L.deriv("{pid}", phase=IVIM_PHASE, desc="fitstatus", suffix="mask"),
            stats=IVIM_STATS,
            png=report(
                L.deriv("{pid}", phase=IVIM_PHASE, desc="ivim", suffix="maps", ext="png"),
                category="IVIM",
                caption="../report/ivim_maps.rst",
                labels={"patient": "{pid}"},
            ),
        params:
            # found by the step from the sheet and the pseudonym (a site's path holds its code)
            mask_of=f"{MASK_SHEET} {DICOM_ROOT} {IVIM_PHASE}",
            readers=" ".join(READERS),
            salt_id=SALT_ID,
            prefix=lambda wc: IVIM_PREFIX.format(pid=wc.pid),
        threads: 1
        resources:
            mem_mb=3000,
            runtime=10,
        conda:
            "../envs/imaging.yaml"
        log:
            log_path("fit_ivim", "{pid}"),
        benchmark:
            L.benchmark("fit_ivim", "{pid}")
        shell:
            "hccer --log {log} ivim fit --dwi {input.dwi} --bval {input.bval} "
            "--mask-of {params.mask_of} --readers {params.readers} --study {input.study} "
            "--out-prefix {params.prefix} --stats {output.stats} --figure {output.png} "
            "--patient {wildcards.pid}"

    rule gather_ivim_features:
        input:
            stats=lambda wc: expand(IVIM_STATS, pid=gated_pids()),
            folds=L.cohort("folds.json"),
        output:
            table=L.cohort("ivim_features.tsv"),
            icc=L.cohort("ivim_icc.json"),
        params:
            cohort=IVIM.get("icc_cohort", "train"),
        conda:
            "../envs/stats.yaml"
        log:
            log_path("gather_ivim_features"),
        benchmark:
            L.benchmark("gather_ivim_features"),
        shell:
            "hccer --log {log} ivim gather --stats {input.stats} --out {output.table} "
            "--icc {output.icc} --folds {input.folds} --icc-cohort {params.cohort}"

    MODEL_TARGETS.append(lambda wc: [L.cohort("ivim_features.tsv"), L.cohort("ivim_icc.json")])
