#!/usr/bin/env python
"""Anomaly detection on a public labelled benchmark: the Numenta Anomaly Benchmark (NAB).

Why: the project's own generator decides what its incidents look like, so figures on it
say little about data nobody here designed.  NAB (Lavin & Ahmad 2015,
https://github.com/numenta/NAB) has real series with labelled anomaly windows: AWS
CloudWatch metrics, traffic sensors, machine temperatures, request latencies.  Nothing of it
is in this repository: point ``--nab`` (or ``NAB_DIR``) at a copy holding
``data/<category>/<name>.csv`` (``timestamp,value``) and ``labels/combined_windows.json``.

Protocol, the same for every series and with no per-series setting (the detector is meant to
need no tuning): the default model (``Params()``) and the default detector are trained on the
first ``--train-fraction`` (30 %) of the rows WITHOUT labels (an operator's recent history,
incidents included), then predict the whole series; only the rows after the training part
are counted.  A labelled window is an incident; it counts as found when an alert event
overlaps it (event recall); an alert event that overlaps no window is a false alert
(per 1,000 counted rows).  Windows that start inside the training part are not counted, nor
alerts that overlap them.  The same figures for the model-free rolling z-score (window 144,
k = 4) and the z-score's best recall at the default's false-alert rate (a sweep over k), as
in ``bench/bench_detect.py``.  Times are dropped (NAB's traffic series are irregular): rows
are in file order and the windows are mapped to rows by their timestamps.

    .venv/bin/python bench/bench_nab.py --nab /path/to/NAB           # every series found
    .venv/bin/python bench/bench_nab.py --nab /path/to/NAB --categories realKnownCause

Writes bench/results/nab.json.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mods.tfenv import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before TensorFlow loads

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench_detect import (BASELINE_K, BASELINE_WINDOW, MERGE_GAP,  # noqa: E402
                          detector_overrides, span_mask)
from mods.anomaly.alerts import merge_runs  # noqa: E402
from mods.anomaly.detector import DetectorConfig  # noqa: E402
from mods.errors import ConfigError  # noqa: E402
from mods.anomaly.scorers import rolling_zscore, rolling_zscore_baseline  # noqa: E402
from mods.dataset.io import Dataset  # noqa: E402
from mods.forecast.forecaster import Forecaster  # noqa: E402
from mods.forecast.params import Params  # noqa: E402
from mods.metrics import runs  # noqa: E402


def load_series(nab, key, windows):
    """``(values (n, 1), window row spans [(start, end)])`` of NAB series ``key``."""
    frame = pd.read_csv(Path(nab) / "data" / key)
    times = pd.to_datetime(frame["timestamp"])
    spans = []
    for start, end in windows.get(key, []):
        inside = np.flatnonzero(((times >= pd.Timestamp(start)) &
                                 (times <= pd.Timestamp(end))).to_numpy())
        if inside.size:
            spans.append((int(inside[0]), int(inside[-1])))
    return frame["value"].to_numpy(dtype=np.float64)[:, None], spans


def event_figures(alerts, spans, lo, n):
    """Found windows, counted windows, false alert events, counted rows (rows ``lo:``)."""
    counted = [(s, e) for s, e in spans if s >= lo]
    skipped = span_mask(n, [s for s, _ in spans if s < lo], [e for s, e in spans if s < lo])
    labelled = span_mask(n, [s for s, _ in counted], [e for _, e in counted])
    found = sum(bool(alerts[s:e + 1].any()) for s, e in counted)
    false = 0
    for s, e in runs(alerts[lo:].astype(int)):
        s, e = s + lo, e + lo
        if not labelled[s:e + 1].any() and not skipped[s:e + 1].any():
            false += 1
    return found, len(counted), false, n - lo


def detected_events(fc, values):
    det = fc.predict(Dataset(values=values, columns=["value"])).detection
    return span_mask(len(values), [e["start"] for e in det.events],
                     [e["end"] for e in det.events])


def evaluate(values, spans, train_fraction, seed, variants=None):
    """Figures of the default, of each detector variant and of the z-score on one series."""
    n = len(values)
    cut = int(round(n * train_fraction))
    train = Dataset(values=values[:cut], columns=["value"])
    t0 = time.perf_counter()
    fc, report = Forecaster.fit(train, Params() if seed is None else Params(seed=seed))
    train_s = time.perf_counter() - t0
    out = {"rows": n, "train_rows": cut, "train_s": train_s, "epochs": report["epochs_run"],
           "default": event_figures(detected_events(fc, values), spans, cut, n)}
    for name, overrides in (variants or {}).items():  # the same model, another detector
        fc.fit_detector(values[:cut], DetectorConfig.from_dict(overrides))
        out[name] = event_figures(detected_events(fc, values), spans, cut, n)
    z = rolling_zscore_baseline(values, window=BASELINE_WINDOW, k=BASELINE_K)
    out["zscore"] = event_figures(span_mask(n, *merge_runs(z, MERGE_GAP)), spans, cut, n)
    zz = np.nan_to_num(np.abs(rolling_zscore(values, BASELINE_WINDOW)), nan=0.0).max(axis=1)
    out["zscore_sweep"] = {
        float(k): event_figures(span_mask(n, *merge_runs(zz > k, MERGE_GAP)), spans, cut, n)
        for k in np.arange(3.0, 15.01, 0.25)}
    return out


def pooled(results, name):
    found = sum(r[name][0] for r in results.values())
    total = sum(r[name][1] for r in results.values())
    false = sum(r[name][2] for r in results.values())
    rows = sum(r[name][3] for r in results.values())
    return {"event_recall": found / total if total else None, "found": found,
            "windows": total, "false_alert_events": false,
            "false_alerts_per_1000": 1000.0 * false / rows if rows else None, "rows": rows}


def zscore_at(results, max_fa):
    """The z-score's best pooled recall over k with pooled false alerts <= ``max_fa``."""
    best = {"event_recall": 0.0, "k": None, "false_alerts_per_1000": None}
    for k in next(iter(results.values()))["zscore_sweep"]:
        found = sum(r["zscore_sweep"][k][0] for r in results.values())
        total = sum(r["zscore_sweep"][k][1] for r in results.values())
        false = sum(r["zscore_sweep"][k][2] for r in results.values())
        rows = sum(r["zscore_sweep"][k][3] for r in results.values())
        fa = 1000.0 * false / rows
        if total and fa <= max_fa and found / total > best["event_recall"]:
            best = {"event_recall": found / total, "k": k, "false_alerts_per_1000": fa}
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nab", default=os.environ.get("NAB_DIR"),
                        help="NAB folder (data/, labels/combined_windows.json); or NAB_DIR")
    parser.add_argument("--categories", default="",
                        help="comma-separated data/ subfolders (default: every one found)")
    parser.add_argument("--train-fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=None,
                        help="training seed (default: the default Params' seed)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "nab.json"))
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=V;...",
                        help="also a detector variant refitted on the same model, e.g. "
                        "dyn:method=dynamic or short:horizons=6;smoothing=6 (repeat)")
    args = parser.parse_args(argv)
    variants = {}
    for spec in args.variant:
        name, _, pairs = spec.partition(":")
        variants[name] = detector_overrides(p for p in pairs.split(";") if p)
        try:
            DetectorConfig.from_dict(variants[name])
        except ConfigError as exc:
            parser.error("--variant %s: %s" % (spec, exc))
    if not args.nab or not (Path(args.nab) / "labels" / "combined_windows.json").is_file():
        print("bench_nab: no NAB copy (give --nab DIR or NAB_DIR holding data/ and "
              "labels/combined_windows.json)", file=sys.stderr)
        return 2
    nab = Path(args.nab)
    windows = json.loads((nab / "labels" / "combined_windows.json").read_text())
    wanted = {c for c in args.categories.split(",") if c}
    keys = sorted(str(p.relative_to(nab / "data")) for p in (nab / "data").glob("*/*.csv")
                  if not wanted or p.parent.name in wanted)
    keys = [k for k in keys if k in windows]
    started = time.perf_counter()
    results = {}
    for key in keys:
        values, spans = load_series(nab, key, windows)
        results[key] = r = evaluate(values, spans, args.train_fraction, args.seed, variants)
        print("%-58s rows %5d  windows %d  default %d/%d FA %d | z-score %d/%d FA %d  (%.0f s)"
              % (key, r["rows"], len(spans), r["default"][0], r["default"][1],
                 r["default"][2], r["zscore"][0], r["zscore"][1], r["zscore"][2],
                 r["train_s"]), flush=True)
    summary = {"series": len(results), "train_fraction": args.train_fraction,
               "default": pooled(results, "default"), "zscore": pooled(results, "zscore"),
               "variants": {name: dict(pooled(results, name), overrides=variants[name])
                            for name in variants}}
    summary["zscore_at_default_false_alert_rate"] = zscore_at(
        results, summary["default"]["false_alerts_per_1000"])
    by_category = {}
    for key in results:
        by_category.setdefault(key.split("/")[0], {})[key] = results[key]
    summary["by_category"] = {c: {"default": pooled(r, "default"), "zscore": pooled(r, "zscore")}
                              for c, r in sorted(by_category.items())}
    summary["seconds"] = time.perf_counter() - started
    d, z, za = summary["default"], summary["zscore"], summary["zscore_at_default_false_alert_rate"]
    print("\n%d series, %d counted windows, %d counted rows" % (len(results), d["windows"],
                                                               d["rows"]))
    print("default model + detector: event recall %.3f, %.2f false alerts / 1000 rows"
          % (d["event_recall"], d["false_alerts_per_1000"]))
    print("rolling z-score (k=%g):   event recall %.3f, %.2f false alerts / 1000 rows"
          % (BASELINE_K, z["event_recall"], z["false_alerts_per_1000"]))
    print("z-score at the default's false-alert rate: recall %.3f (k=%s)"
          % (za["event_recall"], za["k"]))
    for name, v in summary["variants"].items():
        za = zscore_at(results, v["false_alerts_per_1000"])
        print("variant %-16s event recall %.3f, %.2f false alerts / 1000 rows (z-score at that "
              "rate: %.3f)" % (name, v["event_recall"], v["false_alerts_per_1000"],
                               za["event_recall"]))
    for c, r in summary["by_category"].items():
        print("  %-20s default %.3f / %.2f   z-score %.3f / %.2f" % (
            c, r["default"]["event_recall"] or 0, r["default"]["false_alerts_per_1000"] or 0,
            r["zscore"]["event_recall"] or 0, r["zscore"]["false_alerts_per_1000"] or 0))
    summary["results"] = {k: {kk: vv for kk, vv in v.items() if kk != "zscore_sweep"}
                          for k, v in results.items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print("wrote %s (%.0f s)" % (args.out, summary["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
