# Fan out: one Poisson NMF job per (data set, rank); gather; choose the rank.


rule fit:
    input:
        counts="results/{dataset}/counts.tsv",
    output:
        W="results/{dataset}/fits/R{rank}/W.tsv",
        H="results/{dataset}/fits/R{rank}/H.tsv",
        restarts="results/{dataset}/fits/R{rank}/restarts.tsv",
    log:
        "results/logs/fit/{dataset}_R{rank}.log",
    benchmark:
        "results/benchmarks/fit/{dataset}_R{rank}.tsv"
    conda:
        "../envs/moonlight.yaml"
    threads: 1
    resources:
        mem_mb=fit_mem_mb,
        runtime=fit_runtime,
    params:
        restarts=config["restarts"],
        fit=config["fit"],
    message:
        "Fitting rank {wildcards.rank} to {wildcards.dataset}"
    script:
        "../scripts/fit.py"


rule gather_logliks:
    input:
        restarts=expand(
            "results/{{dataset}}/fits/R{rank}/restarts.tsv",
            rank=RANKS,
        ),
    output:
        "results/{dataset}/logliks.tsv",
    log:
        "results/logs/gather_logliks/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        ranks=RANKS,
    message:
        "Gathering log likelihoods of {wildcards.dataset}"
    script:
        "../scripts/gather_logliks.py"


rule select_rank:
    input:
        logliks="results/{dataset}/logliks.tsv",
        counts="results/{dataset}/counts.tsv",
    output:
        table=report(
            "results/{dataset}/rank_selection.tsv",
            caption="../report/rank_selection_table.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "rank selection table"},
        ),
        plot=report(
            "results/{dataset}/rank_selection.png",
            caption="../report/rank_selection_plot.rst",
            category="{dataset}",
            labels={"data set": "{dataset}", "figure": "rank selection"},
        ),
    log:
        "results/logs/select_rank/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    message:
        "Choosing the rank of {wildcards.dataset} by BIC"
    script:
        "../scripts/select_rank.py"
