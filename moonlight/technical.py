"""Modules that follow technical axes of the samples rather than biology.

On real counts a fit with a module to spare can spend it on a technical axis: read
depth, RNA input or capture efficiency (which change which genes are detected), a plate
or a batch. Such a module predicts
held-out counts as a biological one does, so no held-out criterion refuses it; what shows
it is that its usage follows the axis. For every module r, its usage share
``u_rj = H_rj / sum_k H_kj`` (W's columns sum to one, so this is the fraction of sample
j's fitted counts that module r explains) is compared with each covariate:

* a numeric covariate by Spearman's rank correlation ``rho`` (p-value from
  :func:`scipy.stats.spearmanr`);
* a categorical one (a plate, a batch) by the Kruskal-Wallis test of the usage across
  its groups, with the effect size ``epsilon^2 = H / (n - 1)`` (Tomczak & Tomczak 2014),
  reported as ``rho = sqrt(epsilon^2)`` (on the scale of a correlation, never negative).

p-values are Benjamini-Hochberg adjusted over every module x covariate pair. Covariates:
the library's own, computed from the counts (``log_depth``, log10 of the sample's total
count over the fitted genes), and the sample annotations the user marks as technical
(config ``technical:`` of an ``.h5ad`` data set: ``obs`` columns, such as RNA input,
detected genes, mitochondrial fraction, plate or batch).

A module is *flagged technical* when its usage follows a covariate with ``|rho| >=
min_rho`` (config ``modules.technical_rho``) and ``q <= fdr``, and follows it most
closely of all modules: the shares sum to one, so when one module follows an axis the
others follow it inversely (with three modules and one that tracks an axis exactly, a
second reaches |rho| 0.5 by that alone), and a covariate flags at most one module. The
flag says what a module may mean; alone it changes neither the fit nor the calls.

A covariate can follow the biology too (cell lines differ in their mitochondrial
fraction, cell types in their RNA content), and then it flags a source module. What
tells the two apart is how samples use the module: a source is the main program of its
own samples, while a technical axis adds a little to every sample and is the main one
of almost none. A flagged module that is the top module (largest usage share) of fewer
than ``top_max`` of the samples (config ``modules.background_top_max``), or of fewer
than twice that while it holds more than half of no sample's counts (samples that mix
several sources can draw most from such a program without being ruled by it; a source
that leads many samples of a mixture is left alone), is marked
*background* (:func:`mark_background`): its shares are left out of every gene's calls
(:func:`moonlight.modules.calling_shares`), so a gene that two sources express is not
refused a call for the share of it that a technical axis holds.

A module that no sample and no gene is ruled by is *diffuse*, and background too,
flagged or not: the top module of fewer than ``top_max`` of the samples, the main
program of none, and with less than :data:`DIFFUSE_OWN_MAX` of its W column on genes
whose top module it is (:func:`own_mass`). It has no genes of its own; it reshapes the
others' genes, and left in the calls its share in them reads as a second module: on a
planted table with strong plate effects the rank rule kept a fifth module of that kind
(own mass 0.001, where the four true modules held 0.95-0.98), followed by no covariate,
and every one of 108 genes of the true modules with a share in it was a false call
(``benchmarks/BATCHES.md``). A source is not diffuse: a rare population rules its cells,
and a module of an even mixture, which may lead few samples and rule none (a planted
module of eight over 60 samples leads two), holds its own genes.
The QC record names diffuse modules (``diffuse_module``).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from scipy import sparse

from .config import ConfigError
from .io import read_tsv, write_tsv
from .multiple_testing import benjamini_hochberg

__all__ = ["library_covariates", "usage_associations", "module_associations",
           "mark_background", "top_fractions", "majority_counts", "own_mass",
           "technical_modules",
           "covariate_kind", "write_covariates", "read_covariates", "ASSOCIATION_COLUMNS"]

#: A module of fewer than ``top_max`` of the samples' top modules and no sample's main
#: program is diffuse when less than this fraction of its W column lies on its own
#: genes (:func:`own_mass`): most of it on the genes of other modules.
DIFFUSE_OWN_MAX = 0.5

#: Columns of :func:`module_associations` (``background`` and ``diffuse`` from
#: :func:`mark_background`).
ASSOCIATION_COLUMNS = ["module", "covariate", "kind", "rho", "p", "q", "technical",
                       "background", "diffuse"]


def library_covariates(matrix: np.ndarray | sparse.sparray | sparse.spmatrix,
                       samples: list[str]) -> pd.DataFrame:
    """Per sample of a genes x samples count matrix: ``log_depth``, log10 of its total
    count (at least 1).

    The number of genes detected is left out on purpose: it follows the modules
    themselves (a sample that uses a module of many genes detects more genes), so on the
    exercise's table its largest module correlates with it at rho 0.48 although nothing
    there is technical. Mark detection, mitochondrial fraction, RNA input or plate as
    ``technical:`` obs columns where they are recorded.
    """
    if sparse.issparse(matrix):  # summed in place, not copied to CSC: counts are
        # integers, so every order of adding them gives the same total
        depth = np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()
    else:
        depth = np.asarray(matrix, dtype=np.float64).sum(axis=0)
    return pd.DataFrame({"log_depth": np.log10(np.maximum(depth, 1.0))},
                        index=pd.Index([str(s) for s in samples], name="sample"))


def covariate_kind(values: pd.Series) -> str:
    """``numeric`` (correlated) for a column of numbers, ``categorical`` (groups) for
    any other: labels, booleans, categories, whatever their labels look like."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return "numeric" if numeric else "categorical"


