"""Tests of mods.features.zeek: reading Zeek TSV / JSON logs, plain or gzip, files or trees."""

import gzip
import json
import logging

import numpy as np
import pandas as pd
import pytest

from mods.errors import DataError
from mods.features import zeek

HEADER = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
          "#path\tconn", "#open\t2019-06-01-00-00-00",
          "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration"
          "\torig_bytes\tlocal_orig\ttunnel_parents",
          "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tcount\tbool"
          "\tset[string]"]
ROWS = ["1559347200.000001\tC1\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\t0.500000\t100\tT\t(empty)",
        "1559347260.5\tC2\t8.8.8.8\t53\t10.0.0.1\t5000\tudp\t-\t-\tF\ta,b",
        "1559347320.250000\tC3\t10.0.0.2\t6000\t10.0.0.3\t22\ttcp\t1.25\t7\t-\t-"]
CLOSE = "#close\t2019-06-01-01-00-00"


def write(path, lines, gz=False):
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def test_tsv_types_and_values(tmp_path):
    log = zeek.read_log(write(tmp_path / "conn.log", HEADER + ROWS + [CLOSE]))
    frame = log.frame
    assert log.source.log_type == "conn" and log.malformed == 0 and log.lines == 3
    assert list(frame.columns) == ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h",
                                   "id.resp_p", "proto", "duration", "orig_bytes",
                                   "local_orig", "tunnel_parents"]
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert frame["ts"][0] == pd.Timestamp("2019-06-01T00:00:00.000001Z")
    assert frame["ts"][1] == pd.Timestamp("2019-06-01T00:01:00.5Z")
    assert frame["id.orig_p"].dtype == np.float64 and frame["id.orig_p"][0] == 5000
    assert frame["orig_bytes"].tolist()[0] == 100 and np.isnan(frame["orig_bytes"][1])
    assert frame["duration"].dtype == np.float64 and frame["duration"][2] == 1.25
    assert np.isnan(frame["duration"][1])                    # unset -> NaN
    assert frame["local_orig"].tolist() == [True, False, pd.NA]
    assert frame["tunnel_parents"].tolist()[:2] == ["", "a,b"]  # (empty) -> ""
    assert pd.isna(frame["tunnel_parents"][2])


def test_gzip_is_recognised_by_content(tmp_path):
    plain = zeek.read_log(write(tmp_path / "conn.log", HEADER + ROWS)).frame
    packed = zeek.read_log(write(tmp_path / "conn.2019-06-01-00-00-00.log.gz", HEADER + ROWS,
                                 gz=True)).frame
    renamed = zeek.read_log(write(tmp_path / "conn.weird", HEADER + ROWS, gz=True)).frame
    pd.testing.assert_frame_equal(plain, packed)
    pd.testing.assert_frame_equal(plain, renamed)


def test_columns_subset_and_missing_field(tmp_path):
    log = zeek.read_log(write(tmp_path / "c.log", HEADER + ROWS),
                        columns=["id.orig_h", "resp_bytes", "local_orig"])
    assert list(log.frame.columns) == ["ts", "id.orig_h", "resp_bytes", "local_orig"]
    assert log.frame["resp_bytes"].isna().all() and log.frame["resp_bytes"].dtype == np.float64


def test_malformed_lines_are_counted_and_named(tmp_path, caplog):
    lines = HEADER + [ROWS[0], "garbage line", ROWS[1] + "\textra", "",
                      "not-a-time\tC9\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\t-\t-", ROWS[2]]
    with caplog.at_level(logging.WARNING, logger="mods.features"):
        log = zeek.read_log(write(tmp_path / "conn.log", lines))
    assert len(log.frame) == 2 and log.malformed == 3 and log.lines == 5
    assert [n for n, _ in log.bad_lines] == [10, 11, 13]
    message = caplog.records[-1].getMessage()
    assert "conn.log" in message and "3 malformed" in message
    assert "line 10 (1 fields, expected 11)" in message and "line 13 (missing or bad ts)" in message


def test_several_header_blocks(tmp_path):
    second = ["#separator \\x09", "#unset_field\tNONE", "#path\tconn", "#fields\tts\tid.orig_h",
              "#types\ttime\taddr", "1559350800.0\tNONE", "1559350801.0\t10.9.9.9"]
    log = zeek.read_log(write(tmp_path / "conn.log", HEADER + ROWS[:1] + [CLOSE] + second))
    assert len(log.frame) == 3 and log.malformed == 0
    assert log.frame["id.orig_h"].tolist()[0] == "10.0.0.1"
    assert pd.isna(log.frame["id.orig_h"][1]) and log.frame["id.orig_h"][2] == "10.9.9.9"
    assert pd.isna(log.frame["duration"][2])


