"""One set of defaults: the schema's `default:` values, and configs that rely on them."""

import copy
import re

import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO
from moonlight.config import CROSSVAL_KEYS, defaults

SCHEMA = str(REPO / "moonlight" / "config.schema.yaml")


def leaves(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out |= leaves(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def validated(config):
    config = copy.deepcopy(config)
    validate(config, SCHEMA)
    return config


def commented_keys(text):
    """The keys config.yaml shows commented out (``# key: value`` at the top level and
    the lines indented under it), as a config; example blocks indented under a comment
    (the data and project examples) are left out."""
    lines, inside = [], False
    for line in text.splitlines():
        match = re.match(r"^# ( *)([a-z_]+):(.*)$", line)
        if not match:
            inside = False
            continue
        if not match.group(1):
            inside = True
        if inside:
            lines.append(line[2:])
    return yaml.safe_load("\n".join(lines))


def test_a_minimal_config_takes_every_default():
    config = validated({"data": {"mine": "counts.tsv"}})
    assert config == {**defaults(), "data": {"mine": "counts.tsv"}}
    assert config["simulation"]["seeds"] == []  # nothing simulated unless asked
    assert validated({}) == defaults()


def test_config_yaml_sets_only_what_differs_from_the_defaults():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert config == {"simulation": {"seeds": [1, 2, 3]}, "data": {}}
    assert validated(config) == {**defaults(), "simulation": {**defaults("simulation"),
                                                              "seeds": [1, 2, 3]}}


def test_the_keys_config_yaml_shows_commented_hold_their_defaults():
    shown = leaves(commented_keys((REPO / "config.yaml").read_text()))
    assert len(shown) >= 12 and "modules.fdr" in shown and "ranks" in shown
    schema = leaves(defaults())
    for key, value in shown.items():
        assert schema[key] == value, f"config.yaml shows {key}: {value!r}, schema {schema[key]!r}"


@pytest.mark.parametrize("key", sorted(leaves(defaults())))
def test_any_key_left_out_takes_its_default(key):
    config = defaults()
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node[part]
    del node[last]
    assert validated(config) == defaults()


@pytest.mark.parametrize("path", sorted((REPO / "docs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_documented_config_validates_on_its_own(path):
    config = validated(yaml.safe_load(path.read_text()))
    assert set(config) == set(defaults())


def test_an_unknown_or_mistyped_key_is_refused_by_name():
    from snakemake.exceptions import WorkflowError
    with pytest.raises(WorkflowError, match="treshold"):
        validated({"modules": {"treshold": 0.2}})
    with pytest.raises(WorkflowError, match="fdr"):
        validated({"modules": {"fdr": "low"}})


def test_analyse_checks_its_settings_as_the_workflow_checks_the_config(w09_table):
    """analyse() refused only unknown keys: a repeated rank was fitted twice, a fold
    count of 1 or a threshold above 1 failed somewhere inside, or not at all. Every
    setting is now checked against the schema before the data step, by its key."""
    from moonlight import read_count_table
    from moonlight.config import ConfigError
    from moonlight.pipeline import analyse

    counts = read_count_table(w09_table)
    import numpy as np
    # what worked before still works: numpy's numbers, 5.0 for an integer, null keys
    assert analyse(counts, np.array([2]), restarts=np.int64(1), rank_guard=np.True_,
                   enrichment={"min_set_size": 5.0}, fit={"tol": None},
                   threshold=np.float32(0.1)).rank == 2
    for given, key in [({"ranks": [2, 2]}, "ranks: \\[2, 2\\] has non-unique"),
                       ({"restarts": 0}, "restarts: 0 is less than"),
                       ({"threshold": 1.5}, "modules.threshold: 1.5"),
                       ({"fit": {"tol": -1.0}}, "fit.tol: -1.0"),
                       ({"selection": {"folds": 1}}, "selection.folds: 1"),
                       ({"qc": {"outliers": "ignore"}}, "qc.outliers: 'ignore'"),
                       ({"select": {"keep_top_genes": 0}}, "select.keep_top_genes"),
                       ({"select": {"min_counts_per_cell": -1}}, "select.min_counts_per_cell"),
                       ({"enrichment": {"min_set_size": "5"}}, "enrichment.min_set_size")]:
        with pytest.raises(ConfigError, match=f"config key {key}"):
            analyse(counts, **{"ranks": [2], "restarts": 1, **given})


def test_analyse_refuses_wrong_arguments_by_name_before_any_work(w09_table):
    """A path, one rank, a list for annotations or a misspelled keyword (it fell into the
    modules: settings) each stop analyse() naming the argument, not deep in the fit."""
    from moonlight import read_count_table
    from moonlight.pipeline import analyse
    counts = read_count_table(w09_table)
    for given, message in [
            ({"restart": 3}, r"unknown keyword\(s\) 'restart' \(did you mean 'restarts'\?\)"),
            ({"treshold": 0.2}, r"'treshold' \(did you mean 'threshold'\?\)"),
            ({"ranks": 4}, r"ranks must be a list of ranks \(for example \[4\]"),
            ({"annotations": [1, 2]}, "annotations must be a DataFrame"),
            ({"covariates": {"depth": [1, 2]}}, "covariates must be a DataFrame"),
            ({"fit": {"tole": 1e-8}},
             r"unknown fit setting\(s\) 'tole' \(did you mean 'tol'\?\)")]:
        with pytest.raises(TypeError, match=message):
            analyse(counts, **given)
    with pytest.raises(TypeError, match="takes counts in memory, not the path 'counts.csv'"):
        analyse("counts.csv")


def test_every_setting_of_the_analysis_has_a_default():
    tree = defaults()
    assert set(CROSSVAL_KEYS) <= set(tree["selection"])
    assert defaults("ranks") == [2, 3, 4, 5, 6, 7]
    tree["ranks"].append(99)  # a copy: the defaults themselves do not change
    assert defaults("ranks") == [2, 3, 4, 5, 6, 7]


#: The JSON Schema keywords the schema may use; anything else is a typo or a flow
#: mapping split at a comma (`{description: a, b}` makes a key `b`), which validators
#: ignore silently. One is the schema's own: `reader_default`, a reader option's default
#: (moonlight.config.entry_default), which Snakemake's validate does not write into a config.
KEYWORDS = {"$schema", "title", "description", "type", "default", "enum", "items", "minimum",
            "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems",
            "uniqueItems", "minLength", "pattern", "not", "oneOf", "properties",
            "additionalProperties", "required", "propertyNames", "$defs", "$ref", "allOf",
            "unevaluatedProperties", "reader_default"}


def reader_defaults():
    """Every ``reader_default`` of the schema, by the data entry's key."""
    schema = yaml.safe_load(open(SCHEMA))
    nodes = [schema["properties"]["data"]["additionalProperties"]["properties"],
             *(part["properties"] for part in schema["$defs"].values())]
    return {key: node["reader_default"] for properties in nodes
            for key, node in properties.items() if "reader_default" in node}


def test_the_schema_uses_only_json_schema_keywords():
    def walk(node, path):
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, f"{path}[{i}]")
        elif isinstance(node, dict):
            for key, value in node.items():
                if not path.endswith(("properties", "$defs")):
                    assert key in KEYWORDS, f"{path}: {key!r} is not a schema keyword"
                yield from walk(value, f"{path}/{key}")
        yield path
    assert len(list(walk(yaml.safe_load(open(SCHEMA)), ""))) > 100


def test_a_data_or_project_entry_with_a_key_of_no_kind_is_refused_by_name():
    from snakemake.exceptions import WorkflowError
    assert validated({"data": {"a": {"path": "t.tsv", "sep": "tab", "keep_top_genes": 5}}})
    with pytest.raises(WorkflowError, match="'sepp' was unexpected"):
        validated({"data": {"a": {"path": "t.tsv", "sepp": "tab"}}})
    with pytest.raises(WorkflowError, match="'path' is a required property"):
        validated({"data": {"a": {"sep": "tab"}}})
    # projections read count tables: no single-cell option
    with pytest.raises(WorkflowError, match="'keep_top_genes' was unexpected"):
        validated({"project": {"n": {"model": "a", "path": "t.tsv", "keep_top_genes": 5}}})
    assert validated({"project": {"n": {"model": "a", "path": "t.tsv", "header": True}}})
    # nor a data set's annotations: nothing would test the projected samples against them
    with pytest.raises(WorkflowError, match="'samples' was unexpected"):
        validated({"project": {"n": {"model": "a", "path": "t.tsv", "samples": "s.tsv"}}})
    assert validated({"project": {"n": {"model": "a", "path": "t.tsv",
                                        "exclude_genes": ["^MT-"], "drop_genes": ["g"]}}})


def test_the_configuration_reference_is_generated_from_the_schema():
    from moonlight.config import reference
    page = (REPO / "docs" / "configuration.md").read_text()
    assert page == reference(), "regenerate: python -m moonlight.config > docs/configuration.md"
    for key in leaves(defaults()):
        assert f"`{key}`" in page, key


def _library_defaults():
    """(callable, keyword, schema value) for every library keyword that a config key
    sets: the keyword's default must be the schema's."""
    from moonlight import (estimator, genesets, nmf, projection, qc, selection, simulate,
                           stability)
    from moonlight.config import crossval_settings
    from moonlight.confidence import moonlighting_confidence
    from moonlight.crossval import cross_validate, fit_blocks, fit_masked
    from moonlight.pipeline import call_modules
    from moonlight.prefilter import select_genes_and_cells
    from moonlight.share_test import share_test
    fit, sel, mods, proj, genes = (defaults(s) for s in ("fit", "selection", "modules",
                                                         "projection", "gene_selection"))
    cv = crossval_settings(sel)
    cases = [(nmf.fit_nmf, "restarts", defaults("restarts"))]
    cases += [(nmf.fit_nmf, k, fit[k]) for k in fit if k != "restarts_per_job"]
    cases += [(f, k, cv[k]) for f in (cross_validate,) for k in cv]
    cases += [(f, k, cv[k]) for f in (fit_masked, fit_blocks)
              for k in ("restarts", "seed", "tol", "max_iter", "check_every")]
    # the masked fits of the entries and blocks designs start as the fits do
    cases += [(f, "init", fit["init"]) for f in (fit_masked, fit_blocks)]
    cases += [(moonlighting_confidence, k, mods[k])
              for k in ("fdr", "min_support", "level", "overdispersion", "neighbour_level")]
    cases += [(call_modules, "rank_guard", mods["rank_guard"])]
    cases += [(share_test, k, mods[k]) for k in ("ceiling", "level", "overdispersion")]
    cases += [(genesets.top_genes, "n", defaults("top_genes")),
              (select_genes_and_cells, "top_genes", genes["keep_top_genes"]),
              (select_genes_and_cells, "min_samples_per_gene", genes["min_samples_per_gene"])]
    cases += [(f, k, sel[k]) for f in (selection.rank_table, selection.select_rank)
              for k in ("min_stability", "min_gain")]
    cases += [(stability.stability_summary, "margin", sel["margin"]),
              (qc.outlier_warnings, "factor", defaults("qc")["outlier_factor"])]
    cases += [(f, k, proj[k]) for f in (projection.project, projection.transform)
              for k in ("tol", "max_iter")]
    cases += [(estimator.PoissonNMF, k, v) for k, v in
              [("restarts", defaults("restarts")), ("method", fit["method"]),
               ("tol", fit["tol"]), ("max_iter", fit["max_iter"]),
               ("random_state", fit["seed"]), ("transform_max_iter", proj["max_iter"])]]
    # the readers' options (the schema's reader_default; every one of them is checked
    # here: test_every_reader_default_is_a_readers_and_entry_default_reads_it)
    from moonlight import singlecell, tables
    read = reader_defaults()
    cases += [(tables.read_table, k, read[k]) for k in ("header", "comment", "skip_rows",
                                                        "thousands", "counts")]
    cases += [(singlecell.read_single_cell, k, read[k]) for k in ("format", "matrix", "gene_ids")]
    cases += [(f, k, read[k]) for f in (singlecell.read_h5ad_counts, singlecell.read_anndata)
              for k in ("matrix", "gene_ids")]
    cases += [(f, "gene_ids", read["gene_ids"])
              for f in (singlecell.read_10x_mtx, singlecell.read_10x_h5)]
    cases += [(singlecell.stored_entries, "format", read["format"]),
              (select_genes_and_cells, "min_counts_per_cell", read["min_counts_per_cell"])]
    sim = defaults("simulation")
    cases += [(simulate, k, tuple(v) if isinstance(v, list) else v)
              for k, v in sim.items() if k != "seeds"]
    # the keys moved into the schema from the library's constants, and the rank rule's
    from moonlight import enrichment, genefilter, outliers, plots, rank_guard, rowmodel
    checks, sets = defaults("qc"), defaults("enrichment")
    cases += [(moonlighting_confidence, "private_gene_share", mods["private_gene_share"]),
              (rank_guard.neighbour_confirmation, "private_gene_share",
               mods["private_gene_share"]),
              (rank_guard.drop_private_modules, "max_gene_share", mods["private_gene_share"]),
              (call_modules, "background_top_max", mods["background_top_max"]),
              (call_modules, "threads", mods["threads"]),
              (call_modules, "row_max_iter", mods["row_max_iter"]),
              (rowmodel.fitting_threads, "max_iter", mods["row_max_iter"])]
    cases += [(f, k, sel[k]) for f in (selection.rank_table, selection.select_rank,
                                       selection.rule_in_words)
              for k in ("min_stability", "min_gain", "cap_when", "min_gain_stopped")]
    cases += [(f, k, sets[k]) for f in (enrichment.enrichment, enrichment.module_enrichment)
              for k in ("min_set_size", "max_set_size")]
    cases += [(enrichment.module_enrichment, "min_coverage", sets["min_coverage"]),
              (plots.plot_enrichment, "fdr", sets["fdr"])]
    cases += [(f, k, checks[f"mito_ribo_{k}"])
              for f in (qc.mito_ribo_warnings, genefilter.mito_ribo_modules)
              for k in ("top", "share")]
    cases += [(qc.quality_record, k, checks[k])
              for k in ("outlier_factor", "mito_ribo_top", "mito_ribo_share")]
    cases += [(qc.find_outliers, "factor", checks["outlier_factor"]),
              (outliers.handle_outliers, "factor", checks["outlier_factor"]),
              (outliers.handle_outliers, "mode", checks["outliers"])]
    return cases


@pytest.mark.parametrize("function, keyword, value", _library_defaults(),
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_every_library_default_is_the_schemas(function, keyword, value):
    import inspect
    parameter = inspect.signature(function).parameters[keyword]
    if parameter.default is inspect.Parameter.empty:  # required: nothing to disagree
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        return
    assert parameter.default == value, (
        f"{function.__qualname__}({keyword}={parameter.default!r}); schema {value!r}")


def test_every_reader_default_is_a_readers_and_entry_default_reads_it():
    from moonlight.config import entry_default
    stated = reader_defaults()
    checked = {keyword for _, keyword, _ in _library_defaults()}
    assert set(stated) <= checked, f"no reader is checked for {set(stated) - checked}"
    assert {key: entry_default(key) for key in stated} == stated
    assert stated["comment"] == "#" and stated["matrix"] == "X"


def test_the_librarys_named_defaults_are_the_schemas():
    from moonlight import nmf, projection, qc
    assert nmf.DEFAULT_RACE_MARGIN == defaults("selection")["margin"]
    assert qc.DEFAULT_OUTLIER_FACTOR == defaults("qc")["outlier_factor"]
    assert projection.DEFAULT_PROJECTION_TOL == defaults("projection")["tol"]


def test_a_key_the_input_would_ignore_is_named():
    from moonlight.config import misplaced_keys
    assert misplaced_keys({"path": "t.tsv", "sep": "tab", "drop_genes": ["a"]}, "table") == {}
    assert set(misplaced_keys({"path": "t.tsv", "min_counts_per_cell": 5, "technical": ["b"],
                               "keep_top_genes": 5, "min_samples_per_gene": 2},
                              "table")) == {"min_counts_per_cell", "technical"}
    assert set(misplaced_keys({"path": "x.h5ad", "sep": "tab", "technical": ["b"]},
                              "h5ad")) == {"sep"}
    assert "columns of a sample sheet (samples:)" in misplaced_keys(
        {"path": "d/", "technical": ["b"]}, "10x")["technical"]
    # a sample sheet gives a table (or 10x data) its technical columns
    assert misplaced_keys({"path": "t.tsv", "samples": "s.tsv", "technical": ["b"]},
                          "table") == {}


def _dry_run(workdir, config, *extra):
    """``snakemake -n`` of this checkout's workflow in ``workdir`` on ``config`` alone."""
    import subprocess
    import sys

    from conftest import SNAKEFILE
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d",
                           str(workdir), "--configfile", str(config), "-n", *extra],
                          capture_output=True, text=True)


def test_the_workflow_refuses_a_single_cell_option_on_a_table(tmp_path):
    from conftest import W09_TABLE
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(
        {"data": {"mine": {"path": str(W09_TABLE), "min_counts_per_cell": 50}}}))
    dry = _dry_run(tmp_path, config)
    assert dry.returncode != 0
    assert "config key data.mine.min_counts_per_cell: a single-cell option" in \
        dry.stdout + dry.stderr


def test_a_misspelled_key_is_one_line_with_the_key_it_most_likely_meant(tmp_path):
    """The workflow names an unknown key and its likely spelling in a few lines, not the
    schema (Snakemake's own validate printed all 2,800 lines of it); a number where a name
    belongs is told to be quoted."""
    from moonlight.config import ConfigError, validate as check
    for config, message in [
            ({"rank": [2, 3]}, "config: unknown key 'rank' (did you mean 'ranks'?)"),
            ({"modules": {"treshold": 0.2}},
             "config key modules: unknown key 'treshold' (did you mean 'threshold'?)"),
            ({"data": {"a": {"path": "t.tsv", "keep_top_gene": 5}}},
             "config key data.a: unknown key 'keep_top_gene' (did you mean "
             "'keep_top_genes'?)"),
            ({"data": {"a": {"path": "t.tsv", "drop_genes": [7]}}},
             "config key data.a.drop_genes.0: 7 is not of type 'string': a name is text, so "
             "write it in quotes"),
            ({"data": {"a": {"path": "t.tsv", "drop_genes": ["NA", True]}}},
             "config key data.a.drop_genes.1: True is not of type 'string': a name is "
             "text, so write it in quotes")]:
        with pytest.raises(ConfigError) as caught:
            check(config)
        assert str(caught.value).startswith(message), str(caught.value)
    with pytest.raises(ConfigError, match="unknown key 'xyzzy'; the keys here are background"):
        check({"modules": {"xyzzy": 1}})  # nothing close: the keys it could be
    config = tmp_path / "config.yaml"
    config.write_text("rank: [2, 3]\n")
    dry = _dry_run(tmp_path, config)
    assert dry.returncode != 0
    said = dry.stdout + dry.stderr
    assert "config: unknown key 'rank' (did you mean 'ranks'?)" in said
    assert len(said.splitlines()) < 10 and "$schema" not in said


def test_a_range_grown_past_the_simulated_table_is_refused_by_its_key(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"simulation": {"seeds": [1], "n_samples": 8},
                                      "ranks": [2, 3], "selection": {"extend_to": 9}}))
    dry = _dry_run(tmp_path, config)
    assert dry.returncode != 0
    assert "config key selection.extend_to: rank 9 exceeds" in dry.stdout + dry.stderr


