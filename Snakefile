# moonlight: gene modules and moonlighting genes by Poisson NMF.
#
# simulate / prepare_table -> fit + crossval (data set x rank) -> gather_logliks -> select_rank
#   -> call_modules -> recovery (simulated data) -> qc -> summary
# Every parameter comes from config.yaml or a --configfile that replaces it (checked
# against moonlight/config.schema.yaml, which holds every default);
# every computation lives in the moonlight package, called by the scripts in scripts/.

from snakemake.utils import min_version

min_version("9.17")


# The run's config: config.yaml, or instead the file(s) given with --configfile (never
# stacked on config.yaml, so a user's file says the whole run); --config overrides either.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/fit.smk"
include: "rules/modules.smk"
include: "rules/qc.smk"
include: "rules/project.smk"
include: "rules/provenance.smk"


# The report's first page: the answer per data set, then what the workflow does
# (written by rule landing_page; before the first run, the description alone).
report: landing_page_path()


localrules:
    all,
    gather_restarts,
    gather_logliks,
    stability,
    select_rank,
    rank_round,
    qc,
    enrichment,
    enrichment_figure,
    annotations,
    batch_factors,
    usage_embedding,
    recovery,
    top_genes,
    summary,
    landing_page,
    calibration_figure,
    provenance,


rule all:
    default_target: True
    input:
        [f for dataset in DATASETS for f in dataset_outputs(dataset)],
        "results/summary.tsv",
        "results/provenance.html",
        "results/report_landing.rst",
        "results/calibration.png",
        projection_outputs(),
