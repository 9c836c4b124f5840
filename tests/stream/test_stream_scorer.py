"""StreamScorer + Regulariser against the batch predict on the same rows."""

import numpy as np
import pytest

from mods.dataset.io import read_table
from mods.errors import DataError
from mods.stream.rows import LineParser, Regulariser, iso
from mods.stream.scorer import StreamScorer
from tests.stream.conftest import series_tsv


def stream_results(fc, text, bursts):
    """Feed ``text`` line by line; score in bursts of the sizes in ``bursts`` (cycled)."""
    parser = LineParser(fc.columns, "window_start")
    reg = Regulariser(len(fc.columns), fc.info["freq_seconds"])
    rows = []
    for line in text.splitlines():
        parsed = parser.parse(line)
        if parsed:
            rows += reg.push(parsed[1], parsed[2])
    rows += reg.flush()
    scorer = StreamScorer(fc)
    out, i, j = [], 0, 0
    while i < len(rows):
        b = bursts[j % len(bursts)]
        out += scorer.push(rows[i:i + b])
        i, j = i + b, j + 1
    return out, reg, scorer


def batch(fc, text):
    ds = read_table(text.encode(), name="x.tsv", expected_columns=fc.columns)
    return ds, fc.predict(ds)


@pytest.fixture(scope="module")
def joint_model(default_model):
    """The default forecaster with a detector using the joint score and the sustained
    (rolling median) channel, calibrated on an unseen clean series long enough for the
    seasonal channel (its rows after 3 days: the test series' last 168 rows)."""
    import copy

    from mods.anomaly.detector import Detector, DetectorConfig
    from mods.dataset.generate import generate
    from mods.forecast.forecaster import _horizon_forecasts

    fc = copy.copy(default_model)
    values = generate(n_rows=2000, seed=41, incidents=None)[list(fc.columns)].to_numpy(float)
    origins = np.arange(fc.first_origin, len(values) - 1)
    step1 = np.full(values.shape, np.nan)
    step1[origins + 1] = fc.forecast_origins(values, origins)[:, 0, :]
    det = Detector(DetectorConfig(joint=True, sustained=24))
    extra = _horizon_forecasts(fc, values, det.wanted_horizons())
    fc.detector = det.fit(values, step1, extra=extra,
                          context=fc.sequence_len + fc.transform.offset)
    assert fc.detector.joint_norm_ > 0 and len(fc.detector.channels) == 4
    assert fc.detector.channels[-1]["seasonal"] and fc.detector.horizons == [6, 72]
    return fc


@pytest.mark.parametrize("bursts,variant", [([1], "default"), ([7, 100, 1, 250], "default"),
                                            ([7, 100, 1, 250], "joint")])
def test_equals_batch_predict(request, bursts, variant):
    fc = request.getfixturevalue("default_model" if variant == "default" else "joint_model")
    text = series_tsv(600, drop=(100, 101, 102, 330), blank=((200, 0), (201, 0), (260, 3)))
    res, reg, scorer = stream_results(fc, text, bursts)
    ds, pred = batch(fc, text)
    det = pred.detection
    assert len(res) == ds.n_rows == 596 + 4 - 0  # 4 rows dropped, 4 re-inserted
    assert reg.filled_rows == ds.filled_rows == 4
    assert [r["time"] for r in res] == [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in ds.time]
    actual = np.array([list(r["actual"].values()) for r in res], dtype=float)
    np.testing.assert_allclose(actual, np.round(ds.values, 6), rtol=0, atol=1e-6)
    fcst = np.array([[np.nan if v is None else v for v in r["forecast"].values()]
                     for r in res])
    np.testing.assert_array_equal(np.isnan(fcst), np.isnan(pred.step1))
    np.testing.assert_allclose(fcst, pred.step1, rtol=1e-5)
    np.testing.assert_allclose([r["score"] for r in res], det.scores, atol=2e-6)
    assert [r["level"] for r in res] == det.levels
    assert det.events, "the test series must raise an alert"
    last = {}
    for r in res:
        if "event" in r:
            last[r["event"]["start"]] = r["event"]
    assert sorted(last) == [e["start"] for e in det.events]
    for e in det.events:
        s = last[e["start"]]
        for key in ("end", "length", "peak_index", "level", "alert", "flagged_steps",
                    "direction", "horizon"):
            assert s[key] == e[key], key
        assert s["peak_score"] == pytest.approx(e["peak_score"], abs=1e-6)
        assert [c["name"] for c in s["columns"]] == [c["name"] for c in e["columns"]]
        assert s["start_time"] == iso(ds.time[e["start"]].timestamp())
    # the state stays bounded: input window, one trajectory per recent origin
    summary = scorer.state_summary()
    assert summary["history_rows"] == fc.sequence_len + fc.transform.offset - 1
    assert summary["trajectories"] <= max(fc.detector.horizons)
    longest = max(h for h, *_ in fc.detector.channel_list())  # the seasonal: one day
    assert summary["flag_memory"] <= (longest + fc.detector.context
                                      + fc.detector.config.mask_margin + 1)
    seasonal = any(s for *_, s in fc.detector.channel_list())
    assert summary["seasonal_rows"] == (
        min(len(res), fc.detector.season_ * fc.detector.config.seasonal_days) if seasonal
        else 0)


