"""Tests of mods.features.zeekgen: seeded, realistic Zeek logs with incidents."""

import gzip

import numpy as np
import pandas as pd
import pytest

from mods.errors import ConfigError
from mods.features import zeek
from mods.features.zeekgen import generate_logs


def tree_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_per_seed(tmp_path):
    a = generate_logs(tmp_path / "a", days=1, seed=4, scale=0.02)
    generate_logs(tmp_path / "b", days=1, seed=4, scale=0.02)
    generate_logs(tmp_path / "c", days=1, seed=5, scale=0.02)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert tree_bytes(tmp_path / "a") != tree_bytes(tmp_path / "c")
    assert len(a.files) == 24 * 6 and a.n_records == sum(a.records.values()) > 1000
    # a day does not depend on how many days are generated
    generate_logs(tmp_path / "d", days=2, seed=4, scale=0.02)
    two = tree_bytes(tmp_path / "d")
    assert {k: v for k, v in two.items() if k.startswith("2019-06-01/")} == {
        k: v for k, v in tree_bytes(tmp_path / "a").items() if k.startswith("2019-06-01/")}


def test_rotated_files_plain_and_gzip(tmp_path):
    generate_logs(tmp_path, days=1, seed=1, scale=0.02, compress="mixed")
    names = sorted(p.name for p in (tmp_path / "2019-06-01").iterdir())
    assert "conn.2019-06-01-00-00-00.log" in names and "conn.2019-06-01-01-00-00.log.gz" in names
    text = gzip.decompress((tmp_path / "2019-06-01/dns.2019-06-01-01-00-00.log.gz").read_bytes())
    lines = text.decode().splitlines()
    assert lines[0] == "#separator \\x09" and lines[4] == "#path\tdns"
    assert lines[5] == "#open\t2019-06-01-01-00-00" and lines[-1].startswith("#close\t")
    assert [s.log_type for s in zeek.scan(tmp_path)].count("ssl") == 24


def test_daily_cycle_and_incidents(tmp_path):
    report = generate_logs(tmp_path, days=1, seed=2, scale=0.2, compress="gz")
    conn = zeek.read_logs(tmp_path, log_types=["conn"])["conn"]
    hours = conn["ts"].dt.hour.value_counts().sort_index()
    assert hours.loc[13:16].mean() > 1.8 * hours.loc[1:4].mean()  # afternoon peak
    scan, brute = report.incidents
    assert scan["type"] == "port_scan" and brute["type"] == "ssh_bruteforce"
    probes = conn[conn["id.orig_h"] == scan["source"]]
    assert len(probes) > 2000 and probes["id.resp_p"].nunique() == len(probes)
    assert probes["ts"].min() >= pd.Timestamp(scan["start"], unit="s", tz="UTC")
    ssh = zeek.read_logs(tmp_path, log_types=["ssh"])["ssh"]
    attempts = ssh[ssh["id.orig_h"] == brute["source"]]
    assert len(attempts) > 500 and not attempts["auth_success"].any()
    listed = pd.read_csv(tmp_path / "incidents.tsv", sep="\t")
    assert listed["type"].tolist() == ["port_scan", "ssh_bruteforce"]


def test_incidents_given(tmp_path):
    start = 1559347200 + 86400 + 10 * 3600  # day 2, 10:00
    report = generate_logs(tmp_path, days=2, seed=1, scale=0.01, incidents=[
        {"type": "port_scan", "start": start, "end": start + 600, "records": 300}])
    conn = zeek.read_logs(tmp_path, log_types=["conn"])["conn"]
    probes = conn[conn["id.orig_h"] == report.incidents[0]["source"]]
    assert len(probes) == 300 and probes["ts"].dt.day.unique().tolist() == [2]


def test_json_lines(tmp_path):
    generate_logs(tmp_path / "tsv", days=1, seed=3, scale=0.02, compress="plain")
    generate_logs(tmp_path / "json", days=1, seed=3, scale=0.02, compress="plain", fmt="json")
    source = zeek.sniff(tmp_path / "json/2019-06-01/dns.2019-06-01-05-00-00.log")
    assert source.fmt == "json" and source.log_type == "dns"
    cols = ["id.orig_h", "id.resp_p", "query", "AA", "rtt"]
    a = zeek.read_logs(tmp_path / "tsv", columns=cols, log_types=["dns"])["dns"]
    b = zeek.read_logs(tmp_path / "json", columns=cols, log_types=["dns"])["dns"]
    pd.testing.assert_frame_equal(a, b)
    assert np.isfinite(a["rtt"]).mean() > 0.9


@pytest.mark.parametrize("kwargs, message", [
    ({"start": "June 1st"}, "bad start date"), ({"days": 0}, "bad number of days"),
    ({"scale": 0}, "bad scale"), ({"fmt": "xml"}, "bad format"),
    ({"compress": "zip"}, "bad compression"), ({"log_types": ["smtp"]}, "unknown log type"),
    ({"incidents": [{"type": "ddos", "start": 0, "end": 60}]}, "bad incident")])
def test_bad_options(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        generate_logs(tmp_path, **kwargs)


def test_expected_records_matches_what_is_generated(tmp_path):
    """expected_records is the mean of the Poisson draws: the bench picks its scale with it."""
    from mods.features.zeekgen import expected_records

    mean = expected_records("conn", start="2019-06-03", days=1, scale=0.25)
    assert mean == pytest.approx(4000 * 0.25 * 16.8)  # a weekday: no weekend factor
    report = generate_logs(tmp_path, start="2019-06-03", days=1, scale=0.25, incidents=False,
                           log_types=["conn"], compress="plain")
    assert abs(report.records["conn"] - mean) < 5 * mean ** 0.5
    assert expected_records("conn", start="2019-06-01") == pytest.approx(0.6 * 4000 * 16.8)
    with pytest.raises(ConfigError, match="unknown log type"):
        expected_records("smtp")
