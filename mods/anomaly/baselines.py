"""Synthetic incident benchmark for the anomaly layer, and the model-free baseline.

:func:`synthetic_series` builds forecasts and actual values whose residuals look like those of
a forecaster on MODS's network counters: 1-hour windows sliding by 10 minutes make the
residual a moving sum of ``window = 6`` heavy-tailed (Student-t) innovations, partly common
to all columns, with column magnitudes spread over six orders of magnitude.  The test part
holds injected incidents of five kinds:

``spike``          a 10-20 minute burst in 1-3 columns (5-10 sigma once windowed);
``level_shift``    a lasting change in 1-3 columns: the forecaster on differenced data
                   follows it after a while, so the residual ramps up over one window and
                   then decays (time constant 6-24 rows) from 4-8 sigma;
``outage``         every column drops by 50-100 % for 10 minutes to 3 hours (a large
                   negative residual, 1/6 of it when the outage covers one 10-minute bin);
``drift``          a residual growing linearly to 4-7 sigma over 12-36 hours in 1-2 columns,
                   then fixed;
``single_column``  one column off by 4-7 sigma for 1-6 hours.

:func:`evaluate` counts incident recall (an incident is found when an event overlaps it, up
to ``tolerance`` rows after its end) and false alert events (events overlapping no incident)
per 1,000 steps; :func:`benchmark` runs every threshold method and the
:func:`~mods.anomaly.scorers.rolling_zscore_baseline` over several seeds.  Run
``python -m mods.anomaly.baselines`` for the table.

Caveat: these residuals are kinder than a real forecaster's.  Their columns share one tail
shape and the validation part is clean; the residuals of an MLP forecaster on
:mod:`mods.dataset.generate` series have bursty columns, incidents inside the validation
rows, and incidents the forecaster follows, and the same one-step detector finds about 63 %
of their incidents at the same false alert rate; the multi-horizon channels raise that
(figures in :mod:`mods.anomaly.detector`, ``bench/bench_detect.py``).
"""

import math
import time

import numpy as np

from mods.anomaly.alerts import merge_runs
from mods.anomaly.scorers import rolling_zscore_baseline

INCIDENT_KINDS = ("spike", "level_shift", "outage", "drift", "single_column")


def _moving_sum(x, window):
    c = np.cumsum(x, axis=0)
    out = c[window - 1:].copy()
    out[1:] -= c[:-window]
    return out


def _window_shape(pulse, window):
    """Windowed (moving-average over ``window`` rows) version of an underlying pulse."""
    padded = np.concatenate((np.zeros(window - 1), pulse, np.zeros(window - 1)))
    return np.convolve(padded, np.ones(window) / window, mode="valid")[:pulse.size + window - 1]