def test_event_changes_open_grow_close(default_model):
    res, _, _ = stream_results(default_model, series_tsv(600), [50])
    by_event = {}
    for r in res:
        if "event" in r:
            by_event.setdefault(r["event"]["start"], []).append(
                (r["row"], r["event"]["change"], r["event"]["status"]))
    assert by_event
    merge_gap = default_model.detector.config.merge_gap
    for start, changes in by_event.items():
        assert changes[0] == (start, "opened", "open")
        assert all(c[1:] == ("grew", "open") for c in changes[1:-1])
        assert changes[-1][1:] == ("closed", "closed")
        last_flagged = max(c[0] for c in changes if c[1] != "closed")
        assert changes[-1][0] == last_flagged + merge_gap + 1


def test_next_forecast_on_last_row_of_each_burst(default_model):
    res, _, _ = stream_results(default_model, series_tsv(40), [10])
    with_next = [r["row"] for r in res if "next" in r]
    assert with_next == [19, 29, 39]  # the first burst is too early to forecast
    nxt = res[-1]["next"]
    assert nxt["times"] == ["2019-06-01T06:40:00Z"]
    assert set(nxt["values"]) == set(default_model.columns)


def test_regulariser_matches_read_table():
    text = ("window_start\ta\tb\n2019-01-01T00:00:00Z\t\t5\n2019-01-01T00:10:00Z\t2\t\n"
            "2019-01-01T00:40:00Z\t8\t-\n2019-01-01T00:50:00Z\t9\t11\n"
            "2019-01-01T01:00:00Z\t10\t\n")
    ds = read_table(text.encode(), name="r.tsv")
    parser, reg = LineParser(["a", "b"], "window_start"), Regulariser(2, 600)
    rows = []
    for line in text.splitlines():
        parsed = parser.parse(line)
        if parsed:
            rows += reg.push(parsed[1], parsed[2])
            if parsed[2][1] != parsed[2][1]:  # a missing cell holds its row back
                assert reg.pending >= 1
    rows += reg.flush()
    np.testing.assert_allclose(np.array([r[1] for r in rows]), ds.values)
    assert [r[2] for r in rows] == [False, False, True, True, False, False, False]
    assert reg.push(parsed[1], [1.0, 1.0]) == [] and reg.late == 1  # not after the last


def test_line_parser_rejects_malformed_lines_and_rereads_headers():
    p = LineParser(["a", "b"], "t")
    assert p.parse("t,a,b,label\n") is None
    assert p.parse("2019-01-01T00:00:00Z,1,2,0") == (None, 1546300800.0, [1.0, 2.0])
    for bad in ("2019-01-01T00:10:00Z,1,2", "2019-01-01T00:10:00Z,x,2,0",
                "nodate,1,2,0", "-,1,2,0"):
        with pytest.raises(DataError):
            p.parse(bad)
    assert p.parse("t\tb\ta") is None  # a new header (rotated file), other order
    assert p.parse("2019-01-01T00:20:00\t4\t3")[2] == [3.0, 4.0]
    # no header: time then the model's columns
    q = LineParser(["a", "b"], "t")
    assert q.parse("2019-01-01T00:00:00,1,2")[2] == [1.0, 2.0]
