"""A fresh clone (new timestamps everywhere) does not rerun finished jobs.

A clone of the workflow made after the results, and a counts table touched after its
fits (as copying results/ does), leave nothing to do under the workflow profile
(profiles/default: no ``mtime`` trigger, checksums of inputs up to 1 GB), while a
changed config value still reruns what depends on it.
"""

import os
import subprocess

import pytest

from conftest import CONFIG_FILES, clone_workflow, snakemake_command

pytestmark = pytest.mark.workflow


def _snakemake(snakefile, workdir, *extra):
    result = subprocess.run(snakemake_command(workdir, *extra, snakefile=snakefile),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout + result.stderr


def test_fresh_clone_reruns_nothing(finished_small_run, tmp_path):
    first, work = finished_small_run
    assert _jobs(_snakemake(first, work, "-n")) == set()
    # A second clone, every file newer than every result; the counts newer than their fits.
    # (Only dry runs follow, so the shared run stays as it was for the other tests.)
    snakefile = clone_workflow(tmp_path)
    os.utime(work / "results" / "sim5" / "counts.npz")
    assert "Nothing to be done" in _snakemake(snakefile, work, "-n")

    # What the profile avoids: without checksums (Snakemake's default for tables over
    # 1 MB, as every real one is), a newer input reruns every fit downstream.
    no_checksums = _snakemake(snakefile, work, "-n", "--max-checksum-file-size", "0")
    assert "Updated input files: results/sim5/counts.npz" in no_checksums
    assert "Nothing to be done" not in no_checksums

    # A changed parameter still reruns the jobs that use it, and only those.
    override = tmp_path / "threshold.yaml"
    override.write_text("modules: {threshold: 0.2}\n")
    changed = _snakemake(snakefile, work, "-n", "--configfile", *CONFIG_FILES, str(override))
    assert "call_modules" in changed
    assert "Job stats" in changed and "\nfit " not in changed.split("Job stats")[1]


def _jobs(output):
    """Rules a dry run would run (its "Job stats" table), without all, provenance (the
    provenance record takes the whole config: every change reruns it) and landing_page
    (it follows summary, which every change reaches)."""
    if "Nothing to be done" in output:
        return set()
    table = output.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    return {line.split()[0] for line in table if line.split()} - {"all", "provenance", "landing_page", "total"}


DOWNSTREAM_OF_SELECTION = {"select_rank", "call_modules", "top_genes", "recovery", "qc",
                           "summary"}
FITS = {"fit", "gather_restarts", "gather_logliks", "stability"}
EVERY_JOB = {"simulate", "crossval"} | FITS | DOWNSTREAM_OF_SELECTION


@pytest.mark.parametrize("change, expected", [
    ("selection: {min_stability: 0.8}", DOWNSTREAM_OF_SELECTION),
    ("selection: {margin: 4.0}", {"stability"} | DOWNSTREAM_OF_SELECTION),
    ("selection: {folds: 4}", {"crossval"} | DOWNSTREAM_OF_SELECTION),
    ("selection: {init: svd}", {"crossval"} | DOWNSTREAM_OF_SELECTION),
    # null means random for a table (mixed for single-cell counts): saying so changes
    # nothing, and neither does naming the table's design
    ("selection: {init: random}", set()),
    ("selection: {design: entries}", set()),
    ("selection: {init: mixed}", {"crossval"} | DOWNSTREAM_OF_SELECTION),
    # threads change no byte of a fit or a call
    ("fit: {threads: 2}", set()),
    ("modules: {threads: 1}", set()),
    # defaults written out, in another order than the schema's, change nothing
    ("fit: {seed: 0, method: ccd, threads: 1, restarts_per_job: null, max_iter: 5000}",
     set()),
    ("modules: {fdr: 0.05, ceiling: 0.1, threshold: 0.1}", set()),
    ("gene_selection: {min_samples_per_gene: 0}", set()),
    ("simulation: {noise: poisson}", set()),
    ("modules: {threshold: 0.2}", {"call_modules", "top_genes", "recovery", "qc", "summary"}),
    # the table of top genes has a rule of its own: the calls stay
    ("top_genes: 5", {"top_genes"}),
    # what an outlier is decides what the data step keeps for the fits
    ("qc: {outlier_factor: 50.0}", EVERY_JOB),
    # a warning's threshold reaches only the QC record
    ("qc: {mito_ribo_top: 5}", {"qc", "summary"}),
    ("gene_selection: {min_samples_per_gene: 1}", EVERY_JOB),
    ("restarts: 4", FITS | DOWNSTREAM_OF_SELECTION),
    # a new rank is fitted and cross-validated; the data step (which checks the counts
    # against the ranks) and the other ranks' jobs stay as they are
    ("ranks: [2, 3, 4, 5]", EVERY_JOB - {"simulate"}),
])
def test_a_changed_key_reruns_only_the_jobs_downstream_of_it(finished_small_run, tmp_path,
                                                             change, expected):
    snakefile, work = finished_small_run
    override = tmp_path / "change.yaml"
    override.write_text(change + "\n")
    output = _snakemake(snakefile, work, "-n", "--configfile", *CONFIG_FILES, str(override))
    assert _jobs(output) == expected


def test_a_dry_run_shows_what_extending_the_range_would_run(finished_small_run, tmp_path):
    """With selection.extend_to set on a finished run, the dry run lists the rounds of
    the range's growth (it once failed in call_modules' runtime, which asked the
    checkpoint behind them)."""
    snakefile, work = finished_small_run
    override = tmp_path / "change.yaml"
    override.write_text("selection: {extend_to: 6}\n")
    assert "rank_round" in _jobs(_snakemake(snakefile, work, "-n", "--configfile",
                                            *CONFIG_FILES, str(override)))


def test_folds_the_counts_cannot_hold_are_refused_on_a_rerun(finished_small_run, tmp_path):
    """Folds and ranks rerun no data step, so the fit and cross-validation jobs check
    their own against the counts: 25 folds of the blocks design on 40 genes x 20 samples
    stop with the key named, as the data step would have stopped them on a first run
    (on a copy of the finished run)."""
    import shutil

    snakefile, work = finished_small_run
    copy = tmp_path / "work"
    shutil.copytree(work, copy, symlinks=True)
    override = tmp_path / "change.yaml"
    override.write_text("selection: {design: blocks, folds: 25}\n")
    run = subprocess.run(
        snakemake_command(copy, "--configfile", *CONFIG_FILES, str(override),
                          snakefile=snakefile),
        capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    logs = "".join(p.read_text() for p in (copy / "results" / "logs" / "crossval").iterdir())
    assert ("config key selection.folds: 25 folds of the blocks design need at least 25 "
            "genes and 25 samples, and data set sim5 (40 genes x 20 samples)") in logs
    assert "rule simulate" not in run.stdout + run.stderr
