# moonlight: gene modules and moonlighting genes by Poisson NMF.
#
# simulate / prepare_table -> fit + crossval (data set x rank) -> gather_logliks -> select_rank
#   -> call_modules -> recovery (simulated data) -> qc -> summary
# Every parameter comes from config.yaml (checked against schemas/config.schema.yaml);
# every computation lives in the moonlight package, called by the scripts in scripts/.

from snakemake.utils import min_version

min_version("8.10")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/fit.smk"
include: "rules/modules.smk"
include: "rules/qc.smk"
include: "rules/provenance.smk"


localrules:
    all,
    gather_logliks,
    stability,
    select_rank,
    qc,
    call_modules,
    recovery,
    summary,
    provenance,


rule all:
    default_target: True
    input:
        [f for dataset in DATASETS for f in dataset_outputs(dataset)],
        "results/summary.tsv",
        "results/provenance.html",
