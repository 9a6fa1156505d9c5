# Configuration checks and the lists of data sets; no computation lives here.

import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# This checkout's moonlight, whichever (if any) is installed, as scripts/_checkout.py does.
sys.path.insert(0, str(Path(workflow.main_snakefile).resolve().parent))
import moonlight.resources as estimate
from moonlight.config import (
    SCHEMA,
    WORKFLOW_ONLY_FIT_KEYS,
    ConfigError,
    canonical,
    crossval_settings,
    data_step_options,
    entry_default,
    fit_settings,
    restarts_per_job,
    from_command_line,
    misplaced_keys,
)
from moonlight.config import dataset_ranks as ranks_of, validate as check_config
from moonlight.anndata_out import embedding_key, h5ad_obsm_keys
from moonlight.provenance import git_commit, input_files, sha256_file
from moonlight.counts import counts_size
from moonlight.selection import next_rank, rule_in_words
from moonlight.io import read_tsv
from moonlight.singlecell import SINGLECELL_OPTIONS, detect_format, stored_entries

# --config key=value gives strings ("ranks=[2,3]" is ["2", "3"]): typed by the schema first
config.update(from_command_line(config))
try:
    # one line naming the key (and the key a typo most likely meant), not the schema
    check_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None
validate(config, str(SCHEMA))

SIM = config["simulation"]
SIM_DATASETS = [f"sim{seed}" for seed in SIM["seeds"]]
# Each data set of `data:` as a mapping (a plain `name: path` is {"path": path}).
DATA = {
    name: {"path": entry} if isinstance(entry, str) else dict(entry)
    for name, entry in config["data"].items()
}
REAL_DATASETS = list(DATA)


def given_format(spec):
    """A data entry's format: key, or its default (auto: decided by the path)."""
    return spec.get("format", entry_default("format"))


def resolved_format(spec):
    """A data entry's format as read: its format key, or the path's when that is auto."""
    return detect_format(spec["path"], given_format(spec))


# Single-cell data sets (h5ad, 10x directory or .h5): read into a sparse matrix that no
# rule densifies; the others are count tables. Either way a data set's jobs read its
# results/<name>/counts.npz (moonlight.counts).
SC_DATASETS = [name for name, spec in DATA.items() if resolved_format(spec) != "table"]
TABLE_DATASETS = [name for name in REAL_DATASETS if name not in SC_DATASETS]
H5AD_DATASETS = [name for name, spec in DATA.items() if resolved_format(spec) == "h5ad"]
# New samples projected on a data set's modules (config `project:`).
PROJECT = dict(config["project"])
DATASETS = SIM_DATASETS + REAL_DATASETS
RANKS = sorted(config["ranks"])


def dataset_ranks(dataset):
    """The ranks fitted for a data set: its data entry's own ranks, else the config's."""
    return ranks_of(config, dataset)


for _name, _spec in DATA.items():
    if not Path(_spec["path"]).exists():
        raise WorkflowError(f"config key data.{_name}: no such file {_spec['path']!r}")
for _name, _spec in DATA.items():
    for _key, _why in misplaced_keys(_spec, resolved_format(_spec)).items():
        raise WorkflowError(f"config key data.{_name}.{_key}: {_why}")
for _name, _spec in PROJECT.items():
    if _spec["model"] not in SIM_DATASETS + REAL_DATASETS:
        raise WorkflowError(
            f"config key project.{_name}.model: no data set {_spec['model']!r} in this run"
        )
    if not Path(_spec["path"]).is_file():
        raise WorkflowError(
            f"config key project.{_name}: no such file {_spec['path']!r}"
        )


# .h5ad data sets with an embedding (obsm X_umap or X_tsne) to draw module usage on.
def _has_embedding(name):
    try:
        return embedding_key(h5ad_obsm_keys(DATA[name]["path"])) is not None
    except OSError as error:
        raise WorkflowError(
            f"config key data.{name}.path: {DATA[name]['path']!r} is not a readable "
            f".h5ad (HDF5) file: {error}"
        )


