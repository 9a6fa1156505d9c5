# Data sets: simulated from the generative model, or read from a user's count table.


rule simulate:
    output:
        counts="results/sim{seed}/counts.npz",
        table="results/sim{seed}/counts.tsv",
        W="results/sim{seed}/truth/W.tsv",
        H="results/sim{seed}/truth/H.tsv",
        membership="results/sim{seed}/truth/membership.tsv",
        depth="results/sim{seed}/truth/depth.tsv",
        read="results/sim{seed}/read.tsv",
    log:
        "results/logs/simulate/sim{seed}.log",
    benchmark:
        "results/benchmarks/simulate/sim{seed}.tsv"
    conda:
        "../envs/moonlight.yaml"
    threads: 1
    resources:
        mem_mb=simulate_mem_mb,
        runtime=simulate_runtime,
    params:
        simulation=SIMULATION,
        qc=DATA_STEP_QC,
        selection=GENE_SELECTION,
    message:
        "Simulating data set sim{wildcards.seed}"
    script:
        "../scripts/simulate.py"


rule prepare_table:
    input:
        real_table,
        sample_sheet,
    output:
        counts="results/{name}/counts.npz",
        read="results/{name}/read.tsv",
        covariates="results/{name}/covariates.tsv",
        batches="results/{name}/batches.tsv",
    log:
        "results/logs/prepare_table/{name}.log",
    benchmark:
        "results/benchmarks/prepare_table/{name}.tsv"
    wildcard_constraints:
        name=_alternatives(TABLE_DATASETS),
    conda:
        "../envs/moonlight.yaml"
    threads: 1
    resources:
        mem_mb=prepare_mem_mb,
        runtime=prepare_runtime,
    params:
        table=table_options,
        qc=DATA_STEP_QC,
        selection=GENE_SELECTION,
        source_sha256=source_sha256,
    message:
        "Reading and checking count table {input}"
    script:
        "../scripts/prepare_table.py"


rule prepare_single_cell:
    input:
        real_table,
        sample_sheet,
    output:
        counts="results/{name}/counts.npz",
        read="results/{name}/read.tsv",
        covariates="results/{name}/covariates.tsv",
        batches="results/{name}/batches.tsv",
    log:
        "results/logs/prepare_single_cell/{name}.log",
    benchmark:
        "results/benchmarks/prepare_single_cell/{name}.tsv"
    wildcard_constraints:
        name=_alternatives(SC_DATASETS),
    conda:
        "../envs/moonlight.yaml"
    threads: 1
    resources:
        mem_mb=single_cell_mem_mb,
        runtime=single_cell_runtime,
    params:
        options=table_options,
        qc=DATA_STEP_QC,
        selection=GENE_SELECTION,
        source_sha256=source_sha256,
    message:
        "Reading, checking and selecting the single-cell matrix {input}"
    script:
        "../scripts/prepare_single_cell.py"
