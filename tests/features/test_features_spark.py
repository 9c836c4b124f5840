"""The Spark engine writes exactly the same files as the pandas engine (byte for byte).

One local Spark session for the whole module (starting Spark takes seconds) and small logs:
TSV (plain and gzip, a file name with colons, a second header layout with IPv6 addresses,
malformed lines) and JSON lines (with malformed lines too).
"""

import gzip
import json

import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'pyspark>=3.5'):"
                    " the Spark engine cannot be compared with the pandas engine")

from mods.features import build_datapool  # noqa: E402
from mods.features.cli import main  # noqa: E402
from mods.features.zeekgen import generate_logs  # noqa: E402

pytestmark = pytest.mark.slow

T0 = 1559347200  # 2019-06-01T00:00:00Z
NETS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fd00::/8"
WINDOWS = "w01h-s10m,w15m-s05m"


@pytest.fixture(scope="module")
def spark():
    from mods.features.windows_spark import session

    spark = session("local[2]")
    yield spark
    spark.stop()


def _append(path, lines):
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark") / "logs"
    generate_logs(root, days=1, seed=21, scale=0.03, compress="mixed")
    generate_logs(root / "json", start="2019-06-02", days=1, seed=22, scale=0.02, fmt="json",
                  compress="mixed", incidents=False, log_types=["dns", "sip", "ssh"])
    day = root / "2019-06-01"
    # Zeek's own archive names have colons
    (day / "ssl.2019-06-01-02-00-00.log").rename(day / "ssl.02:00:00-03:00:00.log")
    # malformed lines: wrong field counts, a bad time; then a valid line after them
    conn = day / "conn.2019-06-01-04-00-00.log"
    good = [line for line in conn.read_text().splitlines() if not line.startswith("#")][0]
    _append(conn, ["garbage", good + "\textra", "x" + good, good.replace("\t", "\t\t", 1), good])
    _append(root / "json/2019-06-02/dns.2019-06-02-06-00-00.log",
            ["{broken", "[1, 2]", '{"query": "no.ts"}', '{"ts": "yesterday"}',
             json.dumps({"ts": T0 + 86400 + 6 * 3600 + 1.5, "id.orig_h": "10.0.0.9",
                         "id.resp_h": "10.0.10.53", "query": "late.example", "AA": True,
                         "proto": "udp", "rejected": False})])
    # another layout of conn logs: fewer fields, IPv6 addresses, unset values
    v6 = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)",
          "#unset_field\t-", "#path\tconn", "#fields\tts\tid.orig_h\tid.resp_h\tduration",
          "#types\ttime\taddr\taddr\tinterval",
          f"{T0 + 100}.000000\tfd00::1\t2001:db8::7\t0.123457",
          f"{T0 + 200}.000000\t2001:db8::7\tfd12:3456::9\t-",
          f"{T0 + 300}.500000\tfd00::1\tfd00::2\t1.000001",
          f"{T0 + 400}.000000\t2001:db8::7\t2001:db8::8\t9.0"]
    (root / "v6").mkdir()
    (root / "v6" / "conn.v6.log.gz").write_bytes(gzip.compress(("\n".join(v6) + "\n").encode()))
    return root


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.tsv"))}


def test_spark_and_pandas_write_identical_files(spark, logs, tmp_path):
    by_pandas = build_datapool(logs, tmp_path / "pandas", windows=WINDOWS, local_nets=NETS)
    by_spark = build_datapool(logs, tmp_path / "spark", windows=WINDOWS, local_nets=NETS,
                              engine="spark", spark=spark)
    assert by_pandas.malformed == by_spark.malformed == 8
    assert by_pandas.records == by_spark.records and by_pandas.used == by_spark.used
    ours, theirs = tree(tmp_path / "pandas"), tree(tmp_path / "spark")
    assert len(ours) == 6 * 2 * 2  # 6 protocols, 2 windows, 2 days
    assert sorted(ours) == sorted(theirs)
    different = [name for name in ours if ours[name] != theirs[name]]
    assert not different, different
    # the IPv6 records count: internal fd00::1 -> fd00::2, out fd00::1 -> 2001:db8::7 ...
    first = (tmp_path / "spark/tsv/conn/2019/06/01/w15m-s05m.tsv").read_text().splitlines()
    assert first[1].startswith("2019-06-01T00:00:00.000Z\t2019-06-01T00:15:00.000Z\t")


def test_spark_engine_from_the_command_line(spark, logs, tmp_path, capsys):
    # the running session is used (and left running)
    assert main(["--logs", str(logs / "json"), "--out", str(tmp_path / "pool"), "--engine",
                 "spark", "--windows", "w10m-s10m", "--quiet"]) == 0
    assert "(spark: " in capsys.readouterr().out
    assert (tmp_path / "pool/tsv/sip/2019/06/02/w10m-s10m.tsv").is_file()
    assert spark.range(3).count() == 3
