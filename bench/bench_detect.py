#!/usr/bin/env python
"""Anomaly detection benchmark: the default forecaster + detector vs a rolling z-score.

What it measures (issue "Anomalies and alerts", section 5): event recall and false alert
events per 1,000 steps of the DEFAULT model (``Params()``: MLP, sequence_len 12, steps_ahead
1, model_delta) with the DEFAULT detector (``DetectorConfig()``), and of the model-free
rolling z-score baseline (:func:`mods.anomaly.scorers.rolling_zscore_baseline`, window 144,
k = 4) on the same series in the same run.

Generated data (:mod:`mods.dataset.generate`, 4464 rows = 31 days of 10-minute rows):
for each seed ``s`` a model is trained on one series and run on ``--tests`` unseen series
(seeds ``2000 + 10 s + j``) whose second half holds the default incidents (one of each type
plus 0-4 more).  Two training series per seed:

``clean``         ``generate(seed=1000 + s, incidents=None)``: the period the model and the
                  detector learn from holds no incident (the detector's premise);
``contaminated``  ``generate(seed=1000 + s)``: the same series with the default incidents
                  in its second half, i.e. inside the rows the detector calibrates on
                  (about 8 % of all rows, a quarter of the out-of-sample ones, labelled);
                  the file's ``label`` column tells the detector to leave them out;
``unlabelled``    the same contaminated series without its ``label`` column: the detector
                  has to cope with the incidents alone (calibration rounds).

Real data (``../shared/data/mods-sample-w01h-s10m.tsv``, read from there): the model is
trained on the first 70 % of the rows; incidents are injected into the last 30 % with
``inject_incidents(seed=r, start_fraction=0.7)`` for ``--real-seeds`` seeds, and the figures
count the last 30 % only.

Figures (:func:`mods.metrics.detection_metrics`): an *alert event* is a reported event of
the detector (its rows from start to end; the baseline's flags merged across gaps of at
most 3 rows, the detector's ``merge_gap``); a false alert event overlaps no labelled row;
a label event is detected when an alert row lies inside it.  ``flags`` rows give the same
figures on ``Detection.flags`` (what ``mods predict`` prints).  ``recall`` and ``FA/1000``
are pooled (events summed over every test series), ``(med)`` their medians over test
series; point precision, recall (``rec.pt``), F1 and the mean detection delay (rows) are
medians over test series; per-type recalls are pooled.  The previous default (one-step
residuals only, calibrated on the validation rows) is measured too for reference.

Ceiling (``bench/ceiling.py``): the same test series are generated again without their
normal bursts and incidents (the generator's ``bursts=False``: the same values elsewhere),
and a detector that knows that expected series, its threshold chosen on the test series
themselves, is run at 1 false alert per 1,000 rows and at the default's rate: what the
data allow, since normal bursts and small incidents can look alike.

    .venv/bin/python bench/bench_detect.py                 # 5 seeds x 3 series, ~5 min
    .venv/bin/python bench/bench_detect.py --seeds 2 --tests 2 --real-seeds 2   # quick
    .venv/bin/python bench/bench_detect.py --detector method=dynamic   # another detector

Writes bench/results/detect.json.
"""

import argparse
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "mods-sample-w01h-s10m.tsv"
sys.path.insert(0, str(ROOT))

from mods.tfenv import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before TensorFlow loads: quiet, the same kernels on every CPU

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ceiling import ceiling  # noqa: E402
from mods.anomaly.alerts import merge_runs  # noqa: E402
from mods.anomaly.detector import Detector, DetectorConfig  # noqa: E402
from mods.anomaly.scorers import rolling_zscore_baseline  # noqa: E402
from mods.dataset.generate import (INCIDENT_TYPES, generate_with_incidents,  # noqa: E402
                                   inject_incidents)
from mods.dataset.io import read_table, write_table  # noqa: E402
from mods.errors import ConfigError  # noqa: E402
from mods.forecast.forecaster import Forecaster, _horizon_forecasts  # noqa: E402
from mods.forecast.params import Params  # noqa: E402
from mods.metrics import detection_metrics, runs  # noqa: E402

