"""A real single-cell count matrix from a registry package: scanpy's pbmc68k_reduced.

scanpy's wheel ships ``scanpy/datasets/10x_pbmc68k_reduced.h5ad`` (700 PBMCs of 10x
Genomics' 68k data set, 765 highly variable genes; ``sc.datasets.pbmc68k_reduced()``
reads it from the package, with no download). Its ``X`` is scaled and its ``raw.X`` is
``log1p(counts / n_counts * 1e4)``, so :mod:`moonlight.singlecell` refuses both; but with
``obs["n_counts"]`` (each cell's total over all genes) the counts come back exactly:
``counts = expm1(raw.X) * n_counts / 1e4`` lies within 0.082 of an integer everywhere
(float32 rounding), so rounding it is unambiguous.

This script rebuilds the counts into a ``counts`` layer, reads them with
:func:`moonlight.singlecell.read_single_cell` (``matrix="counts"``), checks the refusal of
``X`` and ``raw``, and runs the whole analysis in-process (:func:`moonlight.pipeline.
analyse`, config.yaml's defaults) over ranks 2-12.

Run: ``python benchmarks/pbmc68k_reduced.py [path/to/10x_pbmc68k_reduced.h5ad]`` (the
file from an installed scanpy by default, or from ``pip download --no-deps scanpy``);
writes ``benchmarks/results/pbmc68k_reduced_*`` (ranks, modules, calls, module covariates,
and a summary with R, the time and the gene classes).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from moonlight.pipeline import analyse  # noqa: E402
from moonlight.singlecell import SingleCellError, read_single_cell  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import write_machine_record  # noqa: E402  (benchmarks/machine.py)

RANKS = range(2, 13)
OUT = Path(__file__).resolve().parent / "results"


def source_file() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    import scanpy  # noqa: PLC0415

    return Path(scanpy.__file__).parent / "datasets" / "10x_pbmc68k_reduced.h5ad"


def with_counts(path: Path, out: Path) -> float:
    """Write the file again with the rebuilt counts as layer 'counts'; return the largest
    distance of a rebuilt count from its integer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        adata = anndata.read_h5ad(path)
    rebuilt = (np.expm1(adata.raw.X.toarray().astype(np.float64))
               * adata.obs["n_counts"].to_numpy()[:, None] / 1e4)
    counts = np.round(rebuilt)
    adata.layers["counts"] = sparse.csr_matrix(counts)
    adata.write_h5ad(out)
    return float(np.abs(rebuilt - counts).max())


def main() -> None:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pbmc68k_counts.h5ad"
        off = with_counts(source_file(), path)
        print(f"rebuilt counts: largest distance from an integer {off:.3f}")
        for matrix in ("X", "raw"):
            try:
                read_single_cell(path, matrix=matrix)
            except SingleCellError as error:
                print(f"matrix {matrix}: refused: {str(error).split(': ', 1)[1][:160]}...")
        read = read_single_cell(path, matrix="counts")
        labels = anndata.read_h5ad(path, backed="r").obs["bulk_labels"].astype(str)
    counts = read.to_frame()
    print(f"{counts.shape[0]} genes x {counts.shape[1]} cells, "
          f"{(counts.to_numpy() == 0).mean():.1%} zeros")
    result = analyse(counts, RANKS)  # every other setting at the schema's default
    OUT.mkdir(exist_ok=True)
    result.table.to_csv(OUT / "pbmc68k_reduced_ranks.tsv", sep="\t", index=False)
    W = result.W / result.W.sum(axis=0)
    top = result.memberships.drop_duplicates("gene")
    share = result.H / result.H.sum(axis=0)
    rows = []
    for module in W.columns:
        dominant = share.loc[module] > 0.5
        cell_types = labels[dominant.to_numpy()].value_counts()
        rows.append({
            "module": module,
            "n_genes": int((top["module"] == module).sum()),
            "top_genes": ",".join(W[module].nlargest(8).index),
            "cells_dominated": int(dominant.sum()),
            "their_labels": "; ".join(f"{k} {v}" for k, v in cell_types.head(3).items()),
        })
    modules = pd.DataFrame(rows)
    modules.to_csv(OUT / "pbmc68k_reduced_modules.tsv", sep="\t", index=False)
    result.moonlighting.to_csv(OUT / "pbmc68k_reduced_moonlighting.tsv", sep="\t",
                               index=False)
    classes = result.calls.classes["class"].value_counts()
    result.calls.associations.to_csv(OUT / "pbmc68k_reduced_module_covariates.tsv",
                                     sep="\t", index=False)
    write_machine_record(OUT / "pbmc68k_reduced.machine.json")
    (OUT / "pbmc68k_reduced_summary.json").write_text(json.dumps(
        {"selected_rank": result.rank, "seconds": round(time.perf_counter() - began, 1),
         "classes": {k: int(v) for k, v in classes.items()}}, indent=1))
    print(result.table[["rank", "cv_loglik", "cv_se", "matched_cosine", "selected"]]
          .to_string(index=False))
    print(f"selected R = {result.rank}")
    print(modules.to_string(index=False))
    print("moonlighting genes:", ", ".join(result.moonlighting["gene"]) or "none")
    print("gene classes:", classes.to_dict())
    print(f"{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
