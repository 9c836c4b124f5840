"""The Spark Structured Streaming job in local mode (directory source): per stream, the
results equal the single-stream scorer on the same rows; the state survives micro-batches
(serialised in the GroupState) and a restart from the checkpoint."""

import io
import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from mods.stream import spark_job  # noqa: E402
from mods.stream.rows import Regulariser, parse_time  # noqa: E402
from mods.stream.scorer import StreamScorer  # noqa: E402
from tests.stream.conftest import series_tsv  # noqa: E402

COLS = ["conn_in", "conn_out", "dns_in_distinct", "ssh_in"]
STREAMS = {"s1": 1.0, "s2": 1.3, "s3": 0.7}


@pytest.fixture(scope="module")
def spark():
    session = spark_job.session("local[2]", "mods-test-stream-spark")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def stream_frames(n_rows=320):
    base = pd.read_csv(io.StringIO(series_tsv(n_rows)), sep="\t")
    out = {}
    for name, factor in STREAMS.items():
        f = base[["window_start"] + COLS].copy()
        f[COLS] = (f[COLS] * factor).round(3)
        f.insert(0, "sensor", name)
        out[name] = f
    return out


def single_stream(fc, frame, stream):
    reg = Regulariser(len(fc.columns), fc.info["freq_seconds"])
    rows = []
    for t, vals in zip(frame["window_start"], frame[COLS].to_numpy(dtype=float)):
        rows += reg.push(parse_time(t), vals)
    return StreamScorer(fc, stream=stream).push(rows)


def write_part(folder, name, frames, lo, hi):
    part = pd.concat([f.iloc[lo:hi] for f in frames.values()], ignore_index=True)
    tmp = folder.parent / (name + ".tmp")
    part.to_csv(tmp, sep="\t", index=False)
    tmp.rename(folder / name)  # appear atomically, as the file source expects


def compare(got, want):
    assert [r["row"] for r in got] == list(range(len(want)))
    assert [r["time"] for r in got] == [r["time"] for r in want]
    assert [r["level"] for r in got] == [r["level"] for r in want]
    np.testing.assert_allclose([r["score"] for r in got], [r["score"] for r in want],
                               atol=2e-6)
    f_got = np.array([[np.nan if v is None else v for v in r["forecast"].values()]
                      for r in got])
    f_want = np.array([[np.nan if v is None else v for v in r["forecast"].values()]
                       for r in want])
    np.testing.assert_allclose(f_got, f_want, rtol=1e-5, atol=1e-6)
    assert [r["actual"] for r in got] == [r["actual"] for r in want]
    assert [r.get("event") for r in got] == [r.get("event") for r in want]


def test_spark_streams_equal_single_stream_scorer(spark, tmp_path, default_model):
    frames = stream_frames()
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    write_part(inp, "a.tsv", frames, 0, 100)
    write_part(inp, "b.tsv", frames, 100, 200)
    query = spark_job.start(spark, "default", str(out), str(inp), once=True,
                            max_files_per_trigger=1)
    query.awaitTermination(timeout=120)
    assert query.lastProgress is not None
    # more rows later: a restarted job goes on from the checkpoint's state
    write_part(inp, "c.tsv", frames, 200, 320)
    query = spark_job.start(spark, "default", str(out), str(inp), once=True)
    query.awaitTermination(timeout=120)
    results = spark_job.read_results(out)
    assert len(results) == 320 * len(STREAMS)
    for name, frame in frames.items():
        got = sorted((r for r in results if r["stream"] == name), key=lambda r: r["row"])
        compare(got, single_stream(default_model, frame, name))
    events = [json.loads(line) for p in sorted((out / "events").glob("part-*"))
              for line in p.read_text().splitlines()]
    want = sum(1 for r in results if "event" in r)
    assert len(events) == want
    assert all(e["model_name"] == "default" and e["stream"] in STREAMS for e in events)


def test_state_round_trip_without_the_model(default_model):
    frame = stream_frames(80)["s2"]
    reg = Regulariser(4, 600.0)
    rows = []
    for t, vals in zip(frame["window_start"], frame[COLS].to_numpy(dtype=float)):
        rows += reg.push(parse_time(t), vals)
    a = StreamScorer(default_model, stream="s2")
    a.push(rows[:50])
    blob = spark_job.dump_state(reg, a)
    assert len(blob) < 200_000  # the model is not in the state
    template = StreamScorer(default_model)
    _, b = spark_job.load_state(blob, template)
    assert b.fc is default_model and b.forecasts.model_call is template.forecasts.model_call
    assert b.push(rows[50:]) == a.push(rows[50:])


def test_cli_bad_input_exits_2(tmp_path, capsys):
    assert spark_job.main(["--model-name", "default", "--input", str(tmp_path / "nope"),
                           "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such input folder" in err[0]