BASELINE_K = 4.0
BASELINE_WINDOW = 144
MERGE_GAP = DetectorConfig().merge_gap
TARGET_FA_PER_1000 = 1.0  # issue section 5: at most one false alert per 1,000 steps


def detector_overrides(pairs):
    """``{option: value}`` from ``KEY=VALUE`` strings (values read as JSON, else as text)."""
    out = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            out[key.strip()] = json.loads(text)
        except ValueError:
            out[key.strip()] = text
    return out


def to_dataset(frame, name):
    buf = io.StringIO()
    write_table(frame, buf)
    return read_table(buf.getvalue().encode(), name=name)


def span_mask(n, starts, ends):
    mask = np.zeros(n, dtype=bool)
    for s, e in zip(starts, ends):
        mask[s:e + 1] = True
    return mask


def label_kinds(labels, incidents, t0, freq, k=6):
    """Incident type of each label event (maximal run of 1s), in order."""
    kinds = []
    for start, _ in runs(labels):
        kind = None
        for inc in incidents:
            first = inc["start"] if t0 is None else int((inc["start"] - t0) / freq)
            if abs(max(first - k + 1, 0) - start) <= 1:
                kind = inc["type"]
        kinds.append(kind)
    return kinds


def score(labels, alerts, kinds):
    """detection_metrics plus per-kind detection of the label events."""
    m = detection_metrics(labels, alerts.astype(int))
    per = {}
    for (s, e), kind in zip(runs(labels), kinds):
        per.setdefault(kind, []).append(bool(alerts[s:e + 1].any()))
    m["per_kind"] = per
    return m


def legacy_detector(fc, values, split):
    """The previous default: one-step residuals of the validation rows, no trimming."""
    first = fc.first_origin
    val_o = np.arange(max(first, split.train_end - 1), split.val_end - 1)
    step1 = fc.forecast_origins(values, val_o)[:, 0, :]
    cfg = DetectorConfig(horizons="", calibration_rounds=0)
    return Detector(cfg).fit(values[val_o + 1], step1)


def evaluate_series(fc, legacy, ds, kinds, lo=0):
    """All detectors on one labelled series; rows ``lo:`` are counted."""
    values, labels = ds.values, ds.labels.astype(int)
    n = len(values)
    out = {}
    t0 = time.perf_counter()
    pred = fc.predict(ds)
    out["predict_s"] = time.perf_counter() - t0
    det = pred.detection
    ev = span_mask(n, [e["start"] for e in det.events], [e["end"] for e in det.events])
    out["default"] = score(labels[lo:], ev[lo:], kinds)
    out["default_flags"] = score(labels[lo:], det.flags[lo:], kinds)
    old = legacy.detect(values, pred.step1)
    ev = span_mask(n, [e["start"] for e in old.events], [e["end"] for e in old.events])
    out["previous_default"] = score(labels[lo:], ev[lo:], kinds)
    z = rolling_zscore_baseline(values, window=BASELINE_WINDOW, k=BASELINE_K)
    out["zscore"] = score(labels[lo:], span_mask(n, *merge_runs(z, MERGE_GAP))[lo:], kinds)
    out["zscore_flags"] = score(labels[lo:], z[lo:], kinds)
    # The baseline at every k (for "recall at the detector's false alert rate").
    from mods.anomaly.scorers import rolling_zscore
    zz = np.nan_to_num(np.abs(rolling_zscore(values, BASELINE_WINDOW)), nan=0.0).max(axis=1)
    out["zscore_sweep"] = {}
    for k in np.arange(3.0, 15.01, 0.25):
        flags = zz > k
        m = score(labels[lo:], span_mask(n, *merge_runs(flags, MERGE_GAP))[lo:], kinds)
        out["zscore_sweep"][float(k)] = (m["n_detected_events"], m["false_alert_events"])
    return out


