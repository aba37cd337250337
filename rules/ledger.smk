# The prediction ledger: every model track's rows gathered and validated in one file, the
# single input of every statistic.


rule gather_ledger:
    input:
        ledger_parts,
    output:
        L.ledger(),
    conda:
        "../envs/stats.yaml"
    log:
        log_path("gather_ledger"),
    benchmark:
        L.benchmark("gather_ledger"),
    shell:
        "hccer --log {log} ledger --parts {input} --out {output}"
