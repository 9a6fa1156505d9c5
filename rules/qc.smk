# Quality control: how each table was read, its depth and sparsity, and the warnings
# (no module structure, outliers, outside the validated range); see moonlight/qc.py.


rule qc:
    input:
        unpack(qc_inputs),
    output:
        report(
            "results/{dataset}/qc.tsv",
            caption="../report/qc.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "quality control"},
        ),
    log:
        "results/logs/qc/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        outlier_factor=config["qc"]["outlier_factor"],
        mito_ribo_top=config["qc"]["mito_ribo_top"],
        mito_ribo_share=config["qc"]["mito_ribo_share"],
        min_coverage=config["enrichment"]["min_coverage"],
        min_set_size=config["enrichment"]["min_set_size"],
    message:
        "Quality control of {wildcards.dataset}"
    script:
        "../scripts/qc.py"