def summarise(results, name):
    """Pooled and median figures of detector ``name`` over a list of per-series results."""
    rows = [r[name] for r in results]
    det = sum(r["n_detected_events"] for r in rows)
    tot = sum(r["n_label_events"] for r in rows)
    fa = sum(r["false_alert_events"] for r in rows)
    n = sum(r["n"] for r in rows)
    per = {}
    for r in rows:
        for kind, hits in r["per_kind"].items():
            per.setdefault(kind, []).extend(hits)

    def med(key):
        vals = [r[key] for r in rows if r[key] is not None]
        return float(np.median(vals)) if vals else None

    return {
        "event_recall": det / tot if tot else None,
        "false_alerts_per_1000": 1000.0 * fa / n,
        "median_event_recall": med("event_recall"),
        "median_false_alerts_per_1000": med("false_alerts_per_1000"),
        "precision": med("precision"), "recall": med("recall"), "f1": med("f1"),
        "mean_detection_delay": med("mean_detection_delay"),
        "detected_events": det, "label_events": tot, "false_alert_events": fa, "steps": n,
        "recall_by_type": {k: float(np.mean(v)) for k, v in sorted(per.items())},
        "series": len(rows),
    }


def baseline_at(results, max_fa_per_1000):
    """Best pooled recall of the z-score baseline over k with pooled FA <= the given rate."""
    n = sum(r["zscore"]["n"] for r in results)
    tot = sum(r["zscore"]["n_label_events"] for r in results)
    best = (0.0, None, None)
    for k in results[0]["zscore_sweep"]:
        det = sum(r["zscore_sweep"][k][0] for r in results)
        fa = 1000.0 * sum(r["zscore_sweep"][k][1] for r in results) / n
        if fa <= max_fa_per_1000 and det / tot > best[0]:
            best = (det / tot, k, fa)
    return {"event_recall": best[0], "k": best[1], "false_alerts_per_1000": best[2]}


def run_generated(seeds, tests, rows, scenarios, log, detector=None):
    out = {}
    reference = []  # (actual, expected, labels, kinds) of each test series, for the ceiling
    for scenario in scenarios:
        results, train_s, trimmed = [], [], []
        for s in seeds:
            frame, _ = generate_with_incidents(
                n_rows=rows, seed=1000 + s, incidents=None if scenario == "clean" else "default")
            if scenario == "unlabelled":
                frame = frame.drop(columns=["label"])
            ds = to_dataset(frame, "train.tsv")
            t0 = time.perf_counter()
            fc, report = Forecaster.fit(ds, Params(), detector_config=detector)
            train_s.append(time.perf_counter() - t0)
            trimmed.append(fc.detector.trimmed_fraction_)
            legacy = legacy_detector(fc, ds.values, Forecaster.split(len(ds.values), fc.params))
            for j in range(tests):
                test, incidents = generate_with_incidents(n_rows=rows, seed=2000 + 10 * s + j)
                tds = to_dataset(test, "test.tsv")
                kinds = label_kinds(tds.labels, incidents, test["window_start"].iloc[0],
                                    pd.Timedelta("10min"))
                results.append(evaluate_series(fc, legacy, tds, kinds))
                if scenario == scenarios[0]:
                    expected, _ = generate_with_incidents(
                        n_rows=rows, seed=2000 + 10 * s + j, incidents=None, bursts=False)
                    reference.append((tds.values, expected[tds.columns].to_numpy(float),
                                      tds.labels.astype(int), kinds))
            log("  %s seed %d: trained in %.0f s (%d epochs); %s" % (
                scenario, s, train_s[-1], report["epochs_run"], brief(results[-tests:])))
        out[scenario] = pack(results)
        out[scenario]["train_seconds_median"] = float(np.median(train_s))
        out[scenario]["calibration_rows_trimmed_median"] = float(np.median(trimmed))
    if reference:
        # At the target rate (1 false alert per 1,000 rows), and at the default's.
        rate = out[scenarios[0]]["default"]["false_alerts_per_1000"]
        out["ceiling"] = ceiling(reference, TARGET_FA_PER_1000, MERGE_GAP)
        out["ceiling"]["at_default_rate"] = ceiling(reference, rate, MERGE_GAP)
        log("  ceiling (knows each test series but its normal bursts): recall %.3f at <= %.1f "
            "false alerts per 1,000, %.3f at the default's %.2f" % (
                out["ceiling"]["event_recall"], TARGET_FA_PER_1000,
                out["ceiling"]["at_default_rate"]["event_recall"], rate))
    return out


