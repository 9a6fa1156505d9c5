"""One set of defaults: the schema's `default:` values, which config.yaml repeats."""

import yaml

from conftest import REPO
from moonlight.config import CROSSVAL_KEYS, defaults


def leaves(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= leaves(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_config_yaml_holds_the_schema_defaults():
    config = leaves(yaml.safe_load((REPO / "config.yaml").read_text()))
    for key, value in leaves(defaults()).items():
        assert config[key] == value, f"config.yaml {key} = {config[key]!r}, schema {value!r}"


def test_every_setting_of_the_analysis_has_a_default():
    tree = defaults()
    for section in ("fit", "selection", "modules", "qc"):
        config = yaml.safe_load((REPO / "config.yaml").read_text())[section]
        assert set(tree[section]) == set(config), section
    assert set(CROSSVAL_KEYS) <= set(tree["selection"])
    assert defaults("ranks") == [2, 3, 4, 5, 6, 7]
    tree["ranks"].append(99)  # a copy: the defaults themselves do not change
    assert defaults("ranks") == [2, 3, 4, 5, 6, 7]


def test_a_config_written_before_the_gene_classes_and_the_cap_takes_their_defaults():
    from snakemake.utils import validate
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section, key in [("modules", "ceiling"), ("modules", "technical_rho"),
                         ("selection", "min_gain"), ("simulation", "n_broad"),
                         ("simulation", "plates"), ("simulation", "plate_sd"),
                         ("simulation", "dropout_mid")]:
        del config[section][key]
    validate(config, str(REPO / "moonlight" / "config.schema.yaml"))
    assert config["modules"]["ceiling"] == 0.1 and config["modules"]["technical_rho"] == 0.5
    assert config["selection"]["min_gain"] == 0.1 and config["simulation"]["n_broad"] == 0
