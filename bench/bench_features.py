#!/usr/bin/env python
"""Feature-building benchmark: Zeek logs -> datapool, with the pandas and the Spark engines.

Generates sample Zeek logs (:mod:`mods.features.zeekgen`, hourly rotated gzip files, seed 0,
all six protocols) for each span, then times :func:`mods.features.build_datapool` on them
with each engine: the median of ``--repeats`` runs, in log records per second. Spans:

* ``--days`` at traffic scale 1 (about 75,000 records a day), the baseline;
* one day with ``--big-conn-records`` ``conn`` records (default 5,000,000; the scale is
  chosen from :func:`mods.features.zeekgen.expected_records`), 0 to skip.

Each engine runs in its own child process, sampled every 50 ms for the resident memory of
its whole process tree (the Spark JVM included): the peak is reported, and its ratio to the
baseline span's peak shows whether memory grows with the size of the day (the pandas engine
reads the logs in batches and keeps only pane-level aggregates). Spark runs in one local
session per child (``--master``, default ``local[2]``); its start and first (cold) run are
reported apart and not counted in the median. The two engines' files are compared byte for
byte. Prints a table (and JSON with ``--json FILE``).

    .venv/bin/python bench/bench_features.py                      # 1 day + a 5M-conn day
    .venv/bin/python bench/bench_features.py --days 1,7 --big-conn-records 0
    .venv/bin/python bench/bench_features.py --engines pandas --repeats 5
"""

import argparse
import filecmp
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _same_tree(a: Path, b: Path) -> bool:
    left = sorted(p.relative_to(a) for p in a.rglob("*.tsv"))
    right = sorted(p.relative_to(b) for p in b.rglob("*.tsv"))
    return left == right and all(filecmp.cmp(a / p, b / p, shallow=False) for p in left)


# --------------------------------------------------------------------- memory sampling
def _children() -> dict:
    """Map of parent pid -> child pids, from /proc."""
    tree = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MiB."""
    tree, todo, total_kb = _children(), [pid], 0
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total_kb += int(handle.read().split()[1]) * PAGE_KB
        except OSError:
            pass
        todo.extend(tree.get(current, []))
    return total_kb / 1024


class PeakSampler(threading.Thread):
    """Samples the process tree of ``pid`` every ``interval`` seconds; ``peak_mb`` is the max."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak_mb = max(self.peak_mb, _tree_rss_mb(self.pid))
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join()


# ------------------------------------------------------------------------- child work
def _engine_runs(engine, logs, out, windows, repeats, master, queue):
    """Child process: time ``repeats`` builds (after a cold one for Spark); report via queue."""
    try:
        from mods.features import build_datapool

        spark, spark_start, cold = None, None, None
        if engine == "spark":
            from mods.features.windows_spark import session

            started = time.perf_counter()
            spark = session(master)
            spark_start = time.perf_counter() - started

        def run():
            shutil.rmtree(out, ignore_errors=True)
            started = time.perf_counter()
            build_datapool(logs, out, windows=windows, engine=engine, spark=spark)
            return time.perf_counter() - started

        if spark is not None:
            cold = run()
        seconds = [run() for _ in range(repeats)]
        if spark is not None:
            spark.stop()
        queue.put({"seconds": seconds, "cold_s": cold, "spark_start_s": spark_start})
    except BaseException as exc:  # reported to the parent, which prints it
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _measure(engine, logs, out, windows, repeats, master):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_engine_runs,
                       args=(engine, logs, out, windows, repeats, master, queue))
    proc.start()
    sampler = PeakSampler(proc.pid)
    sampler.start()
    result = queue.get()
    proc.join()
    sampler.stop()
    if "error" in result:
        raise SystemExit(f"{engine} engine failed on {logs}: {result['error']}")
    result["peak_rss_mb"] = sampler.peak_mb
    return result


