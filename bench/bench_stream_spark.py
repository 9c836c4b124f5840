"""Benchmark of ``mods-stream-spark`` (issue 6): rows/s of the Spark Structured Streaming
job over ``--streams`` streams (local[2], directory source, one micro-batch per file), with
the single-stream scorer's rows/s measured in the same run as the baseline.

Each repeat writes ``--rows`` rows per stream in ``--files`` files into a fresh input folder
and runs the job with ``--once`` (availableNow) until it has scored everything; rows/s =
rows scored / wall time of the query (the Spark session and the bundle are warm: one
warm-up run first).  Medians over ``--repeats``.
Usage: ``python bench/bench_stream_spark.py [--streams 100] [--rows 144] [--repeats 3]``.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
COLS = ["conn_in", "conn_out", "dns_in_distinct", "ssh_in"]


def frames(streams, rows):
    from mods.dataset.generate import generate

    base = generate(n_rows=rows, seed=0)[["window_start"] + COLS]
    base["window_start"] = pd.to_datetime(base["window_start"]).dt.strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    rng = np.random.default_rng(0)
    out = []
    for i in range(streams):
        f = base.copy()
        f[COLS] = (f[COLS] * rng.uniform(0.5, 1.5)).round(2)
        f.insert(0, "sensor", "s%03d" % i)
        out.append(f)
    return out


def single_stream(fc, frame, repeats):
    from mods.stream.rows import Regulariser, parse_time
    from mods.stream.scorer import StreamScorer

    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        reg, sc = Regulariser(4, 600.0), StreamScorer(fc)
        for t, vals in zip(frame["window_start"], frame[COLS].to_numpy(dtype=float)):
            sc.push(reg.push(parse_time(t), vals))  # one row at a time, as it arrives
        rates.append(len(frame) / (time.perf_counter() - t0))
    return statistics.median(rates)


def spark_run(spark, data, files, tmp):
    from mods.stream import spark_job

    inp, out = tmp / "in", tmp / "out"
    inp.mkdir(parents=True)
    n = len(data[0])
    for j in range(files):
        lo, hi = j * n // files, (j + 1) * n // files
        part = pd.concat([f.iloc[lo:hi] for f in data], ignore_index=True)
        part.to_csv(inp / ("part%03d.tsv" % j), sep="\t", index=False)
    t0 = time.perf_counter()
    q = spark_job.start(spark, "default", str(out), str(inp), once=True,
                        max_files_per_trigger=1)
    q.awaitTermination()
    wall = time.perf_counter() - t0
    got = len(spark_job.read_results(out))
    return got, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--rows", type=int, default=144)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    from mods.tfenv import quiet_tensorflow

    quiet_tensorflow()  # before TensorFlow loads
    from mods.forecast import bundle
    from mods.stream import spark_job

    fc = bundle.load("default")
    data = frames(args.streams, args.rows)
    base = single_stream(fc, data[0], args.repeats)
    spark = spark_job.session(args.master, "mods-bench-stream-spark")
    spark.sparkContext.setLogLevel("ERROR")
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        spark_run(spark, [d.iloc[:24] for d in data[:4]], 1, Path(tmp) / "warm")
        for r in range(args.repeats):
            got, wall = spark_run(spark, data, args.files, Path(tmp) / ("r%d" % r))
            assert got == args.streams * args.rows, got
            rates.append(got / wall)
    spark.stop()
    report = {"streams": args.streams, "rows_per_stream": args.rows, "files": args.files,
              "master": args.master, "cpus": os.cpu_count(),
              "load_avg": round(os.getloadavg()[0], 2),
              "spark_rows_per_s_median": round(statistics.median(rates), 1),
              "spark_rows_per_s": [round(x, 1) for x in rates],
              "single_stream_rows_per_s_median": round(base, 1)}
    print(json.dumps(report, indent=1))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "stream_spark.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