EMBEDDED = [n for n in H5AD_DATASETS if _has_embedding(n)]
# Data sets whose samples are annotated (a sample sheet, or .h5ad obs columns).
ANNOTATED = [n for n, s in DATA.items() if s.get("samples") or s.get("annotations")]
for _name in ANNOTATED:
    _sheet = DATA[_name].get("samples")
    if _sheet is not None and not Path(_sheet).is_file():
        raise WorkflowError(f"config key data.{_name}.samples: no such file {_sheet!r}")
    if _sheet is None and _name not in H5AD_DATASETS:
        raise WorkflowError(
            f"config key data.{_name}.annotations: obs columns need an .h5ad input; "
            "give a sample sheet with samples:"
        )


def annotation_source(wildcards):
    """The sample sheet, or the .h5ad whose obs holds the annotations."""
    spec = DATA[wildcards.dataset]
    return spec.get("samples") or spec["path"]


def anndata_annotations(wildcards):
    """The modules against the cells' annotations, when the data set has them."""
    if wildcards.dataset not in ANNOTATED:
        return []
    return [
        f"results/{wildcards.dataset}/annotations.tsv",
        f"results/{wildcards.dataset}/usage_by_group.tsv",
    ]


def annotation_options(wildcards):
    spec = DATA[wildcards.dataset]
    return {
        "sheet": spec.get("samples") is not None,
        "columns": spec.get("annotations"),
    }


# Gene-set files (GMT) every module is tested against: paths, or package:path inside an
# installed package (not a file input then).
GENE_SETS = list(config["gene_sets"])
for _source in GENE_SETS:
    if not Path(_source).is_file() and ":" not in _source:
        raise WorkflowError(f"config key gene_sets: no such file {_source!r}")


def gene_set_files(wildcards):
    return [source for source in GENE_SETS if Path(source).is_file()]


EXTEND_TO = config["selection"]["extend_to"]
for _name in DATASETS:
    if EXTEND_TO is not None and EXTEND_TO <= max(dataset_ranks(_name)):
        raise WorkflowError(
            f"config key selection.extend_to: {EXTEND_TO} must exceed the largest rank "
            f"of {_name}'s ranks ({max(dataset_ranks(_name))}), or be null"
        )
_LARGEST, _KEY = (
    (EXTEND_TO, "selection.extend_to") if EXTEND_TO else (max(RANKS), "ranks")
)
if SIM_DATASETS and _LARGEST > min(SIM["n_genes"], SIM["n_samples"]):
    raise WorkflowError(
        f"config key {_KEY}: rank {_LARGEST} exceeds min(simulation.n_genes, "
        f"simulation.n_samples) = {min(SIM['n_genes'], SIM['n_samples'])}"
    )
if SIM["module_size"][0] > SIM["module_size"][1]:
    raise WorkflowError("config key simulation.module_size: lo must not exceed hi")
if SIM["depth"][0] > SIM["depth"][1]:
    raise WorkflowError("config key simulation.depth: lo must not exceed hi")


#: The calibration benchmark's power curves (shown in the report).
CALIBRATION_SHA256 = sha256_file(
    Path(workflow.main_snakefile).resolve().parent
    / "benchmarks/results/calibration.png"
)

#: What the workflow does, the second half of the report's first page.
DESCRIPTION = str(
    Path(workflow.main_snakefile).resolve().parent / "report" / "workflow.rst"
)


def landing_page_path():
    """The report's first page: results/report_landing.rst once rule landing_page has
    written it, else the workflow's description alone."""
    landing = Path("results/report_landing.rst")
    return str(landing.resolve()) if landing.is_file() else DESCRIPTION


def _alternatives(names):
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    rank=r"\d+",
    round=r"\d+",
    part=r"\d+",
    seed=r"\d+",


# The qc keys the data step uses (what an outlier is and what happens to it); the other
# qc keys are read by the qc rule alone, so changing them reruns only that.
DATA_STEP_QC = {k: config["qc"][k] for k in ("outliers", "outlier_factor")}
# The data step's gene selection and the simulation's settings, as parameters in one
# key order (moonlight.config.canonical), whatever order the config wrote them in.
GENE_SELECTION = canonical(config["gene_selection"])
SIMULATION = canonical({k: v for k, v in SIM.items() if k != "seeds"})


def sample_sheet(wildcards):
    """The data set's sample sheet (samples:), when it has one: its technical columns
    are read with the counts."""
    sheet = DATA[wildcards.name].get("samples")
    return [sheet] if sheet else []


def real_table(wildcards):
    return DATA[wildcards.name]["path"]


