"""Content negotiation of predict's Accept header (mods.accept)."""

import pytest

from mods.accept import negotiate, quality

JSON, TSV, PNG = "application/json", "text/tab-separated-values", "image/png"


@pytest.mark.parametrize("header, expected", [
    (None, JSON),
    ("", JSON),
    ("*/*", JSON),
    (JSON, JSON),
    (TSV, TSV),
    (PNG, PNG),
    ("application/json, text/plain, */*", JSON),  # axios
    ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
     JSON),  # a browser: only */* matches, all at 0.8, the service's order decides
    ("text/*", TSV),
    ("image/*", PNG),
    ("image/png;q=0.9, application/json;q=0.5", PNG),
    ("*/*;q=0.1, text/tab-separated-values", TSV),
    ("APPLICATION/JSON", JSON),
    ("application/json;q=0, */*", TSV),  # refused explicitly, the rest accepted
    ("text/html", None),
    ("application/xml, text/html", None),
    ("*/*;q=0", None),
    ("garbage", JSON),  # no valid item: as if absent
    ("application/json;q=abc, text/*", TSV),  # malformed quality: that item is ignored
    ("*/json", JSON),  # invalid range: ignored, nothing valid left
])
def test_negotiate(header, expected):
    assert negotiate(header) == expected


def test_the_most_specific_range_gives_the_quality():
    header = "text/*;q=0.3, text/tab-separated-values;q=0.7, */*;q=0.1"
    assert quality(TSV, header) == 0.7
    assert quality("text/csv", header) == 0.3
    assert quality(PNG, header) == 0.1
    assert quality(PNG, "text/*") == 0.0