def test_a_configfile_replaces_config_yaml(tmp_path):
    """A user's --configfile says the whole run: without simulation: nothing is
    simulated, although the repository's config.yaml simulates three seeds."""
    from conftest import REPO
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())  # as in a clone
    (tmp_path / "counts.tsv").write_text("\n".join(
        f"g{i}\t" + "\t".join(str((i * j) % 7 + 1) for j in range(6)) for i in range(12)))
    config = tmp_path / "mine.yaml"
    config.write_text(yaml.safe_dump({"data": {"mine": str(tmp_path / "counts.tsv")},
                                      "ranks": [2, 3]}))
    dry = _dry_run(tmp_path, config)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "prepare_table" in dry.stdout and "simulate" not in dry.stdout


def test_command_line_strings_are_typed_by_the_schema():
    """Snakemake's --config gives strings ("ranks=[1,2]" is ["1", "2"]); names stay
    strings, numbers, booleans and null become what they spell."""
    from moonlight.config import from_command_line
    given = {"ranks": ["1", "2"], "fit": {"threads": "2", "restarts_per_job": "null"},
             "selection": {"extend_to": "9", "min_gain": "0.05", "init": "null"},
             "modules": {"rank_guard": "false"},
             "data": {"a": "007.tsv", "b": {"path": "x", "drop_genes": ["007", "NA"],
                                            "header": "true", "keep_top_genes": "50",
                                            "ranks": ["3"]}}}
    typed = from_command_line(given)
    assert typed["ranks"] == [1, 2] and typed["fit"] == {"threads": 2, "restarts_per_job": None}
    assert typed["selection"] == {"extend_to": 9, "min_gain": 0.05, "init": None}
    assert typed["modules"] == {"rank_guard": False}
    assert typed["data"]["a"] == "007.tsv"
    assert typed["data"]["b"] == {"path": "x", "drop_genes": ["007", "NA"], "header": True,
                                  "keep_top_genes": 50, "ranks": [3]}
    assert validated(typed)["ranks"] == [1, 2]