def synthetic_series(n_val=3000, n_test=10000, n_columns=10, seed=0, df=4.0, window=6,
                     common=0.3, incident_every=400, nan_rows=12):
    """Validation + test data with residuals like a forecaster's and injected incidents.

    Parameters
    ----------
    n_val, n_test : int
        Rows of the clean validation part and of the test part.
    n_columns : int
    seed : int
    df : float
        Degrees of freedom of the Student-t innovations (heavier tails when smaller).
    window : int
        Rows per aggregation window (the residual is a moving sum of that many innovations).
    common : float
        Share of the innovation variance common to all columns.
    incident_every : int
        Average rows between two incident onsets.
    nan_rows : int
        Leading rows of each part without forecast (NaN), like the first ``sequence_len``
        rows a forecaster cannot forecast.

    Returns
    -------
    dict
        ``val_actual``, ``val_forecast`` (n_val, f), ``actual``, ``forecast`` (n_test, f),
        ``sigma`` (f,), ``incidents``: list of dicts ``kind``, ``start``, ``end`` (test
        rows, inclusive), ``columns``.
    """
    rng = np.random.default_rng(seed)
    f = n_columns
    total = n_val + n_test
    t = np.arange(total)[:, None]
    level = 10.0 ** rng.uniform(1, 7, f)
    phase = rng.uniform(0, 2 * np.pi, (2, f))
    forecast = level * (1.0 + 0.3 * np.sin(2 * np.pi * t / 144 + phase[0])
                        + 0.1 * np.sin(2 * np.pi * t / 1008 + phase[1]))
    sigma = level * rng.uniform(0.01, 0.05, f)
    innov = (math.sqrt(1 - common) * rng.standard_t(df, (total + window - 1, f))
             + math.sqrt(common) * rng.standard_t(df, (total + window - 1, 1)))
    innov /= math.sqrt(df / (df - 2.0) * window)
    resid = _moving_sum(innov, window) * sigma
    actual = forecast + resid

    incidents = []
    test_resid = np.zeros((n_test, f))
    cursor = 100
    while True:
        start = cursor + int(rng.integers(incident_every // 3, incident_every * 5 // 3))
        kind = INCIDENT_KINDS[len(incidents) % len(INCIDENT_KINDS)]
        if kind == "spike":
            cols = rng.choice(f, min(f, int(rng.integers(1, 4))), replace=False)
            burst = int(rng.integers(1, 3))
            shape = _window_shape(np.ones(burst), window) * window / burst  # peak 1
            amp = rng.uniform(5, 10, cols.size) * rng.choice([-1, 1], cols.size, p=[.2, .8])
        elif kind == "level_shift":
            cols = rng.choice(f, min(f, int(rng.integers(1, 4))), replace=False)
            tau = rng.uniform(6, 24)
            amp = rng.uniform(4, 8, cols.size) * rng.choice([-1, 1], cols.size)
            k = np.arange(int(window + tau * math.log(8.0)))
            shape = np.minimum(k + 1, window) / window * np.exp(-np.maximum(k - window + 1, 0)
                                                                   / tau)
        elif kind == "outage":
            cols = np.arange(f)
            dur = int(rng.integers(1, 19))
            shape = _window_shape(np.ones(dur), window)
            amp = None  # relative to the forecast, below
            drop = rng.uniform(0.5, 1.0)
        elif kind == "drift":
            cols = rng.choice(f, min(f, int(rng.integers(1, 3))), replace=False)
            length = int(rng.integers(72, 217))
            shape = np.arange(1, length + 1) / length
            amp = rng.uniform(4, 7, cols.size) * rng.choice([-1, 1], cols.size)
        else:  # single_column
            cols = rng.choice(f, 1, replace=False)
            dur = int(rng.integers(6, 37))
            shape = _window_shape(np.ones(dur), window)
            amp = rng.uniform(4, 7, 1) * rng.choice([-1, 1], 1)
        end = start + shape.size - 1
        if end >= n_test - 50:
            break
        rows = slice(start, end + 1)
        if kind == "outage":
            test_resid[rows, :] -= drop * shape[:, None] * forecast[n_val + start:n_val + end + 1]
        else:
            test_resid[rows, cols] += shape[:, None] * amp * sigma[cols]
        incidents.append({"kind": kind, "start": int(start), "end": int(end),
                          "columns": [int(c) for c in np.sort(cols)]})
        cursor = end
    val_forecast = forecast[:n_val].copy()
    test_forecast = forecast[n_val:].copy()
    val_forecast[:nan_rows] = np.nan
    test_forecast[:nan_rows] = np.nan
    return {"val_actual": actual[:n_val], "val_forecast": val_forecast,
            "actual": actual[n_val:] + test_resid, "forecast": test_forecast,
            "sigma": sigma, "incidents": incidents}


def evaluate(spans, incidents, n_steps, tolerance=6):
    """Event-level recall and false alerts of detected ``spans`` against incidents.

    Parameters
    ----------
    spans : list of (start, end)
        Detected events (inclusive rows), e.g. ``[(e["start"], e["end"]) for e in events]``.
    incidents : list of dict
        With ``start``, ``end`` (inclusive) and ``kind``.
    n_steps : int
        Rows evaluated (for the false-alert rate).
    tolerance : int, default 6
        Rows after an incident's end during which an event still counts as finding it.

    Returns
    -------
    dict
        ``recall``, ``recall_by_kind``, ``false_events``, ``false_per_1000``, ``events``,
        ``median_delay`` (rows from incident start to the first overlapping event's start,
        0 when it starts before).
    """
    spans = [(int(s), int(e)) for s, e in spans]
    found, delays, by_kind = 0, [], {}
    used = np.zeros(len(spans), dtype=bool)
    for inc in incidents:
        lo, hi = inc["start"], inc["end"] + tolerance
        hits = [i for i, (s, e) in enumerate(spans) if s <= hi and e >= lo]
        ok = bool(hits)
        if ok:
            found += 1
            used[hits] = True
            delays.append(max(0, spans[hits[0]][0] - inc["start"]))
        k = by_kind.setdefault(inc["kind"], [0, 0])
        k[0] += ok
        k[1] += 1
    false = int((~used).sum())
    return {"recall": found / len(incidents) if incidents else float("nan"),
            "recall_by_kind": {k: v[0] / v[1] for k, v in by_kind.items()},
            "false_events": false, "false_per_1000": 1000.0 * false / n_steps,
            "events": len(spans),
            "median_delay": float(np.median(delays)) if delays else float("nan")}


DEFAULT_RUNS = ("rate", "quantile", "ksigma", "dynamic",
                ("dynamic+window", {"method": "dynamic", "dynamic_window": 2016}))


def benchmark(methods=DEFAULT_RUNS, seeds=range(5), overrides=None,
              baseline_k=4.0, merge_gap=3, **synthetic):
    """Run the detector (each threshold method) and the baseline on synthetic data.

    Parameters
    ----------
    methods : sequence of str or (label, dict)
        Threshold methods, or ``(label, options)`` pairs of detector options.
    seeds : iterable of int
    overrides : dict, optional
        Extra :class:`~mods.anomaly.detector.DetectorConfig` options for every method.
    baseline_k : float
        ``k`` of the rolling z-score baseline.
    merge_gap : int
        Gap joining the baseline's flagged steps into events (the detector uses its own).
    **synthetic
        Arguments of :func:`synthetic_series`.

    Returns
    -------
    dict
        ``{name: {"recall", "false_per_1000", "recall_by_kind", "min_recall",
        "max_false_per_1000", "detect_seconds"}}`` averaged over seeds.
    """
    from mods.anomaly.detector import Detector, DetectorConfig

    results = {}
    runs_ = [(m, {"method": m}) if isinstance(m, str) else (m[0], dict(m[1])) for m in methods]
    baseline = "rolling_zscore_baseline(k=%g)" % baseline_k
    names = [label for label, _ in runs_] + [baseline]
    per = {name: [] for name in names}
    for seed in seeds:
        data = synthetic_series(seed=seed, **synthetic)
        n = data["actual"].shape[0]
        for method, options in runs_:
            cfg = DetectorConfig.from_dict(dict(overrides or {}, **options))
            det = Detector(cfg).fit(data["val_actual"], data["val_forecast"])
            t0 = time.perf_counter()
            found = det.detect(data["actual"], data["forecast"])
            secs = time.perf_counter() - t0
            res = evaluate([(e["start"], e["end"]) for e in found.events],
                           data["incidents"], n)
            res["detect_seconds"] = secs
            per[method].append(res)
        values = np.vstack((data["val_actual"], data["actual"]))
        flags = rolling_zscore_baseline(values, k=baseline_k)[-n:]
        starts, ends = merge_runs(flags, merge_gap)
        res = evaluate(list(zip(starts, ends)), data["incidents"], n)
        res["detect_seconds"] = float("nan")
        per[baseline].append(res)
    for name in names:
        rows = per[name]
        kinds = sorted({k for r in rows for k in r["recall_by_kind"]})
        results[name] = {
            "recall": float(np.mean([r["recall"] for r in rows])),
            "min_recall": float(np.min([r["recall"] for r in rows])),
            "false_per_1000": float(np.mean([r["false_per_1000"] for r in rows])),
            "max_false_per_1000": float(np.max([r["false_per_1000"] for r in rows])),
            "recall_by_kind": {k: float(np.mean([r["recall_by_kind"].get(k, np.nan)
                                                 for r in rows])) for k in kinds},
            "median_delay": float(np.nanmedian([r["median_delay"] for r in rows])),
            "detect_seconds": float(np.mean([r["detect_seconds"] for r in rows])),
        }
    return results


def format_results(results):
    """The :func:`benchmark` results as a text table."""
    kinds = INCIDENT_KINDS
    head = "%-30s %7s %7s %9s %9s %6s  " % ("method", "recall", "min", "FA/1000", "maxFA",
                                             "delay") + " ".join("%6s" % k[:6] for k in kinds)
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        lines.append("%-30s %7.3f %7.3f %9.3f %9.3f %6.1f  " % (
            name, r["recall"], r["min_recall"], r["false_per_1000"], r["max_false_per_1000"],
            r["median_delay"]) + " ".join("%6.2f" % r["recall_by_kind"].get(k, np.nan)
                                           for k in kinds))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - manual self-check
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--df", type=float, default=4.0)
    parser.add_argument("--rows", type=int, default=30000, help="test rows per seed")
    parser.add_argument("--val-rows", type=int, default=4464,
                        help="calibration rows per seed (4,464: a month of 10-minute rows)")
    parser.add_argument("--smoothing", type=int, default=None)
    parser.add_argument("--baseline-k", type=float, default=4.0)
    args = parser.parse_args()
    extra = {} if args.smoothing is None else {"smoothing": args.smoothing}
    print(format_results(benchmark(seeds=range(args.seeds), n_columns=args.columns,
                                   df=args.df, n_test=args.rows, n_val=args.val_rows,
                                   overrides=extra,
                                   baseline_k=args.baseline_k)))