def counts_path(dataset):
    """The data set's counts (moonlight.counts: dense for tables, sparse for single cells)."""
    return f"results/{dataset}/counts.npz"


def counts_file(wildcards):
    return counts_path(wildcards.dataset)


# Data sets with known batches (batch:): their fits, cross-validations and gene tests
# are of the batch model.
BATCHED = [n for n, s in DATA.items() if s.get("batch")]
for _name in BATCHED:
    if config["selection"]["design"] == "blocks":
        raise WorkflowError(
            f"config key data.{_name}.batch: the blocks cross-validation design "
            "(selection.design) does not take batches; use entries or samples"
        )


def batches_input(wildcards):
    """The known batches of a data set with batch: (results/<name>/batches.tsv)."""
    if wildcards.dataset in BATCHED:
        return {"batches": f"results/{wildcards.dataset}/batches.tsv"}
    return {}


def batch_factors_input(wildcards):
    """The batch factors at the selected fit, for a data set with batch:."""
    if wildcards.dataset in BATCHED:
        return {"batch_factors": f"results/{wildcards.dataset}/batch_factors.tsv"}
    return {}


def covariates_input(wildcards):
    """A real data set's technical columns (results/<name>/covariates.tsv: obs columns
    or a sample sheet's)."""
    if wildcards.dataset in REAL_DATASETS:
        return {"covariates": f"results/{wildcards.dataset}/covariates.tsv"}
    return {}


#: The rank rule in words (recorded with the results, e.g. in moonlight.h5ad).
RANK_RULE = rule_in_words(
    config["selection"]["min_stability"],
    config["selection"]["min_gain"],
    config["selection"]["cap_when"],
    config["selection"]["min_gain_stopped"],
)


def real_table_of_dataset(wildcards):
    return DATA[wildcards.dataset]["path"]


def _options(name):
    """How to read data set ``name`` and what to drop: its entry as the data step reads
    it (moonlight.config.data_step_options), so that a key order, a default written out
    or a key the step does not read (ranks, annotations) reruns nothing."""
    return data_step_options(DATA[name], resolved_format(DATA[name]))


def dataset_options(wildcards):
    return _options(wildcards.dataset)


def anndata_mem_mb(wildcards, attempt):
    return _single_cell_mem_mb(wildcards.dataset, attempt)


def table_options(wildcards):
    """Options of the table or single-cell matrix read by prepare_table or
    prepare_single_cell."""
    return _options(wildcards.name)


def projection_table(wildcards):
    return PROJECT[wildcards.new]["path"]


def projection_options(wildcards):
    """How to read the new samples' table (everything but its path and model)."""
    return canonical(
        {k: v for k, v in PROJECT[wildcards.new].items() if k not in ("path", "model")}
    )


def projection_sha256(wildcards):
    """SHA-256 of the new samples' table, so new content reruns the projection."""
    return sha256_file(PROJECT[wildcards.new]["path"])


def projection_outputs():
    return [
        f"results/{spec['model']}/projections/{name}/H.tsv"
        for name, spec in PROJECT.items()
    ]