def write_covariates(covariates: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write technical covariates (samples x columns) so that :func:`read_covariates`
    gives every column back with its kind: one row per sample and column, ``sample``,
    ``covariate``, ``kind`` (:func:`covariate_kind`), ``value`` as written and
    ``missing`` (an empty label is a label). A wide table would lose the kind: a plate
    or a batch labelled ``1``, ``2``, ``3`` reads back as numbers and would be
    correlated instead of tested as groups."""
    samples = covariates.index.astype(str)
    parts = []
    for name in covariates.columns:
        column = covariates[name]
        missing = column.isna().to_numpy()
        parts.append(pd.DataFrame({
            "sample": samples, "covariate": str(name), "kind": covariate_kind(column),
            "value": ["" if gone else str(v) for v, gone in zip(column, missing)],
            "missing": missing}))
    long = (pd.concat(parts, ignore_index=True) if parts else
            pd.DataFrame(columns=["sample", "covariate", "kind", "value", "missing"]))
    write_tsv(long, path, index=False)


def read_covariates(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The covariates :func:`write_covariates` wrote (samples x columns, in their order):
    numeric columns as numbers, the others as their labels, missing values NaN."""
    long = read_tsv(path, index_col=None)
    if "kind" not in long.columns:  # one column per covariate (written before kinds)
        return long.set_index(long.columns[0])
    if "missing" not in long.columns:  # (an empty value was a missing one)
        long["missing"] = long["value"] == ""
    samples = pd.Index(pd.unique(long["sample"]), name="sample")
    table = pd.DataFrame(index=samples)
    for name, rows in long.groupby("covariate", sort=False):
        rows = rows.set_index("sample").reindex(samples)
        values = rows["value"].astype(object).where(~rows["missing"].astype(bool))
        numeric = rows["kind"].iloc[0] == "numeric"
        table[str(name)] = pd.to_numeric(values) if numeric else values
    return table


def _association(usage: np.ndarray, values: pd.Series) -> tuple[str, float, float]:
    """(kind, rho, p) of one module's usage against one covariate (module docstring)."""
    from scipy.stats import kruskal, spearmanr

    known = values.notna().to_numpy()
    u, v = usage[known], values[known]
    if covariate_kind(v) == "numeric":
        x = v.to_numpy(dtype=np.float64)
        if known.sum() < 3 or np.ptp(x) == 0 or np.ptp(u) == 0:
            return "numeric", 0.0, 1.0
        result = spearmanr(u, x)
        return "numeric", float(result.statistic), float(result.pvalue)
    groups = [u[(v == level).to_numpy()] for level in pd.unique(v)]
    groups = [g for g in groups if len(g)]
    if len(groups) < 2 or np.ptp(u) == 0:
        return "categorical", 0.0, 1.0
    statistic, p = kruskal(*groups)
    return "categorical", float(np.sqrt(max(statistic, 0.0) / max(len(u) - 1, 1))), float(p)


def usage_associations(H: pd.DataFrame, covariates: pd.DataFrame) -> pd.DataFrame:
    """Every module's usage share against every covariate: ``module``, ``covariate``,
    ``kind`` (numeric: Spearman; categorical: Kruskal-Wallis), ``rho``, ``p`` and ``q``
    (Benjamini-Hochberg over every module x covariate pair); see the module docstring.
    ``covariates`` (samples x columns) must cover every sample of ``H``."""
    samples = [str(s) for s in H.columns]
    missing = pd.Index(samples).difference(covariates.index.astype(str))
    if len(missing):
        raise ValueError(f"the covariates lack {len(missing)} sample(s) of the fit, e.g. "
                         f"{list(missing[:3])}")
    values = H.to_numpy(dtype=np.float64)
    usage = values / np.maximum(values.sum(axis=0, keepdims=True), 1e-300)
    cov = covariates.set_axis(covariates.index.astype(str)).loc[samples]
    rows = [{"module": str(module), "covariate": str(name),
             **dict(zip(("kind", "rho", "p"), _association(usage[r], cov[name])))}
            for name in cov.columns for r, module in enumerate(H.index)]
    table = pd.DataFrame(rows, columns=["module", "covariate", "kind", "rho", "p"])
    table["q"] = benjamini_hochberg(table["p"].to_numpy()) if len(table) else \
        np.empty(0)
    return table


def module_associations(H: pd.DataFrame, covariates: pd.DataFrame, *, min_rho: float,
                        fdr: float) -> pd.DataFrame:
    """Every module's usage share against every covariate (module docstring).

    Parameters
    ----------
    H : DataFrame (modules x samples)
        The fit's module activities (W's columns summing to one).
    covariates : DataFrame (samples x covariates)
        Sample covariates indexed by sample name (every sample of H): numeric columns
        are correlated, any other column is taken as groups.
    min_rho, fdr : float
        A module is technical when ``|rho| >= min_rho`` and ``q <= fdr`` for some
        covariate.

    Returns
    -------
    DataFrame with :data:`ASSOCIATION_COLUMNS`, one row per covariate x module.
    """
    table = usage_associations(H, covariates)
    strongest = table["rho"].abs() == table.groupby("covariate")["rho"].transform(
        lambda r: r.abs().max())
    table["technical"] = (table["rho"].abs() >= min_rho) & (table["q"] <= fdr) & strongest
    table["background"] = False
    table["diffuse"] = False
    return table[ASSOCIATION_COLUMNS]


def top_fractions(H: pd.DataFrame) -> pd.Series:
    """Fraction of the samples whose largest usage share is each module's (W's columns
    summing to one; ties go to the first module), indexed by module."""
    values = H.to_numpy(dtype=np.float64)
    counts = np.bincount(values.argmax(axis=0), minlength=len(H.index))
    return pd.Series(counts / max(values.shape[1], 1), index=H.index, name="top_fraction")


def majority_counts(H: pd.DataFrame) -> pd.Series:
    """Number of samples of which each module explains more than half of the fitted
    counts (usage share above 0.5: the sample's main program), indexed by module."""
    values = H.to_numpy(dtype=np.float64)
    usage = values / np.maximum(values.sum(axis=0, keepdims=True), 1e-300)
    return pd.Series((usage > 0.5).sum(axis=1), index=H.index, name="majority_samples")


def own_mass(W: pd.DataFrame) -> pd.Series:
    """Per module: the fraction of its W column (scaled to sum to one) on the genes whose
    top module it is (largest share of the gene's row; ties go to the first module),
    indexed by module."""
    values = W.to_numpy(dtype=np.float64)
    values = values / np.maximum(values.sum(axis=0, keepdims=True), 1e-300)
    top = values.argmax(axis=1)
    rank = values.shape[1]
    own = np.bincount(top, weights=values[np.arange(values.shape[0]), top], minlength=rank)
    return pd.Series(own, index=W.columns, name="own_mass")


def mark_background(associations: pd.DataFrame, W: pd.DataFrame, H: pd.DataFrame, *,
                    top_max: float) -> pd.DataFrame:
    """``associations`` with ``diffuse`` set on every row of each module, flagged or
    not, that is the top module of fewer than ``top_max`` of the samples, the main
    program (more than half of the counts) of none and holds less than
    :data:`DIFFUSE_OWN_MAX` of its W column on its own genes, and ``background`` on
    every diffuse module and on every flagged module that is the top module of fewer
    than ``top_max``, or of fewer than twice that and the main program of none (module
    docstring); ``top_max = 0`` marks none."""
    if not 0 <= top_max <= 1:
        raise ValueError(f"top_max must be in [0, 1], got {top_max}")
    flagged = set(associations.loc[associations["technical"], "module"])
    fraction, main_of = top_fractions(H), majority_counts(H)
    own = own_mass(W)
    diffuse = {m for m in H.index
               if fraction[m] < top_max and main_of[m] == 0 and own[m] < DIFFUSE_OWN_MAX}
    background = diffuse | {m for m in flagged if fraction[m] < top_max
                            or (fraction[m] < 2 * top_max and main_of[m] == 0)}
    return associations.assign(background=associations["module"].isin(background),
                               diffuse=associations["module"].isin(diffuse))


def technical_modules(associations: pd.DataFrame) -> pd.DataFrame:
    """One row per flagged module, by its strongest technical covariate: ``module``,
    ``covariate``, ``rho``, ``background`` (empty when no module is flagged)."""
    flagged = associations[associations["technical"]]
    if flagged.empty:
        return pd.DataFrame({"module": [], "covariate": [], "rho": [], "background": []})
    strongest = flagged.loc[flagged["rho"].abs().groupby(flagged["module"]).idxmax()]
    return strongest[["module", "covariate", "rho", "background"]].reset_index(drop=True)


def read_obs_columns(path: str, columns: list[str], cells: list[str], *,
                     key: str = "technical") -> pd.DataFrame:
    """The named ``obs`` columns of an ``.h5ad`` file for ``cells`` (its ``obs_names``),
    as strings or numbers as stored; the config key ``key`` (``technical``,
    ``annotations``) names them.

    Raises
    ------
    ValueError
        Naming the file, the missing columns and the columns there are.
    """
    import anndata

    adata = anndata.read_h5ad(path, backed="r")
    try:
        obs = adata.obs
        missing = [c for c in columns if c not in obs.columns]
        if missing:
            raise ConfigError(f"{path}: config key {key} names obs column(s) {missing} "
                             f"that the file lacks; its obs columns are "
                             f"{list(obs.columns)}")
        table = obs[list(columns)].copy()
    finally:
        adata.file.close()
    table.index = table.index.astype(str)
    for name in table.columns:  # categories as their labels, so TSV round trips keep them
        if isinstance(table[name].dtype, pd.CategoricalDtype):
            table[name] = table[name].astype(str)
    return table.loc[[str(c) for c in cells]].rename_axis("sample")
