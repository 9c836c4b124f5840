"""Reference ceiling of event recall on generated data: a detector that knows the series.

How much of the generated incidents can *any* detector find at a given false-alert rate?
The generator (:mod:`mods.dataset.generate`) rebuilds each test series without its normal
bursts and without its incidents (``incidents=None, bursts=False``: the same random numbers,
so the same values everywhere else).  That series is what a forecaster could at best
expect: it knows the daily cycle, the slow wander, the episodes and even the count noise;
only the normal bursts, unpredictable by nature, are left to tell apart from incidents.

The *ceiling detector* scores each row by its relative deviation from that expected series,
``actual / expected - 1``, per column, as it is and as causal rolling means over 12 and 36
rows (an incident lasting hours stands out of short bursts there), each divided by its
0.999 quantile on the unlabelled rows; the step score is the maximum of all.  Its threshold
is lowered step by step (1 %) while the pooled false alerts stay at or below the given rate
*on the test series themselves*.  Both choices favour it: its recall is a reference of what
the data allow, not a strict bound, but a detector that learns the series from a month of
data rarely gets there.  Incidents it misses look like normal bursts to a detector that knows
everything else.

Used by ``bench/bench_detect.py``; alerts and events are counted as there (flags merged
across ``merge_gap`` rows, an event found when an alert row lies inside it).
"""

import numpy as np
import pandas as pd

from mods.anomaly.alerts import merge_runs
from mods.metrics import detection_metrics, runs

WINDOWS = (1, 12, 36)
QUANTILE = 0.999


def deviations(actual, expected, windows=WINDOWS):
    """``{w: |rolling mean over w rows of actual / expected - 1|}``, each ``(n, f)``."""
    a = np.asarray(actual, dtype=float)
    e = np.maximum(np.asarray(expected, dtype=float), 1.0)
    rel = a / e - 1.0
    # causal means of the last w rows (fewer at the start)
    return {w: np.abs(pd.DataFrame(rel).rolling(w, min_periods=1).mean().to_numpy())
            for w in windows}


def ceiling(series, max_false_per_1000=1.0, merge_gap=3, windows=WINDOWS):
    """Best pooled event recall of the ceiling detector at a false-alert rate.

    Parameters
    ----------
    series : list of tuple
        ``(actual, expected, labels, kinds)`` per test series: ``(n, f)`` values, the same
        series without normal bursts or incidents, 0/1 labels and the incident type of each
        label event (in order).
    max_false_per_1000 : float
        Most false alert events per 1,000 rows, pooled over the series.

    Returns
    -------
    dict
        ``event_recall``, ``false_alerts_per_1000``, ``recall_by_type``, ``label_events``,
        ``threshold`` (a multiple of the 0.999 quantiles).
    """
    devs = [deviations(a, e, windows) for a, e, _, _ in series]
    scale = {w: np.quantile(np.concatenate([d[w][np.asarray(lab) == 0]
                                            for d, (_, _, lab, _) in zip(devs, series)]),
                            QUANTILE, axis=0)
             for w in windows}
    scores = [np.max([(d[w] / np.maximum(scale[w], 1e-12)).max(axis=1) for w in windows],
                     axis=0) for d in devs]
    # From the highest threshold down, until the false alerts exceed the rate: lower still,
    # alerts merge into ever longer events, and flagging every row would count as one
    # event that finds every incident without a false alert.
    best = {"event_recall": 0.0, "false_alerts_per_1000": 0.0, "label_events": None,
            "recall_by_type": {}, "threshold": None}
    for mult in np.geomspace(20.0, 0.05, 601):  # steps of 1 %
        found = total = false = rows = 0
        per = {}
        for sc, (_, _, lab, kinds) in zip(scores, series):
            lab = np.asarray(lab, dtype=int)
            alerts = np.zeros(len(lab), dtype=int)
            for s0, e0 in zip(*merge_runs(sc > mult, merge_gap)):
                alerts[s0:e0 + 1] = 1
            m = detection_metrics(lab, alerts)
            found += m["n_detected_events"]
            total += m["n_label_events"]
            false += m["false_alert_events"]
            rows += m["n"]
            for (s0, e0), kind in zip(runs(lab), kinds):
                per.setdefault(kind, []).append(bool(alerts[s0:e0 + 1].any()))
        rate = 1000.0 * false / max(rows, 1)
        if rate > max_false_per_1000:
            break
        best = {"event_recall": found / total if total else None,
                "false_alerts_per_1000": rate, "label_events": total,
                "recall_by_type": {str(k): float(np.mean(v)) for k, v in sorted(per.items())},
                "threshold": round(float(mult), 3)}
    return best
