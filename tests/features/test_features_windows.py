"""Tests of the window features (pandas engine): names, directions, exact values, layout."""

import builtins
import sys
from pathlib import Path

import numpy as np
import pytest

from mods.errors import ConfigError, DataError, ModsError
from mods.features import (DEFAULT_LOCAL_NETS, FEATURES, PROTOCOLS, Window, build_datapool,
                           columns, day_path, direction_codes, format_time, is_local,
                           pane_us, parse_networks, parse_window, parse_windows, window_range)
from mods.features.windows_pandas import explode

SHARED_DATAPOOL = Path(__file__).resolve().parents[3] / "shared" / "data" / "mods-datapool"
T0 = 1559347200  # 2019-06-01T00:00:00Z

HEAD = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"


def zeek_tsv(path, log_type, fields, types, rows):
    lines = [f"#path\t{log_type}", "#fields\t" + "\t".join(fields),
             "#types\t" + "\t".join(types)] + ["\t".join(map(str, r)) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD + "\n".join(lines) + "\n")
    return path


def read_rows(path):
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return header, {line.split("\t")[0]: dict(zip(header, line.split("\t"))) for line in lines[1:]}


# -------------------------------------------------------------------------------- windows
@pytest.mark.parametrize("name, canonical, length, slide", [
    ("w01h-s10m", "w01h-s10m", 3600, 600), ("w10m-s01m", "w10m-s01m", 600, 60),
    ("w10m-s10m", "w10m-s10m", 600, 600), ("w1h-s5m", "w01h-s05m", 3600, 300),
    ("w1d-s01h", "w01d-s01h", 86400, 3600), ("w30s-s15s", "w30s-s15s", 30, 15)])
def test_window_names(name, canonical, length, slide):
    assert parse_window(name) == Window(canonical, length, slide)


@pytest.mark.parametrize("name", ["w01h", "01h-s10m", "w01x-s10m", "w00m-s10m", "w10m-s00m",
                                  "w01h-s10m-x", ""])
def test_bad_window_names(name):
    with pytest.raises(ConfigError, match="bad window name"):
        parse_window(name)


def test_windows_list_and_pane():
    wins = parse_windows("w01h-s10m, w10m-s01m,w01h-s10m")
    assert [w.name for w in wins] == ["w01h-s10m", "w10m-s01m"]
    assert pane_us(wins) == 60_000_000
    assert pane_us(parse_windows("w15m-s10m")) == 300_000_000


def test_window_membership_every_window_containing_the_pane():
    win = parse_window("w01h-s10m")
    pane = 600_000_000  # 10-minute panes
    # pane 7 (01:10-01:20) lies in the windows starting 00:20, 00:30 ... 01:10 (k = 2..7)
    assert window_range(7, pane, win) == (2, 7)
    rows, k = explode(np.array([7, 0]), win, pane)
    assert k.tolist() == [2, 3, 4, 5, 6, 7, -5, -4, -3, -2, -1, 0]
    assert rows.tolist() == [0] * 6 + [1] * 6
    # a slide longer than the window leaves gaps: no window holds the pane
    gap = parse_window("w05m-s10m")
    assert window_range(1, 300_000_000, gap)[0] > window_range(1, 300_000_000, gap)[1]


# ----------------------------------------------------------------------------- directions
def test_direction_rules():
    nets = parse_networks(None)
    assert [str(n) for n in nets] == list(DEFAULT_LOCAL_NETS)
    local = [is_local(a, nets) for a in ["10.1.2.3", "172.31.255.255", "172.32.0.1",
                                          "192.168.0.1", "8.8.8.8", "-", "010.0.0.1",
                                          "10.0.0.256", "fd00::1", None]]
    assert local == [True, True, False, True, False, False, False, False, False, False]
    assert direction_codes([False, True, True, False], [True, False, True, False]).tolist() \
        == [0, 1, 2, -1]  # in, out, internal, ignored (remote -> remote)
    v6 = parse_networks("fd00::/8, 10.0.0.0/24")
    assert is_local("fd12::5", v6) and is_local("10.0.0.9", v6) and not is_local("10.0.1.9", v6)


@pytest.mark.parametrize("nets", ["10.0.0.0/33", "not-a-net", ",", "10.0.0.0/8,foo"])
def test_bad_networks(nets):
    with pytest.raises(ConfigError):
        parse_networks(nets)


# ---------------------------------------------------------------------- exact feature values
CONN_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
               "duration", "orig_bytes", "resp_bytes"]
CONN_TYPES = ["time", "string", "addr", "port", "addr", "port", "enum", "interval", "count",
              "count"]


