# Provenance: what produced every number (config, input checksums, software, code, timings).


rule provenance:
    input:
        tables=provenance_tables,
        benchmarks=provenance_benchmarks,
        summary="results/summary.tsv",
    output:
        page=report(
            "results/provenance.html",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"figure": "provenance of this run"},
        ),
        table=report(
            "results/provenance.tsv",
            caption="../report/provenance_table.rst",
            category="Provenance",
            labels={"figure": "provenance table"},
        ),
        benchmarks=report(
            "results/benchmarks.tsv",
            caption="../report/benchmarks.rst",
            category="Provenance",
            labels={"figure": "per-job run times"},
        ),
        config="results/config.yaml",
    log:
        "results/logs/provenance.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        config=config,
        # A param, so a new commit of the workflow reruns this rule (and nothing else).
        commit=git_commit(workflow.basedir),
    message:
        "Recording the provenance of this run"
    script:
        "../scripts/provenance.py"


rule calibration_figure:
    output:
        report(
            "results/calibration.png",
            caption="../report/calibration.rst",
            category="Summary",
            labels={"figure": "calibration of the moonlighting calls"},
        ),
    log:
        "results/logs/calibration_figure.log",
    conda:
        "../envs/moonlight.yaml"
    params:
        # The figure's checksum, not its path: a new benchmark run reruns this rule, a
        # clone elsewhere does not.
        sha256=CALIBRATION_SHA256,
    message:
        "Adding the calibration benchmark's figure to the report"
    script:
        "../scripts/calibration_figure.py"
