"""Shared paths and fixtures."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The exercise's table: kept outside the repository, beside the checkout.
W09_TABLE = REPO.parent / "shared" / "data" / "w09-data.tbl"


@pytest.fixture(scope="session")
def w09_table() -> Path:
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    return W09_TABLE