def conn_rows():
    return [
        (T0 + 60, "C1", "203.0.113.5", 1, "10.0.0.1", 80, "tcp", "1.500000", 100, 1000),  # in
        (T0 + 120, "C2", "10.0.0.2", 1, "10.0.0.3", 22, "tcp", "0.250000", 10, 20),  # internal
        ("%.6f" % (T0 + 299.999999), "C3", "192.168.1.5", 1, "8.8.8.8", 53, "udp", "-", "-",
         "-"),                                                                       # out
        (T0 + 300, "C4", "172.16.0.1", 1, "172.31.255.255", 80, "tcp", "2.0", 5, 6),  # internal
        (T0 + 310, "C5", "203.0.113.5", 1, "8.8.8.8", 53, "udp", "9.0", 9, 9),  # remote: ignored
        (T0 + 600, "C6", "203.0.113.9", 1, "10.255.255.255", 80, "tcp", "0.5", 1, 2),  # in
        (T0 + 86399, "C7", "10.0.0.1", 1, "172.32.0.1", 443, "tcp", "3", 7, 8),  # out
    ]


def test_conn_features_exact(tmp_path):
    zeek_tsv(tmp_path / "logs" / "conn.log", "conn", CONN_FIELDS, CONN_TYPES, conn_rows())
    report = build_datapool(tmp_path / "logs", tmp_path / "pool", windows="w10m-s05m")
    path = tmp_path / "pool/tsv/conn/2019/06/01/w10m-s05m.tsv"
    assert report.files == [path] and report.records == {"conn": 7}
    assert report.used == {"conn": 6}
    header, rows = read_rows(path)
    assert header == columns("conn") and len(rows) == 288  # every 5 minutes of the day

    def row(start):
        r = rows[f"2019-06-01T{start}:00.000Z"]
        return [r[c] for c in header[1:]]

    # window 00:00-00:10: C1 (in), C3 (out, nothing but the count), C2 + C4 (internal)
    assert row("00:00") == ["2019-06-01T00:10:00.000Z", "100", "1000", "1.5", "1", "0", "0",
                            '""', "1", "15", "26", "1.125", "2"]
    # window 00:05-00:15: C4 (internal), C6 (in); C5 is remote to remote
    assert row("00:05") == ["2019-06-01T00:15:00.000Z", "1", "2", "0.5", "1", "0", "0", '""',
                            "0", "5", "6", "2.0", "1"]
    assert row("00:10")[1:5] == ["1", "2", "0.5", "1"]
    assert row("00:15")[1:] == ["0", "0", '""', "0"] * 3  # an empty window
    assert row("23:50")[5:9] == ["7", "8", "3.0", "1"] == row("23:55")[5:9]
    assert row("23:45")[5:9] == ["0", "0", '""', "0"]


DNS_FIELDS = ["ts", "uid", "id.orig_h", "id.resp_h", "proto", "query", "AA", "TC", "RD", "RA",
              "rejected"]
DNS_TYPES = ["time", "string", "addr", "addr", "enum", "string", "bool", "bool", "bool", "bool",
             "bool"]


def test_dns_flags_and_distinct_exact(tmp_path):
    rows = [
        (T0 + 10, "D1", "10.0.0.5", "10.0.0.53", "udp", "a.com", "T", "F", "T", "F", "F"),
        (T0 + 600, "D2", "10.0.0.5", "10.0.0.53", "tcp", "a.com", "F", "F", "T", "T", "F"),
        (T0 + 1200, "D3", "10.0.0.6", "10.0.0.53", "udp", "b.com", "-", "T", "F", "T", "T"),
        (T0 + 2400, "D4", "10.0.0.6", "10.0.0.53", "udp", "-", "F", "F", "F", "F", "F"),
        (T0 + 3000, "D5", "8.8.4.4", "10.0.0.53", "udp", "c.com", "T", "F", "T", "T", "F"),
    ]
    zeek_tsv(tmp_path / "logs" / "dns.log", "dns", DNS_FIELDS, DNS_TYPES, rows)
    build_datapool(tmp_path / "logs", tmp_path / "pool", windows="w01h-s30m")
    header, table = read_rows(tmp_path / "pool/tsv/dns/2019/06/01/w01h-s30m.tsv")
    assert header == columns("dns") and len(table) == 48
    first = table["2019-06-01T00:00:00.000Z"]
    internal = {k[len("internal_"):]: int(v) for k, v in first.items()
                if k.startswith("internal_")}
    assert internal == {"count_uid": 4, "distinct_query": 2, "distinct_proto": 2,
                        "AA_false": 2, "AA_true": 1, "RA_false": 2, "RA_true": 2,
                        "RD_false": 2, "RD_true": 2, "TC_false": 3, "TC_true": 1,
                        "rejected_false": 3, "rejected_true": 1}
    assert (first["in_count_uid"], first["in_distinct_query"], first["in_AA_true"],
            first["in_AA_false"]) == ("1", "1", "1", "0")
    assert {k: v for k, v in first.items() if k.startswith("out_")} == {
        f.column("out"): "0" for f in FEATURES["dns"]}
    second = table["2019-06-01T00:30:00.000Z"]
    assert (second["internal_count_uid"], second["internal_distinct_query"],
            second["internal_distinct_proto"], second["in_count_uid"]) == ("1", "0", "1", "1")