def test_json_lines(tmp_path, caplog):
    records = [{"_path": "dns", "ts": 1559347200.25, "uid": "C1", "id.orig_h": "10.0.0.1",
                "id.resp_p": 53, "query": "a.com", "AA": True, "rtt": 0.001},
               {"ts": "2019-06-01T00:00:01.5Z", "uid": "C2", "query": "b.com", "AA": False},
               {"ts": 1559347202, "uid": "C3", "answers": ["x", "y"]}]
    lines = [json.dumps(r) for r in records] + ["{broken", "[1, 2]", '{"uid": "no ts"}', ""]
    path = tmp_path / "whatever.log"
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="mods.features"):
        log = zeek.read_log(path)
    assert log.source.fmt == "json" and log.source.log_type == "dns"
    assert log.malformed == 3 and "whatever.log" in caplog.records[-1].getMessage()
    frame = log.frame
    assert frame["ts"].tolist() == [pd.Timestamp("2019-06-01T00:00:00.25Z"),
                                    pd.Timestamp("2019-06-01T00:00:01.5Z"),
                                    pd.Timestamp("2019-06-01T00:00:02Z")]
    assert frame["AA"].tolist() == [True, False, pd.NA]
    assert frame["id.resp_p"].tolist()[0] == 53 and np.isnan(frame["id.resp_p"][1])
    assert frame["answers"].tolist()[2] == '["x","y"]'


def test_json_log_type_from_file_name(tmp_path):
    path = tmp_path / "ssh.2019-06-01-00-00-00.log.gz"
    path.write_bytes(gzip.compress(b'{"ts": 1559347200.0, "id.orig_h": "1.2.3.4"}\n'))
    assert zeek.sniff(path).log_type == "ssh"


def test_tree_of_rotated_logs(tmp_path):
    (tmp_path / "2019-06-01").mkdir()
    write(tmp_path / "2019-06-01" / "conn.2019-06-01-00-00-00.log.gz", HEADER + ROWS[:2], gz=True)
    write(tmp_path / "2019-06-01" / "conn.2019-06-01-01-00-00.log", HEADER + ROWS[2:])
    (tmp_path / "2019-06-02").mkdir()
    dns = [h.replace("conn", "dns") for h in HEADER[:5]] + [
        "#fields\tts\tquery", "#types\ttime\tstring", "1559433600.0\texample.org"]
    write(tmp_path / "2019-06-02" / "dns.00:00:00-01:00:00.log.gz", dns, gz=True)
    (tmp_path / "notes.txt").write_text("not a log, not looked at")
    (tmp_path / ".hidden.log").write_text("skipped")
    sources = zeek.scan(tmp_path)
    assert [s.log_type for s in sources] == ["conn", "conn", "dns"]
    logs = zeek.read_logs(tmp_path)
    assert sorted(logs) == ["conn", "dns"]
    assert logs["conn"]["uid"].tolist() == ["C1", "C2", "C3"]
    assert logs["dns"]["query"].tolist() == ["example.org"]
    assert list(zeek.read_logs(tmp_path, log_types=["dns"])) == ["dns"]


@pytest.mark.parametrize("content, why", [
    (b"ts\tuid\n1\t2\n", "no '#separator' header line"),
    (b"\x1f\x8b\x08\x00garbage", "unreadable"),
    (b'{"no": "ts"}\n', "no '#separator' header line"),
    (b"#separator \\x09\n#path\tconn\n1\t2\n", "no #fields line"),
])
def test_not_a_zeek_log(tmp_path, content, why):
    path = tmp_path / "conn.log"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        zeek.read_log(path)
    assert str(err.value).startswith(f"{path}: not a Zeek log") and why in str(err.value)
    with pytest.raises(DataError, match="conn.log: not a Zeek log"):
        zeek.scan(tmp_path)  # in a tree too


def test_empty_file_is_an_empty_log(tmp_path):
    path = tmp_path / "dns.2019-06-01-03-00-00.log.gz"
    path.write_bytes(gzip.compress(b"\n"))
    log = zeek.read_log(path, columns=["query"])
    assert log.source.log_type == "dns" and len(log.frame) == 0 and log.malformed == 0
    assert list(log.frame.columns) == ["ts", "query"]


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        zeek.scan(tmp_path / "nope")
