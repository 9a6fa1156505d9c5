"""Compile numba's kernels into their on-disk cache by running small analyses:
``dense`` (fits, masked cross-validation fits, the gene tests) or ``sparse`` (the same on
CSR counts, and the batch model). tests/conftest.py runs both, side by side, before the
test workers start on a fresh clone (``pytest_xdist_setupnodes`` there)."""

import sys

import numpy as np
from scipy import sparse

import moonlight
from moonlight.counts import Counts
from moonlight.pipeline import analyse


def main(kind: str) -> None:
    sim = moonlight.simulate(seed=0, n_genes=60, n_samples=40, n_modules=3,
                             module_size=(10, 20), n_moonlighting=2, plates=2, plate_sd=0.3)
    if kind == "dense":
        analyse(sim.counts, ranks=[2, 3], restarts=2)
        return
    counts = Counts(sparse.csr_array(sim.counts.to_numpy(dtype=np.float64)),
                    list(sim.counts.index), list(sim.counts.columns))
    analyse(counts, ranks=[2, 3], restarts=2)
    analyse(counts, ranks=[2, 3], restarts=2, batches=sim.plate)


if __name__ == "__main__":
    main(sys.argv[1])
