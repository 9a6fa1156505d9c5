"""The documentation site builds with warnings as errors: every page of the nav exists,
every link between pages resolves, and every docstring of the API reference parses as
numpy style (mkdocs.yml: strict)."""

import subprocess
import sys

from conftest import REPO


def test_the_site_builds_strict(tmp_path):
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                            str(tmp_path / "site"), "--config-file", str(REPO / "mkdocs.yml")],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-4000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    # the reference renders the docstrings: analyse()'s parameters, the schema path
    assert "moonlight.pipeline.analyse" in api and "moonlight.prefilter.select_counts" in api
    assert (tmp_path / "site" / "configuration" / "index.html").is_file()
