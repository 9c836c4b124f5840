"""Online scoring of data streams: the ``mods-stream`` command and its parts.

:mod:`mods.stream.rows`
    parse feature lines (TSV/CSV) and put rows on the model's regular time grid (gaps and
    missing cells filled exactly as :func:`mods.dataset.io.read_table` fills them).
:mod:`mods.stream.scorer`
    the incremental forecaster + detector state (:class:`~mods.stream.scorer.StreamScorer`):
    one JSON-able result per time step, equal to the batch ``predict`` on the same rows.
:mod:`mods.stream.sources`
    stdin, a followed file (``tail -F``, surviving rotation) and TCP sockets.
:mod:`mods.stream.webhook`
    alert events POSTed to a URL from a background thread, with retries.
:mod:`mods.stream.cli`
    the ``mods-stream`` command.

Nothing here is imported by :mod:`mods` itself, and importing it starts nothing.
"""
