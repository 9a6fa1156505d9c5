# Modules and moonlighting genes at the selected rank; recovery of simulated truth.


rule call_modules:
    input:
        unpack(rank_fits),
        unpack(covariates_input),
        unpack(batches_input),
        selection="results/{dataset}/rank_selection.tsv",
        counts=counts_file,
    output:
        W="results/{dataset}/W.tsv",
        H="results/{dataset}/H.tsv",
        W_normalized="results/{dataset}/W_normalized.tsv",
        modules=report(
            "results/{dataset}/modules.tsv",
            caption="../report/modules.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "module memberships"},
        ),
        moonlighting=report(
            "results/{dataset}/moonlighting.tsv",
            caption="../report/moonlighting.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "moonlighting genes"},
        ),
        candidates="results/{dataset}/moonlighting_candidates.tsv",
        classes=report(
            "results/{dataset}/gene_classes.tsv",
            caption="../report/gene_classes.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "gene classes"},
        ),
        module_covariates=report(
            "results/{dataset}/module_covariates.tsv",
            caption="../report/module_covariates.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "modules vs technical axes"},
        ),
        module_genes=report(
            "results/{dataset}/module_genes.tsv",
            caption="../report/module_genes.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "ranked genes per module"},
        ),
        gmt=report(
            "results/{dataset}/modules.gmt",
            caption="../report/modules_gmt.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "gene sets (GMT)"},
        ),
        consensus="results/{dataset}/consensus.tsv",
        consensus_map=report(
            "results/{dataset}/consensus.png",
            caption="../report/consensus_map.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "consensus map"},
        ),
        H_heatmap=report(
            "results/{dataset}/H_heatmap.png",
            caption="../report/H_heatmap.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "module usage per sample"},
        ),
        histogram=report(
            "results/{dataset}/W_histogram.png",
            caption="../report/W_histogram.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "W histogram"},
        ),
        heatmap=report(
            "results/{dataset}/W_heatmap.png",
            caption="../report/W_heatmap.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "W heat map"},
        ),
    log:
        "results/logs/call_modules/{dataset}.log",
    benchmark:
        "results/benchmarks/call_modules/{dataset}.tsv"
    conda:
        "../envs/moonlight.yaml"
    threads: config["modules"]["threads"]
    resources:
        mem_mb=call_modules_mem_mb,
        runtime=call_modules_runtime,
    params:
        modules=MODULE_SETTINGS,
        margin=config["selection"]["margin"],
    message:
        "Calling modules and moonlighting genes of {wildcards.dataset}"
    script:
        "../scripts/call_modules.py"


# A rule of its own: changing top_genes rewrites this table, not the calls.
rule top_genes:
    input:
        module_genes="results/{dataset}/module_genes.tsv",
    output:
        report(
            "results/{dataset}/top_genes.tsv",
            caption="../report/top_genes.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "top genes per module"},
        ),
    log:
        "results/logs/top_genes/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        top_genes=config["top_genes"],
    message:
        "Top genes of every module of {wildcards.dataset}"
    script:
        "../scripts/top_genes.py"


rule enrichment:
    input:
        W="results/{dataset}/W.tsv",
        modules="results/{dataset}/modules.tsv",
        gene_sets=gene_set_files,
    output:
        table=report(
            "results/{dataset}/enrichment.tsv",
            caption="../report/enrichment.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "enrichment table"},
        ),
        coverage="results/{dataset}/gene_set_coverage.tsv",
    log:
        "results/logs/enrichment/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        gene_sets=config["gene_sets"],
        # the figure's fdr is its own rule's: changing it redraws the figure alone
        enrichment=canonical(
            {k: v for k, v in config["enrichment"].items() if k != "fdr"}
        ),
    message:
        "Testing the modules of {wildcards.dataset} against the gene sets"
    script:
        "../scripts/enrichment.py"


rule enrichment_figure:
    input:
        "results/{dataset}/enrichment.tsv",
    output:
        report(
            "results/{dataset}/enrichment.png",
            caption="../report/enrichment_plot.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "enrichment"},
        ),
    log:
        "results/logs/enrichment_figure/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        fdr=config["enrichment"]["fdr"],
    message:
        "Drawing the gene-set enrichment of {wildcards.dataset}"
    script:
        "../scripts/enrichment_figure.py"