# ------------------------------------------------------------------------------- bench
def bench(spans, engines, repeats, windows, master, workdir):
    from mods.features.zeekgen import generate_logs

    rows = []
    for label, days, scale in spans:
        logs = workdir / f"logs-{label}"
        started = time.perf_counter()
        gen = generate_logs(logs, days=days, seed=0, scale=scale, compress="gz")
        gen_s = time.perf_counter() - started
        size = sum(p.stat().st_size for p in logs.rglob("*.gz"))
        print(f"{label}: generated {gen.n_records:,} records ({gen.records['conn']:,} conn, "
              f"{len(gen.files)} files, {size / 2 ** 20:.0f} MiB gz) in {gen_s:.0f} s",
              flush=True)
        outs = {}
        for engine in engines:
            out = workdir / f"pool-{label}-{engine}"
            outs[engine] = out
            res = _measure(engine, logs, out, windows, repeats, master)
            median = statistics.median(res["seconds"])
            rows.append({"span": label, "days": days, "scale": round(scale, 2),
                         "engine": engine, "records": gen.n_records,
                         "conn_records": gen.records["conn"], "files": len(gen.files),
                         "gzip_mb": round(size / 2 ** 20, 1), "generate_s": round(gen_s, 1),
                         "runs_s": [round(s, 2) for s in res["seconds"]],
                         "median_s": round(median, 2),
                         "cold_s": res["cold_s"] and round(res["cold_s"], 2),
                         "spark_start_s": res["spark_start_s"]
                         and round(res["spark_start_s"], 1),
                         "records_per_s": round(gen.n_records / median),
                         "peak_rss_mb": round(res["peak_rss_mb"])})
            print(_line(rows[-1]), flush=True)
        if len(outs) == 2:
            same = _same_tree(outs["pandas"], outs["spark"])
            for row in rows[-2:]:
                row["identical_files"] = same
            print(f"  {label}: spark files identical to pandas files: {same}", flush=True)
        for out in outs.values():
            shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
    _ratios(rows, spans[0][0])
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "windows": windows,
            "repeats": repeats, "spark_master": master if "spark" in engines else None,
            "results": rows}


def _ratios(rows, base_label):
    """Print each span's throughput and peak memory against the baseline span, per engine."""
    base = {r["engine"]: r for r in rows if r["span"] == base_label}
    print(f"\nagainst the baseline span {base_label} (same engine, same run):")
    for r in rows:
        b = base.get(r["engine"])
        if b is None or r is b:
            continue
        r["records_ratio"] = round(r["records"] / b["records"], 1)
        r["throughput_ratio"] = round(r["records_per_s"] / b["records_per_s"], 2)
        r["peak_rss_ratio"] = round(r["peak_rss_mb"] / b["peak_rss_mb"], 2)
        print(f"  {r['span']:<10} {r['engine']:<6} records x{r['records_ratio']}, "
              f"records/s x{r['throughput_ratio']}, peak memory x{r['peak_rss_ratio']}")
    pandas = {r["span"]: r for r in rows if r["engine"] == "pandas"}
    for r in rows:
        if r["engine"] == "spark" and r["span"] in pandas:
            r["speed_vs_pandas"] = round(r["records_per_s"]
                                         / pandas[r["span"]]["records_per_s"], 2)
            print(f"  {r['span']:<10} spark vs pandas: records/s x{r['speed_vs_pandas']}")


def _line(r):
    cold = f", cold {r['cold_s']:.1f} s, session start {r['spark_start_s']:.1f} s" \
        if r["cold_s"] else ""
    return (f"{r['span']:<10} {r['engine']:<6} {r['records']:>10,} records: median "
            f"{r['median_s']:.2f} s of {r['runs_s']}{cold} -> {r['records_per_s']:,} "
            f"records/s, peak memory {r['peak_rss_mb']:,} MiB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", default="1",
                        help="comma-separated spans in days at traffic scale 1 (default 1); "
                        "the first is the baseline")
    parser.add_argument("--big-conn-records", type=int, default=5_000_000,
                        help="also one day with this many conn records (0: skip)")
    parser.add_argument("--engines", default="pandas,spark", help="pandas,spark")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per engine")
    parser.add_argument("--windows", default="w01h-s10m", help="windows to compute")
    parser.add_argument("--master", default="local[2]", help="Spark master")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    from mods.features.zeekgen import expected_records

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "spark" in engines:
        import importlib.util

        if importlib.util.find_spec("pyspark") is None:
            print("pyspark is not installed: timing the pandas engine only", file=sys.stderr)
            engines = [e for e in engines if e != "spark"]
    spans = [(f"{d}d", int(d), 1.0) for d in args.days.split(",") if d.strip()]
    if args.big_conn_records > 0:
        scale = args.big_conn_records / expected_records("conn") * 1.005
        spans.append((f"1d-{args.big_conn_records / 1e6:g}M", 1, scale))
    with tempfile.TemporaryDirectory(prefix="mods-bench-features-") as tmp:
        doc = bench(spans, engines, args.repeats, args.windows, args.master, Path(tmp))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