def test_a_data_set_can_have_its_own_ranks_and_the_command_line_sets_ranks(tmp_path):
    import re

    table = tmp_path / "counts.tsv"
    table.write_text("\n".join(
        f"g{i}\t" + "\t".join(str((i * j) % 7 + 1) for j in range(8)) for i in range(12)))
    config = tmp_path / "mine.yaml"
    config.write_text(yaml.safe_dump({"data": {"own": {"path": str(table), "ranks": [2]},
                                               "shared": str(table)}}))
    dry = _dry_run(tmp_path, config, "--config", "ranks=[3,4]")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    fitted = {name: sorted({int(r) for r in re.findall(rf"results/{name}/fits/R(\d+)/part",
                                                        dry.stdout)})
              for name in ("own", "shared")}
    assert fitted == {"own": [2], "shared": [3, 4]}


def test_the_fit_jobs_and_analyse_take_the_same_fit_settings():
    """The workflow turned racing off for fits split over jobs and analyse() did not,
    so the two raced different restarts with fit.restarts_per_job set."""
    from moonlight.config import fit_settings
    fit = {**defaults("fit"), "race": True}
    assert fit_settings(fit, 10, 5.0) == {**{k: v for k, v in fit.items()
                                             if k not in ("restarts_per_job", "threads")},
                                          "race": True, "race_margin": 5.0}
    split = fit_settings({**fit, "restarts_per_job": 5}, 10, 5.0)
    assert split["race"] is False and "race_margin" not in split
    assert fit_settings({**fit, "restarts_per_job": 10}, 10, 5.0)["race"] is True