def run_real(seeds, log, detector=None):
    if not SAMPLE.exists():
        log("  real sample not found at %s: skipped" % SAMPLE)
        return None
    frame = pd.read_csv(SAMPLE, sep="\t")
    n = len(frame)
    cut = int(round(n * 0.7))
    ds = to_dataset(frame.iloc[:cut].reset_index(drop=True), "real-train.tsv")
    t0 = time.perf_counter()
    fc, report = Forecaster.fit(ds, Params(), detector_config=detector)
    train_s = time.perf_counter() - t0
    legacy = legacy_detector(fc, ds.values, Forecaster.split(len(ds.values), fc.params))
    results = []
    for r in seeds:
        injected, incidents = inject_incidents(frame, seed=r, start_fraction=0.7)
        tds = to_dataset(injected, "real-test.tsv")
        # label runs are counted from row `cut`: shift the incident starts accordingly
        kinds = label_kinds(tds.labels[cut:], [dict(i, start=i["start"] - cut)
                                               for i in incidents], None, None)
        results.append(evaluate_series(fc, legacy, tds, kinds, lo=cut))
    log("  real: trained in %.0f s (%d epochs); %s" % (train_s, report["epochs_run"],
                                                      brief(results)))
    out = pack(results)
    out["rows"] = n
    out["train_rows"] = cut
    out["train_seconds"] = train_s
    out["calibration_rows_trimmed"] = fc.detector.trimmed_fraction_
    return out


def pack(results):
    out = {name: summarise(results, name) for name in
           ("default", "default_flags", "previous_default", "zscore", "zscore_flags")}
    out["zscore_at_default_false_alert_rate"] = baseline_at(
        results, out["default"]["false_alerts_per_1000"])
    out["predict_seconds_median"] = float(np.median([r["predict_s"] for r in results]))
    return out


def brief(results):
    d = summarise(results, "default")
    z = summarise(results, "zscore")
    return "default recall %.2f FA %.2f | z-score recall %.2f FA %.2f" % (
        d["event_recall"], d["false_alerts_per_1000"], z["event_recall"],
        z["false_alerts_per_1000"])


def timing(log, rows=50000):
    """Detector time on 50,000 rows x 4 columns, and the multi-horizon forecasts."""
    frame, _ = generate_with_incidents(n_rows=4464, seed=1000, incidents=None)
    ds = to_dataset(frame, "train.tsv")
    fc, _ = Forecaster.fit(ds, Params(num_epochs=2))
    big, _ = generate_with_incidents(n_rows=rows, seed=7)
    values = to_dataset(big, "big.tsv").values
    origins = fc.all_origins(len(values))
    t0 = time.perf_counter()
    f1 = fc.forecast_origins(values, origins[:-1])[:, 0, :]
    t_step1 = time.perf_counter() - t0
    step1 = np.full(values.shape, np.nan)
    step1[origins[:-1] + 1] = f1
    t0 = time.perf_counter()
    extra = _horizon_forecasts(fc, values, fc.detector.horizons)
    t_extra = time.perf_counter() - t0
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        fc.detector.detect(values, step1, extra=extra)
        best = min(best, time.perf_counter() - t0)
    out = {"rows": rows, "columns": values.shape[1], "one_step_forecasts_s": t_step1,
           "horizon_forecasts_s": t_extra, "detect_s": best,
           "horizons": fc.detector.horizons}
    log("  timing on %d rows: detect %.3f s, one-step forecasts %.2f s, horizon forecasts "
        "%s %.2f s" % (rows, best, t_step1, fc.detector.horizons, t_extra))
    return out


