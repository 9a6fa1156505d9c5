# Projection of new samples on the modules of a fitted data set (config `project:`).


rule project:
    input:
        W="results/{dataset}/W.tsv",
        table=projection_table,
    output:
        H=report(
            "results/{dataset}/projections/{new}/H.tsv",
            caption="../report/projection.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "projection of {new}"},
        ),
        loglik="results/{dataset}/projections/{new}/loglik.tsv",
        genes="results/{dataset}/projections/{new}/genes.tsv",
    log:
        "results/logs/project/{dataset}_{new}.log",
    benchmark:
        "results/benchmarks/project/{dataset}_{new}.tsv"
    wildcard_constraints:
        new=_alternatives(list(PROJECT)),
    conda:
        "../envs/moonlight.yaml"
    threads: 1
    resources:
        mem_mb=prepare_mem_mb,
        runtime=prepare_runtime,
    params:
        table=projection_options,
        settings=canonical(config["projection"]),
        # the model's known batches (batch:): the new samples' factors are unknown
        model_batch=lambda wildcards: DATA.get(wildcards.dataset, {}).get("batch"),
        source_sha256=projection_sha256,
    message:
        "Projecting {wildcards.new} on the modules of {wildcards.dataset}"
    script:
        "../scripts/project.py"
