"""Rule landing_page: the report's first page, with the answer per data set first."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv
from moonlight.io import atomic_path
from moonlight.runlog import log_to
from moonlight.summary import landing_page

with log_to(snakemake.log[0]):
    page = landing_page(read_tsv(snakemake.input.summary, index_col=None),
                        snakemake.params.description)
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(page)