def test_settings_in_another_order_are_the_same_parameters():
    """Snakemake compares a job's parameters by their repr: the same values in another
    key order, at any depth, must give the same one."""
    from moonlight.config import canonical
    a = {"fit": {"seed": 0, "tol": 1e-10}, "ranks": [2, 3], "modules": {"fdr": 0.05}}
    b = {"modules": {"fdr": 0.05}, "ranks": [2, 3], "fit": {"tol": 1e-10, "seed": 0}}
    assert repr(canonical(a)) == repr(canonical(b)) and canonical(a) == a
    assert canonical({"ranks": [3, 2]}) != canonical({"ranks": [2, 3]})  # lists keep order


def test_the_data_step_options_hold_only_what_changes_how_counts_are_read():
    from moonlight.config import data_step_options, entry_default
    plain = data_step_options({"path": "a.csv", "sep": ","}, "table")
    # a default written out, another order, keys the step does not read, an empty list
    same = data_step_options({"comment": entry_default("comment"), "sep": ",",
                              "path": "b.csv", "ranks": [2, 3], "annotations": ["group"],
                              "technical": []}, "table")
    assert repr(same) == repr(plain)
    assert data_step_options({"path": "a.csv", "sep": ",", "format": "table"},
                             "table") == plain  # the format it is read as, named
    assert plain["sep"] == "," and plain["header"] == entry_default("header")
    assert "matrix" not in plain  # a single-cell option, not the table's
    assert data_step_options({"path": "a.csv", "sep": ";"}, "table") != plain
    # keep_top_genes: null (every gene) is a choice, not an empty value
    assert data_step_options({"path": "a.csv", "keep_top_genes": None}, "table") != plain
    cells = data_step_options({"path": "c.h5ad", "technical": ["pct"]}, "h5ad")
    assert cells["matrix"] == entry_default("matrix") and cells["technical"] == ["pct"]
    assert "comment" not in cells
