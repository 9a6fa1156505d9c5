"""moonlight.provenance: checksums, versions, commit, config and timings of a run."""

import hashlib
import subprocess

import pandas as pd

from moonlight.provenance import (collect, flatten_config, git_commit, read_benchmarks,
                                  sha256_file, software_versions, write_provenance)

BENCHMARK = ("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
             "1.50\t0:00:01\t115.2\t306.4\t100.0\t101.0\t0.01\t0.02\t12.9\t0.93\n")


def test_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_bytes(b"gene\tS1\ng1\t3\n" * 1000)
    assert sha256_file(path, chunk_size=7) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_software_versions_name_every_package():
    versions = software_versions()
    for name in ("python", "moonlight", "numpy", "scipy", "pandas", "matplotlib", "snakemake"):
        assert versions[name] and versions[name] != "not installed"
    assert software_versions(["no-such-package-xyz"])["no-such-package-xyz"] == "not installed"


def test_git_commit(tmp_path):
    assert git_commit(tmp_path) == "not a git checkout"
    run = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True,  # noqa: E731
                                    capture_output=True)
    run("init", "-q")
    (tmp_path / "f").write_text("a")
    run("add", "f")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "m")
    commit = git_commit(tmp_path)
    assert len(commit) == 40
    (tmp_path / "f").write_text("b")
    assert git_commit(tmp_path) == f"{commit} (uncommitted changes)"


def test_flatten_config():
    flat = flatten_config({"fit": {"tol": 1e-7, "method": "mu"}, "data": {}, "ranks": [2, 3]})
    assert flat == {"fit.tol": "1e-07", "fit.method": "mu", "data": "{}", "ranks": "[2, 3]"}


def test_collect_and_write(tmp_path):
    counts = tmp_path / "results" / "sim1" / "counts.tsv"
    counts.parent.mkdir(parents=True)
    counts.write_text("gene\tS1\ng1\t3\n")
    bench = tmp_path / "results" / "benchmarks" / "fit" / "sim1_R2.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text(BENCHMARK)
    config = {"ranks": [2], "fit": {"tol": 1e-7}}
    provenance = collect(config, [counts], [bench], commit=git_commit(tmp_path))
    assert provenance.inputs == {str(counts): sha256_file(counts)}
    assert provenance.commit == "not a git checkout"
    timings = read_benchmarks([bench])
    assert timings.loc[0, ["rule", "job"]].tolist() == ["fit", "sim1_R2"]
    assert timings.loc[0, "max_rss"] == 115.2

    out = tmp_path / "out"
    write_provenance(provenance, table=out / "p.tsv", page=out / "p.html",
                     benchmarks=out / "b.tsv")
    table = pd.read_csv(out / "p.tsv", sep="\t")
    assert set(table["section"]) == {"code", "software", "input sha256", "config"}
    assert table.set_index("item").loc["fit.tol", "value"] == "1e-07"
    page = (out / "p.html").read_text()
    for text in ("git commit", sha256_file(counts), "tol: 1.0e-07", "sim1_R2", "numpy"):
        assert text in page
    assert pd.read_csv(out / "b.tsv", sep="\t")["s"].tolist() == [1.5]
    assert sorted(p.name for p in out.iterdir()) == ["b.tsv", "p.html", "p.tsv"]


def test_a_10x_directory_enters_the_provenance_file_by_file(tmp_path):
    import numpy as np

    from moonlight.provenance import input_files
    from test_singlecell import write_10x_dir

    tenx = write_10x_dir(tmp_path / "filtered_feature_bc_matrix",
                         np.random.default_rng(0).poisson(1.0, size=(5, 6)),
                         genes=[f"g{i}" for i in range(5)], cells=[f"c{j}" for j in range(6)])
    table = tmp_path / "counts.tsv"
    table.write_text("g\t1\n")
    assert input_files([table, tenx, tmp_path / "missing.tsv"]) == [str(table)] + [
        str(tenx / name) for name in ("barcodes.tsv.gz", "features.tsv.gz", "matrix.mtx.gz")]