def test_json_logs_and_days(tmp_path):
    lines = ['{"ts": %d, "id.orig_h": "1.2.3.4", "id.resp_h": "10.0.0.22"}' % (T0 + 5),
             '{"ts": %d, "id.orig_h": "10.0.0.7", "id.resp_h": "10.0.0.22"}' % (T0 + 86400 + 5),
             '{"ts": %d, "id.orig_h": "10.0.0.7", "id.resp_h": "1.2.3.4"}' % (T0 + 86400 + 7)]
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "ssh.log").write_text("\n".join(lines) + "\n")
    report = build_datapool(tmp_path / "logs", tmp_path / "pool", windows="w01h-s01h")
    assert [p.relative_to(tmp_path / "pool").as_posix() for p in report.files] == [
        "tsv/ssh/2019/06/01/w01h-s01h.tsv", "tsv/ssh/2019/06/02/w01h-s01h.tsv"]
    header, day1 = read_rows(report.files[0])
    assert header == ["window_start", "window_end", "in", "out", "internal"]
    assert day1["2019-06-01T00:00:00.000Z"] == {
        "window_start": "2019-06-01T00:00:00.000Z", "window_end": "2019-06-01T01:00:00.000Z",
        "in": "1", "out": "0", "internal": "0"}
    _, day2 = read_rows(report.files[1])
    assert [day2["2019-06-02T00:00:00.000Z"][c] for c in ("in", "out", "internal")] == [
        "0", "1", "1"]
    assert len(day1) == len(day2) == 24
    assert not list((tmp_path / "pool").rglob("*.tmp"))  # atomic writes leave nothing


def test_local_nets_option(tmp_path):
    rows = [(T0 + 5, "C1", "192.168.1.5", 1, "8.8.8.8", 53, "udp", "-", "-", "-")]
    zeek_tsv(tmp_path / "logs" / "conn.log", "conn", CONN_FIELDS, CONN_TYPES, rows)
    report = build_datapool(tmp_path / "logs", tmp_path / "pool", windows="w01h-s01h",
                            local_nets="8.8.8.0/24")
    _, table = read_rows(report.files[0])
    assert table["2019-06-01T00:00:00.000Z"]["in_count_uid"] == "1"


def test_helpers_format_and_paths(tmp_path):
    assert format_time(T0 * 1_000_000 + 1500) == "2019-06-01T00:00:00.001Z"
    win = parse_window("w01h-s10m")
    assert day_path(tmp_path, "dns", win, T0 * 1_000_000) == \
        tmp_path / "tsv/dns/2019/06/01/w01h-s10m.tsv"


def test_build_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no Zeek log of conn, dns"):
        build_datapool(tmp_path / "empty", tmp_path / "pool")
    zeek_tsv(tmp_path / "logs" / "conn.log", "conn", CONN_FIELDS, CONN_TYPES, conn_rows())
    with pytest.raises(ConfigError, match="unknown engine"):
        build_datapool(tmp_path / "logs", tmp_path / "pool", engine="dask")


def test_spark_engine_without_pyspark(tmp_path, monkeypatch):
    zeek_tsv(tmp_path / "logs" / "conn.log", "conn", CONN_FIELDS, CONN_TYPES, conn_rows())
    real_import = builtins.__import__

    def no_pyspark(name, *args, **kwargs):
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError("No module named 'pyspark'")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(ModsError, match=r"spark engine needs pyspark.*pip install"):
        build_datapool(tmp_path / "logs", tmp_path / "pool", engine="spark")


# ------------------------------------------------------------------------ real datapool
@pytest.mark.skipif(not SHARED_DATAPOOL.is_dir(), reason="no shared datapool at "
                    f"{SHARED_DATAPOOL}")
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_headers_match_the_real_datapool(protocol):
    real = SHARED_DATAPOOL / "tsv" / protocol / "2019/06/01/w01h-s10m.tsv"
    with open(real) as fh:
        assert fh.readline().rstrip("\n").split("\t") == columns(protocol)


@pytest.mark.skipif(not SHARED_DATAPOOL.is_dir(), reason="no shared datapool")
def test_layout_matches_the_real_datapool(tmp_path):
    from mods.features.zeekgen import generate_logs

    generate_logs(tmp_path / "logs", days=1, scale=0.02, seed=5, compress="gz")
    build_datapool(tmp_path / "logs", tmp_path / "pool")
    ours = sorted(p.relative_to(tmp_path / "pool").as_posix()
                  for p in (tmp_path / "pool").rglob("*.tsv"))
    real = sorted(p.relative_to(SHARED_DATAPOOL).as_posix()
                  for p in SHARED_DATAPOOL.rglob("2019/06/01/*.tsv"))
    assert ours == real
    for rel in ours:
        mine = (tmp_path / "pool" / rel).read_text().splitlines()
        theirs = (SHARED_DATAPOOL / rel).read_text().splitlines()
        assert mine[0] == theirs[0]
        assert len(mine) == 145 and [r.split("\t")[0] for r in mine] == \
            [r.split("\t")[0] for r in theirs]  # the same 144 windows of the day