rule annotations:
    input:
        H="results/{dataset}/H.tsv",
        source=annotation_source,
    output:
        tests=report(
            "results/{dataset}/annotations.tsv",
            caption="../report/annotations.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "modules against annotations"},
        ),
        usage="results/{dataset}/usage_by_group.tsv",
        plot=report(
            "results/{dataset}/usage_by_group.png",
            caption="../report/usage_by_group.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "usage by group"},
        ),
    log:
        "results/logs/annotations/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        options=annotation_options,
    message:
        "Testing the modules of {wildcards.dataset} against the sample annotations"
    script:
        "../scripts/annotations.py"


rule batch_factors:
    input:
        counts=counts_file,
        batches="results/{dataset}/batches.tsv",
        W="results/{dataset}/W.tsv",
        H="results/{dataset}/H.tsv",
    output:
        table=report(
            "results/{dataset}/batch_factors.tsv",
            caption="../report/batch_factors.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "batch factors"},
        ),
        plot=report(
            "results/{dataset}/batch_factors.png",
            caption="../report/batch_factors.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "batch factors (plot)"},
        ),
    log:
        "results/logs/batch_factors/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    message:
        "Batch factors of every gene of {wildcards.dataset} at the selected fit"
    script:
        "../scripts/batch_factors.py"


rule recovery:
    input:
        truth_W="results/{dataset}/truth/W.tsv",
        truth_membership="results/{dataset}/truth/membership.tsv",
        W="results/{dataset}/W.tsv",
        modules="results/{dataset}/modules.tsv",
        moonlighting="results/{dataset}/moonlighting.tsv",
    output:
        summary=report(
            "results/{dataset}/recovery.tsv",
            caption="../report/recovery.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "recovery of the truth"},
        ),
        matching="results/{dataset}/module_matching.tsv",
    log:
        "results/logs/recovery/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    message:
        "Comparing {wildcards.dataset} with its planted truth"
    script:
        "../scripts/recovery.py"


rule summary:
    input:
        unpack(summary_inputs),
    output:
        report(
            "results/summary.tsv",
            caption="../report/summary.rst",
            category="Summary",
            labels={"figure": "summary across data sets"},
        ),
    log:
        "results/logs/summary.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        datasets=DATASETS,
        simulated=SIM_DATASETS,
    message:
        "Summarizing {params.datasets}"
    script:
        "../scripts/summary.py"


rule landing_page:
    input:
        summary="results/summary.tsv",
    output:
        "results/report_landing.rst",
    log:
        "results/logs/landing_page.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        # The text, not its path: a clone elsewhere has the same text at another path.
        description=Path(DESCRIPTION).read_text(),
    message:
        "Writing the report's first page"
    script:
        "../scripts/landing_page.py"


rule anndata_out:
    input:
        unpack(batch_factors_input),
        source=real_table_of_dataset,
        selection="results/{dataset}/rank_selection.tsv",
        W="results/{dataset}/W.tsv",
        H="results/{dataset}/H.tsv",
        modules="results/{dataset}/modules.tsv",
        moonlighting="results/{dataset}/moonlighting.tsv",
        annotations=anndata_annotations,
    output:
        "results/{dataset}/moonlight.h5ad",
    log:
        "results/logs/anndata_out/{dataset}.log",
    benchmark:
        "results/benchmarks/anndata_out/{dataset}.tsv"
    conda:
        "../envs/moonlight.yaml"
    threads: 1
    resources:
        mem_mb=anndata_mem_mb,
        runtime=30,
    params:
        options=dataset_options,
        rule=RANK_RULE,
        parameters=RECORDED_SETTINGS,
    message:
        "Writing the results of {wildcards.dataset} into AnnData"
    script:
        "../scripts/anndata_out.py"


rule usage_embedding:
    input:
        "results/{dataset}/moonlight.h5ad",
    output:
        report(
            "results/{dataset}/usage_embedding.png",
            caption="../report/usage_embedding.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "usage on the embedding"},
        ),
    log:
        "results/logs/usage_embedding/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    message:
        "Drawing the module usage of {wildcards.dataset} on its embedding"
    script:
        "../scripts/usage_embedding.py"
