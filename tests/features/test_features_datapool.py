"""Tests of mods.dataset.datapool: the selection query, time ranges, reading and joining."""

from pathlib import Path

import pandas as pd
import pytest

from mods.dataset.datapool import (Query, TimeRange, parse_query, parse_ranges, select,
                                   to_tsv_bytes)
from mods.dataset.io import read_table
from mods.errors import ConfigError, DataError
from mods.features import build_datapool
from mods.features.zeekgen import generate_logs

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SHARED_DATAPOOL = SHARED / "mods-datapool"
QUERY = ("conn|in_count_uid~conn_in|out_count_uid~conn_out;dns|in_distinct_query~"
         "dns_in_distinct;ssh|in~ssh_in#window_start,window_end")
needs_shared = pytest.mark.skipif(not SHARED_DATAPOOL.is_dir(),
                                  reason=f"no shared datapool at {SHARED_DATAPOOL}")


# ---------------------------------------------------------------------------------- query
def test_parse_query():
    q = parse_query(QUERY)
    assert [p.protocol for p in q.protocols] == ["conn", "dns", "ssh"]
    assert q.protocols[0].columns == (("in_count_uid", "conn_in"),
                                      ("out_count_uid", "conn_out"))
    assert q.protocols[2].columns == (("in", "ssh_in"),)
    assert q.join == ("window_start", "window_end")
    assert q.names == ["conn_in", "conn_out", "dns_in_distinct", "ssh_in"]
    spaced = parse_query(" conn | in_count_uid ~ a ; ssh|in ; # window_start ")
    assert spaced == Query((spaced.protocols[0], spaced.protocols[1]), ("window_start",))
    assert spaced.names == ["a", "in"]  # no ~: the name is kept


@pytest.mark.parametrize("query, message", [
    ("", "empty"), ("conn", "no column selected for conn"), (";;", "no protocol"),
    ("conn|in_count_uid~", "bad column"), ("co nn|x", "bad protocol name"),
    ("http|in;ssh|in", "'in' selected twice"), ("conn|window_start", "selected twice")])
def test_bad_queries(query, message):
    with pytest.raises(DataError, match=message):
        parse_query(query)


# --------------------------------------------------------------------------------- ranges
def test_parse_ranges():
    (r,) = parse_ranges("<2019-06-01,2019-06-03)")
    assert r == TimeRange(pd.Timestamp("2019-06-01"), pd.Timestamp("2019-06-03"), True, False)
    t = pd.DatetimeIndex(["2019-05-31T23:50", "2019-06-01", "2019-06-02T23:50", "2019-06-03"])
    assert r.contains(t).tolist() == [False, True, True, False]
    (o,) = parse_ranges("(2019-06-01,2019-06-03>")
    assert o.contains(t).tolist() == [False, False, True, True]
    many = parse_ranges("<2019-06-01,2019-06-02) ; (2019-06-05T12:00, ], [2019-06-07 01:30:00,"
                        "2019-06-08]")
    assert len(many) == 3 and many[1].end is None and many[1].start_closed is False
    assert many[2].start == pd.Timestamp("2019-06-07T01:30") and many[2].end_closed
    assert parse_ranges(["<2019-06-01,2019-06-02)", many[1]])[1] is many[1]
    assert parse_ranges(None) == [] and parse_ranges("") == []


@pytest.mark.parametrize("spec, message", [
    ("2019-06-01 -- 2019-06-02", r"expected <start,end\)"),
    ("<2019-06-01,2019-06-03", r"expected <start,end\)"),
    ("<2019-06-01;2019-06-03)", r"expected <start,end\)"),
    ("<2019-06-01,2019-06-03) junk", "'junk'"),
    ("<2019-13-01,2019-06-03)", "bad date '2019-13-01'"),
    ("<01/06/2019,2019-06-03)", "bad date '01/06/2019'"),
    ("<2019-06-03,2019-06-01)", "empty"),
    ("(2019-06-01,2019-06-01>", "empty")])
def test_bad_ranges(spec, message):
    with pytest.raises(DataError, match=message):
        parse_ranges(spec)


# ------------------------------------------------------------------ the shared datapool
def real_column(protocol, day, column):
    path = SHARED_DATAPOOL / "tsv" / protocol / f"2019/06/{day:02d}/w01h-s10m.tsv"
    return pd.read_csv(path, sep="\t")[column]


