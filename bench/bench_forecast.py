#!/usr/bin/env python
"""Forecasting benchmark: every model type vs naive and seasonal naive, in one run.

Data: ../shared/data/mods-sample-w01h-s10m.tsv (first 70 % train, last 30 % test), horizons
1 and 6; plus a synthetic year of 10-minute data with 10 columns (52,560 rows) for scale.
Each configuration runs in its own process (so peak memory is its own); figures are medians
over ``--repeats`` timed predictions.  Prints a table and writes bench/results/forecast.json.

    .venv/bin/python bench/bench_forecast.py                 # everything (~10 min)
    .venv/bin/python bench/bench_forecast.py --types MLP LSTM --horizons 1
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "mods-sample-w01h-s10m.tsv"
sys.path.insert(0, str(ROOT))


def one(cfg):
    """Train and evaluate one configuration; print a JSON line."""
    from mods.tfenv import quiet_tensorflow

    quiet_tensorflow()  # before TensorFlow loads
    import numpy as np

    from mods.dataset.io import read_table
    from mods.forecast.forecaster import Forecaster
    from mods.forecast.params import Params

    if cfg["data"] == "sample":
        ds = read_table(cfg.get("path") or SAMPLE)
    else:
        from mods.dataset.generate import generate

        frame = generate(n_rows=52560, columns=10, seed=0, incidents=None)
        import io

        from mods.dataset.io import write_table

        buf = io.StringIO()
        write_table(frame, buf)
        ds = read_table(buf.getvalue().encode(), name="synthetic-year.tsv")
    params = Params(test_fraction=0.3, **cfg.get("params", {}))
    t0 = time.perf_counter()
    fc, report = Forecaster.fit(ds, params)
    train_s = time.perf_counter() - t0
    n = ds.n_rows
    test_start = n - int(n * 0.3)
    origins = np.arange(max(fc.first_origin, test_start - 1), n - 1)
    times = []
    for _ in range(cfg.get("repeats", 5)):
        t = time.perf_counter()
        fc.forecast_origins(ds.values, origins)
        times.append(time.perf_counter() - t)
    ev = report["metrics"]
    steps = {s["step"]: s for s in ev["steps"]}
    last = steps[max(steps)]
    out = {
        "label": cfg["label"], "data": cfg["data"], "model_type": params.model_type,
        "steps_ahead": params.steps_ahead, "rows": n, "columns": ds.n_features,
        "train_s": round(train_s, 2), "epochs": report["epochs_run"],
        "predict_rows": len(origins),
        "predict_rows_per_s": round(len(origins) / statistics.median(times)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    for step_name, block in (("step1", steps[1]), ("stepk", last)):
        for who in ("model", "naive", "seasonal_naive"):
            b = block.get(who) or {}
            out["%s_%s" % (step_name, who)] = {k: b.get(k) for k in ("mae", "smape", "r2")}
        naive = (block.get("naive") or {}).get("mae")
        out[step_name + "_ratio"] = (round(block["model"]["mae"] / naive, 4) if naive else None)
    print("RESULT " + json.dumps(out), flush=True)


def run_all(args):
    from mods.forecast.registry import MODEL_TYPES

    if not SAMPLE.is_file():
        sys.exit("bench: %s not found (the benchmark reads the predecessor's sample)" % SAMPLE)
    configs = []
    types = args.types or list(MODEL_TYPES)
    for k in args.horizons:
        configs.append({"label": "default", "data": "sample", "params": {"steps_ahead": k}})
        for t in types:
            configs.append({"label": t, "data": "sample",
                            "params": {"model_type": t, "steps_ahead": k}})
    if not args.no_scale:
        configs.append({"label": "default", "data": "year10", "params": {}})
    results = []
    for cfg in configs:
        cfg["repeats"] = args.repeats
        proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(cfg)],
                              capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if not line:
            print("FAILED %s: %s" % (cfg, proc.stderr[-800:]))
            continue
        res = json.loads(line[0][7:])
        results.append(res)
        print(fmt(res), flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "forecast.json").write_text(json.dumps(results, indent=1))
    print("\nwritten bench/results/forecast.json")


HEADER = ("%-14s %-7s %2s %8s %6s %11s %7s %10s %10s %9s %9s %8s %8s"
          % ("model", "data", "k", "train_s", "epochs", "pred_rows/s", "rss_MB", "MAE@1",
             "naive@1", "ratio@1", "ratio@k", "SMAPE@1", "R2@1"))


def fmt(r):
    return ("%-14s %-7s %2d %8.1f %6d %11d %7d %10.1f %10.1f %9.3f %9.3f %8.2f %8.3f"
            % (r["label"], r["data"], r["steps_ahead"], r["train_s"], r["epochs"],
               r["predict_rows_per_s"], r["peak_rss_mb"], r["step1_model"]["mae"],
               r["step1_naive"]["mae"], r["step1_ratio"], r["stepk_ratio"],
               r["step1_model"]["smape"], r["step1_model"]["r2"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--types", nargs="*", help="model types (default: all)")
    parser.add_argument("--horizons", nargs="*", type=int, default=[1, 6])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-scale", action="store_true", help="skip the synthetic year")
    args = parser.parse_args()
    if args.one:
        return one(json.loads(args.one))
    print(HEADER, flush=True)
    run_all(args)


if __name__ == "__main__":
    main()