def table(res):
    lines = []
    head = "%-22s %-20s %6s %6s %7s %6s %6s %6s %6s %6s  %s" % (
        "data", "detector", "recall", "(med)", "FA/1000", "(med)", "prec", "rec.pt", "F1",
        "delay", " ".join("%6s" % k[:6] for k in INCIDENT_TYPES))
    lines += [head, "-" * len(head)]
    labels = {"default": "default (events)", "default_flags": "default (flags)",
              "previous_default": "previous default", "zscore": "z-score k=4",
              "zscore_flags": "z-score k=4 (flags)"}
    for data, block in res.items():
        if not isinstance(block, dict) or "default" not in block:
            continue
        for name, label in labels.items():
            r = block[name]

            def f(x, fmt="%6.2f"):
                return fmt % x if x is not None else "%6s" % "-"
            lines.append("%-22s %-20s %6.3f %6.3f %7.2f %6.2f %s %s %s %s  %s" % (
                data, label, r["event_recall"], r["median_event_recall"],
                r["false_alerts_per_1000"], r["median_false_alerts_per_1000"],
                f(r["precision"]), f(r["recall"]), f(r["f1"]),
                f(r["mean_detection_delay"], "%6.1f"),
                " ".join(f(r["recall_by_type"].get(k)) for k in INCIDENT_TYPES)))
        d, z = block["default"], block["zscore"]
        m = block["zscore_at_default_false_alert_rate"]
        lines.append("%-22s ratios default / z-score: recall %.2f, false alerts %.2f, F1 %s;"
                     " z-score at the default's FA rate (k=%s): recall %.3f" % (
                         data, d["event_recall"] / max(z["event_recall"], 1e-9),
                         d["false_alerts_per_1000"] / max(z["false_alerts_per_1000"], 1e-9),
                         "%.2f" % (d["f1"] / z["f1"]) if d["f1"] and z["f1"] else "-",
                         m["k"], m["event_recall"]))
        lines.append("")
        if data == "generated_clean" and isinstance(res.get("generated_ceiling"), dict):
            c = res["generated_ceiling"]
            lines.append("%-22s %-20s %6.3f %6s %7.2f %6s %6s %6s %6s %6s  %s" % (
                "generated (test)", "ceiling (ref.)", c["event_recall"], "-",
                c["false_alerts_per_1000"], "-", "-", "-", "-", "-",
                " ".join("%6.2f" % c["recall_by_type"].get(k, float("nan"))
                         for k in INCIDENT_TYPES)))
            lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="training seeds (generated)")
    parser.add_argument("--tests", type=int, default=3, help="unseen series per seed")
    parser.add_argument("--rows", type=int, default=4464)
    parser.add_argument("--real-seeds", type=int, default=5, help="injections into the sample")
    parser.add_argument("--scenarios", nargs="+",
                        default=["clean", "contaminated", "unlabelled"],
                        choices=["clean", "contaminated", "unlabelled"])
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--detector", action="append", default=[], metavar="KEY=VALUE",
                        help="a detector option other than the default's, e.g. "
                        "method=dynamic (repeat; values as JSON or text)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "detect.json"))
    args = parser.parse_args()
    try:
        detector = DetectorConfig.from_dict(detector_overrides(args.detector))
    except ConfigError as exc:
        parser.error(str(exc))

    def log(msg):
        print(msg, flush=True)

    t0 = time.perf_counter()
    res = {"config": {"params": Params().to_dict(),
                      "detector": detector.to_dict(),
                      "baseline": {"window": BASELINE_WINDOW, "k": BASELINE_K,
                                   "merge_gap": MERGE_GAP},
                      "seeds": args.seeds, "tests_per_seed": args.tests, "rows": args.rows,
                      "real_seeds": args.real_seeds}}
    log("generated data (%d seeds x %d unseen series of %d rows)" % (args.seeds, args.tests,
                                                                     args.rows))
    gen = run_generated(range(args.seeds), args.tests, args.rows, args.scenarios, log,
                        detector)
    for scenario, block in gen.items():
        res["generated_" + scenario] = block
    if args.real_seeds:
        log("real sample (%s)" % SAMPLE)
        real = run_real(range(args.real_seeds), log, detector)
        if real is not None:
            res["real_sample"] = real
    if not args.no_timing:
        res["timing"] = timing(log)
    res["seconds"] = time.perf_counter() - t0
    print()
    print(table(res))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(res, handle, indent=1, default=float)
    print("wrote %s (%.0f s)" % (args.out, res["seconds"]))


if __name__ == "__main__":
    main()
