#!/usr/bin/env python
"""Feature-building benchmark: Zeek logs -> datapool, with the pandas and the Spark engines.

Generates a day and a week of sample Zeek logs (:mod:`mods.features.zeekgen`, hourly rotated
gzip files, seed 0), then times :func:`mods.features.build_datapool` on each: the median of
``--repeats`` runs per engine, in records per second. Spark runs in one local session
(``--master``, default ``local[2]``) started once; its start and its first (cold) run are
reported apart and not counted in the median. The two engines' files are compared byte for
byte. Prints a table (and JSON with ``--json FILE``).

    .venv/bin/python bench/bench_features.py                        # a day and a week
    .venv/bin/python bench/bench_features.py --days 1 --engines pandas --repeats 5
"""

import argparse
import filecmp
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _same_tree(a: Path, b: Path) -> bool:
    left = sorted(p.relative_to(a) for p in a.rglob("*.tsv"))
    right = sorted(p.relative_to(b) for p in b.rglob("*.tsv"))
    return left == right and all(filecmp.cmp(a / p, b / p, shallow=False) for p in left)


def _time_runs(run, repeats):
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return seconds


def bench(days_list, engines, repeats, scale, windows, master, workdir):
    from mods.features import build_datapool
    from mods.features.zeekgen import generate_logs

    spark, spark_start = None, None
    if "spark" in engines:
        from mods.features.windows_spark import session

        started = time.perf_counter()
        spark = session(master)
        spark_start = time.perf_counter() - started
    rows = []
    try:
        for days in days_list:
            logs = workdir / f"logs-{days}d"
            started = time.perf_counter()
            gen = generate_logs(logs, days=days, seed=0, scale=scale, compress="gz")
            gen_s = time.perf_counter() - started
            size = sum(p.stat().st_size for p in logs.rglob("*.gz"))
            outs = {}
            for engine in engines:
                out = workdir / f"pool-{days}d-{engine}"
                outs[engine] = out

                def run(engine=engine, out=out):
                    shutil.rmtree(out, ignore_errors=True)
                    return build_datapool(logs, out, windows=windows, engine=engine,
                                          spark=spark)

                cold = None
                if engine == "spark":
                    cold = _time_runs(run, 1)[0]
                seconds = _time_runs(run, repeats)
                median = statistics.median(seconds)
                rows.append({"days": days, "engine": engine, "records": gen.n_records,
                             "files": len(gen.files), "gzip_mb": round(size / 2 ** 20, 1),
                             "generate_s": round(gen_s, 2),
                             "runs_s": [round(s, 2) for s in seconds],
                             "median_s": round(median, 2), "cold_s": cold and round(cold, 2),
                             "records_per_s": round(gen.n_records / median)})
                print(_line(rows[-1]), flush=True)
            if len(outs) == 2:
                same = _same_tree(outs["pandas"], outs["spark"])
                rows[-1]["identical_to_pandas"] = same
                print(f"  {days} day(s): spark files identical to pandas files: {same}",
                      flush=True)
    finally:
        if spark is not None:
            spark.stop()
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "scale": scale,
            "windows": windows, "repeats": repeats, "spark_master": master if spark_start
            is not None else None, "spark_start_s": spark_start and round(spark_start, 1),
            "results": rows}


def _line(r):
    cold = f", cold {r['cold_s']:.1f} s" if r["cold_s"] else ""
    return (f"{r['days']:>2} day(s) {r['engine']:<6} {r['records']:>9,} records "
            f"({r['files']} files, {r['gzip_mb']} MiB gz): median {r['median_s']:.2f} s "
            f"of {r['runs_s']}{cold} -> {r['records_per_s']:,} records/s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", default="1,7", help="comma-separated spans (default 1,7)")
    parser.add_argument("--engines", default="pandas,spark", help="pandas,spark")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per engine")
    parser.add_argument("--scale", type=float, default=1.0, help="traffic scale of the logs "
                        "(1.0: about 75,000 records a day)")
    parser.add_argument("--windows", default="w01h-s10m", help="windows to compute")
    parser.add_argument("--master", default="local[2]", help="Spark master")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "spark" in engines:
        import importlib.util

        if importlib.util.find_spec("pyspark") is None:
            print("pyspark is not installed: timing the pandas engine only", file=sys.stderr)
            engines = [e for e in engines if e != "spark"]
    with tempfile.TemporaryDirectory(prefix="mods-bench-features-") as tmp:
        doc = bench([int(d) for d in args.days.split(",")], engines, args.repeats, args.scale,
                    args.windows, args.master, Path(tmp))
    if doc["spark_start_s"] is not None:
        print(f"spark session start ({args.master}): {doc['spark_start_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