# The fit jobs' settings (fit_nmf's keywords, as analyse() takes them) and how restarts
# are split into jobs.
FIT_SETTINGS = canonical(
    fit_settings(config["fit"], config["restarts"], config["selection"]["margin"])
)
PER_JOB = restarts_per_job(config["fit"], config["restarts"])
PARTS = list(range(-(-config["restarts"] // PER_JOB)))
# modules.threads reaches call_modules as its job's threads (no byte depends on it), so
# a change of it reruns nothing.
MODULE_SETTINGS = canonical(
    {k: v for k, v in config["modules"].items() if k != "threads"}
)
# What moonlight.h5ad records of the run's settings (its fitted ranks come from the rank
# table): the keys that decide a byte of the results, not jobs or threads.
RECORDED_SETTINGS = canonical(
    {
        "restarts": config["restarts"],
        "fit": {
            k: v for k, v in config["fit"].items() if k not in WORKFLOW_ONLY_FIT_KEYS
        },
        "selection": config["selection"],
        "modules": MODULE_SETTINGS,
    }
)


def crossval_params(wildcards):
    """The cross-validation's settings, the design and the training starts resolved for
    the data set's counts (single-cell counts are sparse, tables dense)."""
    return crossval_settings(
        config["selection"], sparse=wildcards.dataset in SC_DATASETS
    )


def part_restarts(wildcards):
    """The restart numbers of one fit job: [part * per_job, (part + 1) * per_job)."""
    start = int(wildcards.part) * PER_JOB
    return list(range(start, min(start + PER_JOB, config["restarts"])))


def rank_priority(wildcards):
    """Higher ranks first. Their fits and cross-validations take longest (above the
    true rank the fits crawl: on 20,000 x 500 with R = 8, rank 10's fit and
    cross-validation took 167 and 329 s, rank 8's 21 and 37 s), and a run on few cores
    that starts them last ends on one of them, the other cores idle."""
    return int(wildcards.rank)


def fit_parts(wildcards):
    return expand(
        "results/{dataset}/fits/R{rank}/part{part}.pkl",
        dataset=wildcards.dataset,
        rank=wildcards.rank,
        part=PARTS,
    )


def round_ranks(dataset, round):
    """The ranks of growth round ``round``: the data set's ranks and the next ``round``."""
    ranks = dataset_ranks(dataset)
    return ranks + list(range(max(ranks) + 1, max(ranks) + 1 + int(round)))


def grown_ranks(dataset):
    """The ranks the rank selection sees for a data set: ``ranks``, grown one rank per round
    while the rule selects the largest fitted rank, up to ``selection.extend_to``
    (moonlight.selection.next_rank; each round is a job of checkpoint rank_round)."""
    if EXTEND_TO is None:
        return dataset_ranks(dataset)
    n = 0
    while max(round_ranks(dataset, n)) < EXTEND_TO:
        done = checkpoints.rank_round.get(dataset=dataset, round=n)
        if next_rank(read_tsv(done.output.table, index_col=None), EXTEND_TO) is None:
            break
        n += 1
    return round_ranks(dataset, n)


def selection_ranks(wildcards):
    return grown_ranks(wildcards.dataset)


def rank_inputs(wildcards, ranks):
    """Every restart table, cross-validation and stability table of ``ranks``, the
    rank-1 baseline, the counts and any known batches: what the rank rule reads."""
    base = f"results/{wildcards.dataset}"
    return batches_input(wildcards) | {
        "restarts": [f"{base}/fits/R{rank}/restarts.tsv" for rank in ranks],
        "crossval": [f"{base}/crossval/R{rank}.tsv" for rank in ranks],
        "stability": [f"{base}/fits/R{rank}/stability.tsv" for rank in ranks],
        "baseline": f"{base}/crossval/R1.tsv",
        "counts": counts_file(wildcards),
    }


def round_inputs(wildcards):
    return rank_inputs(wildcards, round_ranks(wildcards.dataset, wildcards.round))


def selection_inputs(wildcards):
    """What select_rank reads besides logliks.tsv, which gathers the restart tables."""
    inputs = rank_inputs(wildcards, selection_ranks(wildcards))
    del inputs["restarts"]
    return inputs


def selection_restarts(wildcards):
    return rank_inputs(wildcards, selection_ranks(wildcards))["restarts"]


def rank_fits(wildcards):
    """W, H and every restart's W of every rank the rule saw, named W_R<rank>,
    H_R<rank> and W_restarts_R<rank> (the choice is made later)."""
    return {
        f"{table}_R{rank}": f"results/{wildcards.dataset}/fits/R{rank}/{table}.tsv"
        for rank in selection_ranks(wildcards)
        for table in ("W", "H", "W_restarts")
    }


def fit_mem_mb(wildcards, input, attempt):
    """MB for the job's restarts stacked, from the counts table's N x M, or for a
    sparse matrix from its nonzeros (moonlight.resources)."""
    n_genes, n_samples, nnz, is_sparse = counts_size(input.counts)
    if is_sparse:
        return estimate.sparse_fit_mem_mb(
            nnz,
            n_genes,
            n_samples,
            int(wildcards.rank),
            len(part_restarts(wildcards)),
            attempt,
        )
    return estimate.fit_mem_mb(
        n_genes, n_samples, len(part_restarts(wildcards)), attempt
    )


def fit_runtime(wildcards, input, attempt):
    """Minutes if every restart of the job runs to fit.max_iter, from N x M (or the
    nonzeros), R and the job's restarts."""
    n_genes, n_samples, nnz, is_sparse = counts_size(input.counts)
    if is_sparse:
        return estimate.sparse_fit_runtime_min(
            nnz,
            int(wildcards.rank),
            len(part_restarts(wildcards)),
            config["fit"]["max_iter"],
            attempt,
        )
    return estimate.fit_runtime_min(
        n_genes,
        n_samples,
        int(wildcards.rank),
        len(part_restarts(wildcards)),
        config["fit"]["max_iter"],
        config["fit"]["check_every"],
        attempt,
    )


def crossval_mem_mb(wildcards, input, attempt):
    """MB of one cross-validation job, from the counts table's N x M (or nonzeros)."""
    n_genes, n_samples, nnz, is_sparse = counts_size(input.counts)
    if is_sparse:
        return estimate.sparse_fit_mem_mb(
            nnz, n_genes, n_samples, int(wildcards.rank), 1, attempt, copies=4
        )
    return estimate.crossval_mem_mb(
        n_genes, n_samples, config["selection"]["restarts"], attempt
    )


def crossval_runtime(wildcards, input, attempt):
    """Minutes if every masked fit of every fold runs to selection.max_iter."""
    sel = config["selection"]
    n_genes, n_samples, nnz, is_sparse = counts_size(input.counts)
    if is_sparse:
        return estimate.sparse_fit_runtime_min(
            nnz,
            int(wildcards.rank),
            sel["folds"] * sel["restarts"],
            sel["max_iter"],
            attempt,
        )
    return estimate.crossval_runtime_min(
        n_genes,
        n_samples,
        int(wildcards.rank),
        sel["folds"],
        sel["restarts"],
        sel["max_iter"],
        sel["check_every"],
        attempt,
    )


def call_modules_mem_mb(wildcards, input, attempt):
    """MB of the gene tests at the selected rank, from the counts' N x M (nonzeros)."""
    return estimate.call_modules_mem_mb(*counts_size(input.counts), attempt)


def call_modules_runtime(wildcards, input, attempt):
    """Minutes of the gene tests on one thread, bounded with the rank one above the
    largest fitted (the rank guard's fit)."""
    n_genes, n_samples, _, _ = counts_size(input.counts)
    # the ranks from the job's inputs (rank_fits), not the checkpoint behind them,
    # which a resource function may not ask for; before the range's growth rounds have
    # run (a dry run), the largest rank it may grow to
    fitted = [int(key[3:]) for key in input.keys() if key.startswith("W_R")]
    rank = max(fitted or [EXTEND_TO or max(dataset_ranks(wildcards.dataset))]) + 1
    return estimate.call_modules_runtime_min(n_genes, n_samples, rank, attempt)


def simulate_mem_mb(wildcards, attempt):
    return estimate.simulate_mem_mb(SIM["n_genes"], SIM["n_samples"], attempt)


def simulate_runtime(wildcards, attempt):
    return estimate.simulate_runtime_min(SIM["n_genes"], SIM["n_samples"], attempt)


def prepare_mem_mb(wildcards, input, attempt):
    return estimate.prepare_mem_mb(input.size_mb, attempt)


def prepare_runtime(wildcards, input, attempt):
    return estimate.prepare_runtime_min(input.size_mb, attempt)


def _stored_mb(path):
    """MB of a file, or of a directory's files (a 10x directory)."""
    path = Path(path)
    files = [f for f in path.iterdir() if f.is_file()] if path.is_dir() else [path]
    return sum(f.stat().st_size for f in files) / 1e6


def _single_cell_mem_mb(name, attempt):
    """MB to read data set ``name``'s single-cell file, or write results back into it,
    from the entries it stores (its size on disk where its header cannot be read)."""
    path = DATA[name]["path"]
    entries = stored_entries(path, given_format(DATA[name]))
    return estimate.single_cell_mem_mb(_stored_mb(path), attempt, entries=entries)


def single_cell_mem_mb(wildcards, attempt):
    return _single_cell_mem_mb(wildcards.name, attempt)


def single_cell_runtime(wildcards, attempt):
    return estimate.prepare_runtime_min(
        10 * _stored_mb(DATA[wildcards.name]["path"]), attempt
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
        "module_genes.tsv",
        "top_genes.tsv",
        "modules.gmt",
        "consensus.png",
        "H_heatmap.png",
        "qc.tsv",
    ]
    if dataset in H5AD_DATASETS:
        files.append("moonlight.h5ad")
    if dataset in EMBEDDED:
        files.append("usage_embedding.png")
    if GENE_SETS:
        files += ["enrichment.tsv", "enrichment.png"]
    if dataset in ANNOTATED:
        files += ["annotations.tsv", "usage_by_group.tsv", "usage_by_group.png"]
    if dataset in BATCHED:
        files += ["batch_factors.tsv", "batch_factors.png"]
    if dataset in SIM_DATASETS:
        files += ["recovery.tsv", "module_matching.tsv"]
    return [f"results/{dataset}/{f}" for f in files]


def summary_inputs(wildcards):
    return {
        "selection": expand("results/{dataset}/rank_selection.tsv", dataset=DATASETS),
        "moonlighting": expand("results/{dataset}/moonlighting.tsv", dataset=DATASETS),
        "modules": expand("results/{dataset}/modules.tsv", dataset=DATASETS),
        "recovery": expand("results/{dataset}/recovery.tsv", dataset=SIM_DATASETS),
        "qc": expand("results/{dataset}/qc.tsv", dataset=DATASETS),
    }


def qc_inputs(wildcards):
    """The counts, the rank chosen, the calls' tables (classes, ranked genes, module
    covariates, candidates), every fitted rank's restarts, held-out log likelihoods of
    that rank's folds and of rank 1 (the no-structure baseline), and how the counts were
    read and prepared."""
    inputs = {
        "counts": counts_file(wildcards),
        "selection": f"results/{wildcards.dataset}/rank_selection.tsv",
        "classes": f"results/{wildcards.dataset}/gene_classes.tsv",
        "module_genes": f"results/{wildcards.dataset}/module_genes.tsv",
        "module_covariates": f"results/{wildcards.dataset}/module_covariates.tsv",
        "candidates": f"results/{wildcards.dataset}/moonlighting_candidates.tsv",
        "restarts": [
            f"results/{wildcards.dataset}/fits/R{rank}/restarts.tsv"
            for rank in selection_ranks(wildcards)
        ],
        "crossval": expand(
            "results/{dataset}/crossval/R{rank}.tsv",
            dataset=wildcards.dataset,
            rank=sorted(set(selection_ranks(wildcards)) | {1}),
        ),
    }
    inputs["read"] = f"results/{wildcards.dataset}/read.tsv"
    if GENE_SETS:
        inputs["coverage"] = f"results/{wildcards.dataset}/gene_set_coverage.tsv"
    return inputs


def provenance_tables(wildcards):
    """Every input table: real data tables as given (a 10x directory file by file, in
    name order), and each data set's counts."""
    given = input_files(spec["path"] for spec in DATA.values())
    return given + [counts_path(dataset) for dataset in DATASETS]


def provenance_benchmarks(wildcards):
    """Benchmark files of every job that computes (simulate, the data steps, fit,
    crossval, the rank-1 baseline included, call_modules, project)."""
    return (
        expand("results/benchmarks/simulate/{dataset}.tsv", dataset=SIM_DATASETS)
        + expand("results/benchmarks/prepare_table/{name}.tsv", name=TABLE_DATASETS)
        + expand("results/benchmarks/prepare_single_cell/{name}.tsv", name=SC_DATASETS)
        + [
            f"results/benchmarks/fit/{dataset}_R{rank}_part{part}.tsv"
            for dataset in DATASETS
            for rank in grown_ranks(dataset)
            for part in PARTS
        ]
        + [
            f"results/benchmarks/crossval/{dataset}_R{rank}.tsv"
            for dataset in DATASETS
            for rank in sorted(set(grown_ranks(dataset)) | {1})
        ]
        + expand("results/benchmarks/call_modules/{dataset}.tsv", dataset=DATASETS)
        + [
            f"results/benchmarks/project/{spec['model']}_{new}.tsv"
            for new, spec in PROJECT.items()
        ]
    )


def source_sha256(wildcards):
    """SHA-256 of a real data table: a param, so replacing the table's content reruns
    prepare_table even though the profiles leave mtime out of the rerun triggers."""
    path = Path(DATA[wildcards.name]["path"])
    if path.is_dir():  # a 10x directory: its files' checksums, in name order
        return {f.name: sha256_file(f) for f in sorted(path.iterdir()) if f.is_file()}
    return sha256_file(path)
