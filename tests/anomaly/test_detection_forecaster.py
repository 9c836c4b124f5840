"""End to end: the default forecaster and detector on generated counters with incidents.

Loose quality floor of the whole chain (one-step and multi-horizon residuals, calibration,
thresholds, events), well below what ``bench/bench_detect.py`` measures, so that it stays
stable: a default MLP trained for a few epochs on a clean generated series must find most
incidents of unseen series with few false alerts.
"""

import io

import numpy as np
import pytest

from mods.anomaly.scorers import rolling_zscore_baseline
from mods.dataset.generate import generate_with_incidents
from mods.dataset.io import read_table, write_table
from mods.forecast.forecaster import Forecaster
from mods.forecast.params import Params
from mods.metrics import detection_metrics


def dataset(frame):
    buf = io.StringIO()
    write_table(frame, buf)
    return read_table(buf.getvalue().encode(), name="generated.tsv")


def alert_rows(n, events):
    rows = np.zeros(n, dtype=bool)
    for e in events:
        rows[e["start"]:e["end"] + 1] = True
    return rows


@pytest.fixture(scope="module")
def results():
    frame, _ = generate_with_incidents(n_rows=3000, seed=100, incidents=None)
    fc, _ = Forecaster.fit(dataset(frame), Params(num_epochs=5))
    out = []
    for seed in (200, 201):
        test, _ = generate_with_incidents(n_rows=4464, seed=seed)
        ds = dataset(test)
        pred = fc.predict(ds)
        n = len(ds.values)
        zscore = rolling_zscore_baseline(ds.values)
        out.append({"default": detection_metrics(ds.labels, alert_rows(n, pred.detection.events)),
                    "flags": detection_metrics(ds.labels, pred.detection.flags),
                    "zscore": detection_metrics(ds.labels, zscore),
                    "horizons": sorted({e.get("horizon") for e in pred.detection.events})})
    return fc, out


def pooled(rows, key):
    det = sum(r[key]["n_detected_events"] for r in rows)
    tot = sum(r[key]["n_label_events"] for r in rows)
    fa = sum(r[key]["false_alert_events"] for r in rows)
    return det / tot, 1000.0 * fa / sum(r[key]["n"] for r in rows)


def test_default_detector_finds_most_incidents_with_few_false_alerts(results, capsys):
    fc, rows = results
    assert fc.detector.horizons == [6, 72]
    recall, false = pooled(rows, "default")
    flags_recall, flags_false = pooled(rows, "flags")
    z_recall, z_false = pooled(rows, "zscore")
    with capsys.disabled():
        print("\ndefault: event recall %.2f, %.2f false alerts/1000 (flags: %.2f, %.2f); "
              "rolling z-score: %.2f, %.2f" % (recall, false, flags_recall, flags_false,
                                               z_recall, z_false))
    assert recall >= 0.7
    assert false <= 3.0 and flags_false <= 3.0
    assert false < z_false / 3  # the baseline pays its recall with many false alerts
    # the horizon channels take part
    assert any(h > 1 for r in rows for h in r["horizons"])