@needs_shared
def test_select_on_the_real_datapool():
    frame = select(SHARED_DATAPOOL, QUERY, ranges="<2019-06-01,2019-06-03)")
    assert list(frame.columns) == ["window_start", "window_end", "conn_in", "conn_out",
                                   "dns_in_distinct", "ssh_in"]
    assert len(frame) == 288 and frame["window_start"].is_monotonic_increasing
    assert frame["window_start"].iloc[0] == pd.Timestamp("2019-06-01")
    assert frame["window_start"].iloc[-1] == pd.Timestamp("2019-06-02T23:50")
    assert frame["conn_in"].tolist()[:144] == real_column("conn", 1, "in_count_uid").tolist()
    assert frame["ssh_in"].tolist()[144:] == real_column("ssh", 2, "in").tolist()
    assert str(frame["conn_in"].dtype) == "Int64"
    # the bytes read back as a training table
    data = read_table(to_tsv_bytes(frame), name="selection.tsv")
    assert data.columns == ["conn_in", "conn_out", "dns_in_distinct", "ssh_in"]
    assert data.n_rows == 288 and data.values[0, 0] == 50091


@needs_shared
def test_select_excludes_renames_and_joins():
    frame = select(SHARED_DATAPOOL / "tsv", "conn|in_sum_resp_bytes~resp_mb;"
                   "sip|in_distinct_id.orig_h~sip_hosts|out_count_uid",
                   ranges="<2019-06-02,)", exclude="<2019-06-02T06:00,2019-06-03)")
    assert frame["window_start"].min() == pd.Timestamp("2019-06-02")
    assert not ((frame["window_start"] >= "2019-06-02T06:00")
                & (frame["window_start"] < "2019-06-03")).any()
    conn = real_column("conn", 2, "in_sum_resp_bytes")
    assert frame["resp_mb"].iloc[0] == conn.iloc[0] // 2 ** 20  # _mb: whole MiB
    # "" cells of the datapool are missing values: sip has 6 outgoing counts on these days
    assert frame["out_count_uid"].notna().sum() == 6 and len(frame) == 36 + 139
    # sip lacks some windows on 06-03: the inner join drops them, the outer one keeps them
    outer = select(SHARED_DATAPOOL, "conn|in_count_uid;sip|in_count_uid~sip_in",
                   ranges="<2019-06-03,2019-06-04)", how="outer")
    inner = select(SHARED_DATAPOOL, "conn|in_count_uid;sip|in_count_uid~sip_in",
                   ranges="<2019-06-03,2019-06-04)")
    assert len(outer) == 144 and len(inner) == 139 and outer["sip_in"].isna().sum() == 5


@needs_shared
@pytest.mark.parametrize("query, kwargs, message", [
    ("nope|in", {}, r"unknown protocol 'nope' \(datapool .* has: conn, dns, http, sip, ssh, "
                    r"ssl\)"),
    ("conn|in_bogus", {}, r"conn has no column 'in_bogus' \(columns: in_sum_orig_bytes"),
    ("conn|in_count_uid#window_begin", {}, "join column 'window_begin'"),
    ("conn|in_count_uid", {"window": "w10m-s10m"}, "no w10m-s10m files"),
    ("conn|in_count_uid", {"ranges": "<2020-01-01,2020-02-01)"}, "no w01h-s10m data"),
    ("conn|in_count_uid", {"ranges": "<2019-06-01,2019-06-02"}, r"expected <start,end\)"),
])
def test_select_errors(query, kwargs, message):
    with pytest.raises(DataError, match=message):
        select(SHARED_DATAPOOL, query, **kwargs)


def test_select_bad_folder_and_window(tmp_path):
    with pytest.raises(DataError, match="no such datapool folder"):
        select(tmp_path / "missing", QUERY)
    with pytest.raises(ConfigError, match="bad window name"):
        select(tmp_path, QUERY, window="hourly")


# ----------------------------------------------------------- a datapool of our own making
@pytest.fixture(scope="module")
def own_pool(tmp_path_factory):
    base = tmp_path_factory.mktemp("own")
    generate_logs(base / "logs", days=2, scale=0.03, seed=11, compress="mixed")
    build_datapool(base / "logs", base / "pool", windows="w01h-s10m,w10m-s10m")
    return base / "pool"


def test_select_on_our_datapool(own_pool):
    frame = select(own_pool, QUERY, ranges="(2019-06-01T12:00,2019-06-02T12:00>")
    assert len(frame) == 144 and frame["window_start"].iloc[0] == pd.Timestamp(
        "2019-06-01T12:10")
    assert frame["window_start"].iloc[-1] == pd.Timestamp("2019-06-02T12:00")
    day = pd.read_csv(own_pool / "tsv/ssh/2019/06/02/w01h-s10m.tsv", sep="\t")
    assert frame["ssh_in"].tolist()[-73:] == day["in"].tolist()[:73]
    assert not frame.isna().any().any()  # every window is present, counts are 0 at worst
    tumbling = select(own_pool, "http|in~http_in|out", window="w10m-s10m")
    assert len(tumbling) == 288
    assert (tumbling["window_end"] - tumbling["window_start"] == pd.Timedelta("10min")).all()
    data = read_table(to_tsv_bytes(tumbling), name="http.tsv")
    assert data.columns == ["http_in", "out"] and data.filled_rows == 0
