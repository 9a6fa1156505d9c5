# Configuration checks and the lists of data sets; no computation lives here.

import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")

SIM = config["simulation"]
SIM_DATASETS = [f"sim{seed}" for seed in SIM["seeds"]]
REAL_DATASETS = list(config["data"])
DATASETS = SIM_DATASETS + REAL_DATASETS
RANKS = sorted(config["ranks"])

for _name, _path in config["data"].items():
    if not Path(_path).is_file():
        raise WorkflowError(f"config key data.{_name}: no such file {_path!r}")
if SIM_DATASETS and max(RANKS) > min(SIM["n_genes"], SIM["n_samples"]):
    raise WorkflowError(
        f"config key ranks: rank {max(RANKS)} exceeds min(simulation.n_genes, "
        f"simulation.n_samples) = {min(SIM['n_genes'], SIM['n_samples'])}"
    )
if SIM["module_size"][0] > SIM["module_size"][1]:
    raise WorkflowError("config key simulation.module_size: lo must not exceed hi")
if SIM["depth"][0] > SIM["depth"][1]:
    raise WorkflowError("config key simulation.depth: lo must not exceed hi")


def _alternatives(names):
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    rank=r"\d+",
    seed=r"\d+",


def real_table(wildcards):
    return config["data"][wildcards.name]


def rank_fits(wildcards):
    """W, H and every restart's W of every rank, named W_R<rank>, H_R<rank> and
    W_restarts_R<rank> (the choice is made later)."""
    return {
        f"{table}_R{rank}": f"results/{wildcards.dataset}/fits/R{rank}/{table}.tsv"
        for rank in RANKS
        for table in ("W", "H", "W_restarts")
    }


def fit_mem_mb(wildcards, input, attempt):
    """Stacked restarts hold ~4 N x M float64 arrays each, plus the interpreter."""
    cells = max(input.size_mb, 1) / 8 * 1e6 / 8  # ~8 characters per TSV field
    return int(200 + attempt * config["restarts"] * 4 * 8 * cells / 1e6)


def fit_runtime(wildcards, input, attempt):
    """Minutes, generous: scales with table size, rank and restarts."""
    return int(
        10 + attempt * max(input.size_mb, 1) * int(wildcards.rank) * config["restarts"]
    )


def crossval_mem_mb(wildcards, input, attempt):
    """Stacked restarts of one fold hold ~6 N x M float64 arrays each."""
    cells = max(input.size_mb, 1) / 8 * 1e6 / 8
    restarts = config["selection"]["restarts"]
    return int(200 + attempt * restarts * 6 * 8 * cells / 1e6)


def crossval_runtime(wildcards, input, attempt):
    """Minutes, generous: one masked fit per fold, each like a fit job's restart."""
    sel = config["selection"]
    return int(
        10
        + attempt
        * max(input.size_mb, 1)
        * int(wildcards.rank)
        * sel["folds"]
        * sel["restarts"]
    )


def dataset_outputs(dataset):
    files = [
        "rank_selection.tsv",
        "rank_selection.png",
        "W.tsv",
        "H.tsv",
        "W_normalized.tsv",
        "modules.tsv",
        "moonlighting.tsv",
        "W_histogram.png",
        "W_heatmap.png",
    ]
    if dataset in SIM_DATASETS:
        files += ["recovery.tsv", "module_matching.tsv"]
    return [f"results/{dataset}/{f}" for f in files]


def summary_inputs(wildcards):
    return {
        "selection": expand("results/{dataset}/rank_selection.tsv", dataset=DATASETS),
        "moonlighting": expand("results/{dataset}/moonlighting.tsv", dataset=DATASETS),
        "modules": expand("results/{dataset}/modules.tsv", dataset=DATASETS),
        "recovery": expand("results/{dataset}/recovery.tsv", dataset=SIM_DATASETS),
    }
