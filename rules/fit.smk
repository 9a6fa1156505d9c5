# Fan out: Poisson NMF jobs per (data set, rank, part of the restarts) and one
# cross-validation job per (data set, rank); gather; choose the rank.


rule fit:
    input:
        unpack(batches_input),
        counts=counts_file,
    output:
        temp("results/{dataset}/fits/R{rank}/part{part}.pkl"),
    log:
        "results/logs/fit/{dataset}_R{rank}_part{part}.log",
    benchmark:
        "results/benchmarks/fit/{dataset}_R{rank}_part{part}.tsv"
    priority: rank_priority
    conda:
        "../envs/moonlight.yaml"
    threads: config["fit"]["threads"]
    resources:
        mem_mb=fit_mem_mb,
        runtime=fit_runtime,
    params:
        restarts=config["restarts"],
        restart_ids=part_restarts,
        fit=FIT_SETTINGS,
    message:
        "Fitting rank {wildcards.rank} to {wildcards.dataset} (restarts {params.restart_ids})"
    script:
        "../scripts/fit.py"


rule gather_restarts:
    input:
        parts=fit_parts,
    output:
        W="results/{dataset}/fits/R{rank}/W.tsv",
        H="results/{dataset}/fits/R{rank}/H.tsv",
        restarts="results/{dataset}/fits/R{rank}/restarts.tsv",
        W_restarts="results/{dataset}/fits/R{rank}/W_restarts.tsv",
    log:
        "results/logs/gather_restarts/{dataset}_R{rank}.log",
    conda:
        "../envs/moonlight.yaml"
    message:
        "Gathering the restarts of rank {wildcards.rank} on {wildcards.dataset}"
    script:
        "../scripts/gather_restarts.py"


rule stability:
    input:
        W_restarts="results/{dataset}/fits/R{rank}/W_restarts.tsv",
    output:
        "results/{dataset}/fits/R{rank}/stability.tsv",
    log:
        "results/logs/stability/{dataset}_R{rank}.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        margin=config["selection"]["margin"],
    message:
        "Agreement of the restarts of rank {wildcards.rank} on {wildcards.dataset}"
    script:
        "../scripts/stability.py"


rule crossval:
    input:
        unpack(batches_input),
        counts=counts_file,
    output:
        "results/{dataset}/crossval/R{rank}.tsv",
    log:
        "results/logs/crossval/{dataset}_R{rank}.log",
    benchmark:
        "results/benchmarks/crossval/{dataset}_R{rank}.tsv"
    priority: rank_priority
    conda:
        "../envs/moonlight.yaml"
    threads: 1
    resources:
        mem_mb=crossval_mem_mb,
        runtime=crossval_runtime,
    params:
        selection=crossval_params,
    message:
        "Cross-validating rank {wildcards.rank} on {wildcards.dataset}"
    script:
        "../scripts/crossval.py"


rule gather_logliks:
    input:
        restarts=selection_restarts,
    output:
        "results/{dataset}/logliks.tsv",
    log:
        "results/logs/gather_logliks/{dataset}.log",
    conda:
        "../envs/moonlight.yaml"
    message:
        "Gathering log likelihoods of {wildcards.dataset}"
    script:
        "../scripts/gather_logliks.py"


# With selection.extend_to set: the rule on the ranks of one growth round (`ranks` and
# `round` more); select_rank then sees the ranks of the round at which it stopped.
checkpoint rank_round:
    input:
        unpack(round_inputs),
    output:
        table="results/{dataset}/rank_rounds/round{round}.tsv",
    log:
        "results/logs/rank_round/{dataset}_round{round}.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        min_stability=config["selection"]["min_stability"],
        min_gain=config["selection"]["min_gain"],
        cap_when=config["selection"]["cap_when"],
        min_gain_stopped=config["selection"]["min_gain_stopped"],
    message:
        "Rank rule on {wildcards.dataset}, growth round {wildcards.round}"
    script:
        "../scripts/select_rank.py"


rule select_rank:
    input:
        unpack(selection_inputs),
        logliks="results/{dataset}/logliks.tsv",
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
    params:
        min_stability=config["selection"]["min_stability"],
        min_gain=config["selection"]["min_gain"],
        cap_when=config["selection"]["cap_when"],
        min_gain_stopped=config["selection"]["min_gain_stopped"],
    message:
        "Choosing the rank of {wildcards.dataset} (held-out likelihood, one-SE rule)"
    script:
        "../scripts/select_rank.py"
