"""Small shared helpers for the tests: generated data as TSV bytes or files."""

import io

from mods.dataset.generate import generate
from mods.dataset.io import read_table, write_table


def tsv_bytes(n_rows=300, seed=1, incidents=None, columns=None):
    """A generated series (window_start, window_end, 4 counters[, label]) as TSV bytes."""
    frame = generate(n_rows=n_rows, seed=seed, incidents=incidents, columns=columns)
    buf = io.StringIO()
    write_table(frame, buf)
    return buf.getvalue().encode()


def write_tsv(path, n_rows=300, seed=1, incidents=None):
    path.write_bytes(tsv_bytes(n_rows, seed, incidents))
    return path


def dataset(n_rows=300, seed=1, incidents=None):
    return read_table(tsv_bytes(n_rows, seed, incidents), name="gen.tsv")
