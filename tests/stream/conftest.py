"""Shared data of the stream tests: a generated series with an incident, as TSV text."""

import io

import pytest

from mods.dataset.generate import generate
from mods.dataset.io import write_table

INCIDENTS = [{"type": "spike", "start": "2019-06-03T02:00:00", "duration": "40min",
              "magnitude": 10.0},
             {"type": "outage", "start": "2019-06-04T03:00:00", "duration": "2h"}]


def series_tsv(n_rows=600, drop=(), blank=()):
    """TSV text of a generated series; ``drop`` row indices removed (time gaps),
    ``blank`` (row, column) cells emptied (missing values)."""
    frame = generate(n_rows=n_rows, seed=3, incidents=INCIDENTS if n_rows >= 600 else None)
    frame = frame.astype({c: object for c in frame.columns[2:6]})
    for row, col in blank:
        frame.iat[row, 2 + col] = ""
    frame = frame.drop(index=list(drop)).reset_index(drop=True)
    buf = io.StringIO()
    write_table(frame, buf)
    return buf.getvalue()


@pytest.fixture(scope="session")
def default_model():
    """The shipped default bundle, loaded once."""
    from mods.forecast import bundle

    return bundle.load("default")
