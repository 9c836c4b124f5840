"""Tests of the seeded sample-data generator ``mods.dataset.generate``."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mods.dataset import generate as gen
from mods.errors import ConfigError, DataError

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED = PROJECT / "data" / "sample-w01h-s10m.tsv"
VALUES = ["conn_in", "conn_out", "dns_in_distinct", "ssh_in"]
ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$"


@pytest.fixture(scope="module")
def sample():
    return gen.generate_with_incidents()


@pytest.fixture(scope="module")
def baseline():
    return gen.generate(incidents=None)


def _expected_labels(frame, incidents):
    label = np.zeros(len(frame), dtype=np.int64)
    for item in incidents:
        overlap = (frame["window_start"] < item["end"]) & (frame["window_end"] > item["start"])
        label[overlap.to_numpy()] = 1
    return label


def _rows(frame, item):
    overlap = (frame["window_start"] < item["end"]) & (frame["window_end"] > item["start"])
    return overlap.to_numpy()


# --------------------------------------------------------------------------- shape, dtypes


def test_columns_and_dtypes(sample):
    frame, _ = sample
    assert list(frame.columns) == ["window_start", "window_end", *VALUES, "label"]
    assert len(frame) == 4464
    for name in ("window_start", "window_end"):
        assert pd.api.types.is_datetime64_any_dtype(frame[name])
        assert str(frame[name].dt.tz) == "UTC"
    for name in VALUES + ["label"]:
        assert frame[name].dtype == np.int64
    assert (frame[VALUES] >= 0).all().all()
    assert set(frame["label"].unique()) == {0, 1}
    assert frame["window_start"].iloc[0] == pd.Timestamp("2019-06-01T00:00:00Z")


def test_window_end_and_regular_steps(sample):
    frame, _ = sample
    assert (frame["window_end"] - frame["window_start"] == pd.Timedelta("1h")).all()
    steps = frame["window_start"].diff().dropna()
    assert (steps == pd.Timedelta("10min")).all()


def test_other_frequency_and_window():
    frame = gen.generate(n_rows=50, freq="5min", window="30min", start="2020-01-01 03:00",
                         incidents=None)
    assert (frame["window_end"] - frame["window_start"] == pd.Timedelta("30min")).all()
    assert (frame["window_start"].diff().dropna() == pd.Timedelta("5min")).all()
    assert frame["window_start"].iloc[0] == pd.Timestamp("2020-01-01T03:00:00Z")


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_output():
    first, incidents_a = gen.generate_with_incidents(n_rows=2000, seed=11)
    second, incidents_b = gen.generate_with_incidents(n_rows=2000, seed=11)
    pd.testing.assert_frame_equal(first, second)
    assert incidents_a == incidents_b


def test_other_seed_other_output():
    first = gen.generate(n_rows=500, seed=1)
    second = gen.generate(n_rows=500, seed=2)
    assert not first[VALUES].equals(second[VALUES])


def test_column_values_do_not_depend_on_other_columns(baseline):
    alone = gen.generate(columns=["ssh_in"], incidents=None)
    pd.testing.assert_series_equal(alone["ssh_in"], baseline["ssh_in"])


# --------------------------------------------------------------------------- realism


def test_realistic_magnitudes_and_overlap(baseline):
    means = baseline[VALUES].mean()
    assert 40_000 < means["conn_in"] < 65_000
    assert 14_000 < means["conn_out"] < 22_000
    assert 25 < means["dns_in_distinct"] < 60
    assert 3_000 < means["ssh_in"] < 6_000
    for name in VALUES:
        values = baseline[name].astype(float)
        diff = values.diff().dropna()
        assert values.autocorr(1) > 0.8  # 50 of 60 minutes shared by consecutive rows
        # A 6-bucket moving sum: diff(t) = b(t+6) - b(t), so lag-6 autocorrelation ~ -0.5.
        assert -0.6 < diff.autocorr(6) < -0.3
    # conn_in and conn_out move together (shared noise, scheduled jobs).
    assert baseline["conn_in"].diff().corr(baseline["conn_out"].diff()) > 0.1


def test_daily_cycle(baseline):
    hours = baseline["window_start"].dt.hour
    weekday = baseline["window_start"].dt.dayofweek < 5
    conn_in = baseline.loc[weekday, "conn_in"].groupby(hours[weekday]).mean()
    assert conn_in.loc[9:16].mean() > 1.08 * conn_in.loc[1:5].mean()  # working hours peak
    ssh = baseline["ssh_in"].groupby(hours).mean()
    assert ssh.loc[1:5].mean() > ssh.loc[9:16].mean()  # internet-facing: night peak


# --------------------------------------------------------------------------- incidents


def test_default_incidents(sample):
    frame, incidents = sample
    assert 6 <= len(incidents) <= 10
    assert {item["type"] for item in incidents} == set(gen.INCIDENT_TYPES)
    for item in incidents:
        assert set(item) == {"type", "start", "end", "columns", "magnitude"}
        assert item["start"] < item["end"]
        assert set(item["columns"]) <= set(VALUES)
        rows = np.flatnonzero(_rows(frame, item))
        assert rows.min() >= len(frame) // 2  # second half, never in the training part
    starts = [item["start"] for item in incidents]
    assert starts == sorted(starts)
    for before, after in zip(incidents, incidents[1:]):
        assert before["end"] + pd.Timedelta("1h") < after["start"]  # no overlap
    assert not frame["label"].iloc[: int(0.4 * len(frame))].any()


def test_labels_align_with_incidents(sample):
    frame, incidents = sample
    np.testing.assert_array_equal(frame["label"].to_numpy(), _expected_labels(frame, incidents))


def test_incidents_change_only_labelled_rows(sample, baseline):
    frame, incidents = sample
    normal = frame["label"].to_numpy() == 0
    pd.testing.assert_frame_equal(frame.loc[normal, VALUES], baseline.loc[normal, VALUES])
    for item in incidents:
        rows = _rows(frame, item)
        for name in VALUES:
            if name not in item["columns"]:
                np.testing.assert_array_equal(frame.loc[rows, name], baseline.loc[rows, name])


EXPLICIT = [
    {"type": "spike", "start": "2019-06-02T10:00Z", "duration": "20min",
     "columns": ["conn_in", "ssh_in"], "magnitude": 6.0},
    {"type": "level_shift", "start": "2019-06-03T08:00Z", "end": "2019-06-03T14:00Z",
     "columns": ["conn_in", "conn_out"], "magnitude": 0.5},
    {"type": "outage", "start": "2019-06-04T02:00Z", "duration": "2h", "magnitude": -0.97},
    {"type": "drift", "start": "2019-06-05T06:00Z", "duration": "8h",
     "columns": ["conn_out"], "magnitude": 1.0},
    {"type": "pattern_change", "start": "2019-06-06T00:00Z", "duration": "1D",
     "columns": ["conn_in", "conn_out"], "magnitude": 0.5},
    {"type": "single_column", "start": "2019-06-07T01:00Z", "duration": "3h",
     "columns": ["ssh_in"], "magnitude": 3.0},
]


@pytest.mark.parametrize("spec", EXPLICIT, ids=[spec["type"] for spec in EXPLICIT])
def test_each_incident_type_changes_values(spec):
    normal = gen.generate(n_rows=1008, seed=4, incidents=None)
    frame, incidents = gen.generate_with_incidents(n_rows=1008, seed=4, incidents=[spec])
    (item,) = incidents
    assert item["type"] == spec["type"]
    assert item["magnitude"] == pytest.approx(spec["magnitude"])
    rows = _rows(frame, item)
    np.testing.assert_array_equal(frame["label"].to_numpy(), rows.astype(np.int64))
    pd.testing.assert_frame_equal(frame.loc[~rows, VALUES], normal.loc[~rows, VALUES])
    for name in VALUES:
        ratio = frame.loc[rows, name].to_numpy() / normal.loc[rows, name].to_numpy()
        if name in item["columns"]:
            # Well beyond the window-to-window noise (a few percent).
            assert np.max(np.abs(ratio - 1)) > 0.4, name
            assert np.mean(np.abs(ratio - 1)) > 0.15, name
        else:
            np.testing.assert_array_equal(ratio, 1.0)
    if spec["type"] == "outage":
        assert item["columns"] == VALUES
        assert ratio.min() < 0.1  # windows fully inside the outage drop to near zero
    if spec["type"] == "drift":
        change = frame.loc[rows, "conn_out"].to_numpy() - normal.loc[rows, "conn_out"].to_numpy()
        assert change[-8:].mean() > change[:8].mean()  # a ramp, not a step


def test_incidents_smear_over_the_window():
    spec = {"type": "spike", "start": "2019-06-02T10:00Z", "duration": "10min",
            "columns": ["conn_in"], "magnitude": 6.0}
    frame, _ = gen.generate_with_incidents(n_rows=500, incidents=[spec])
    normal = gen.generate(n_rows=500, incidents=None)
    changed = np.flatnonzero(frame["conn_in"].to_numpy() != normal["conn_in"].to_numpy())
    labelled = np.flatnonzero(frame["label"].to_numpy())
    assert len(labelled) == 6  # the six windows containing that 10-minute bucket
    np.testing.assert_array_equal(changed, labelled)
    assert frame["window_start"].iloc[labelled[0]] == pd.Timestamp("2019-06-02T09:10Z")


def test_no_incidents():
    frame, incidents = gen.generate_with_incidents(n_rows=300, incidents=None)
    assert incidents == [] and not frame["label"].any()


def test_short_series_places_what_fits():
    frame, incidents = gen.generate_with_incidents(n_rows=20)
    assert len(frame) == 20
    np.testing.assert_array_equal(frame["label"].to_numpy(), _expected_labels(frame, incidents))


# --------------------------------------------------------------------------- columns option


def test_scale_option_shape():
    frame = gen.generate(n_rows=52_560, columns=10)
    assert frame.shape == (52_560, 13)
    assert list(frame.columns[2:-1]) == [f"c{i}" for i in range(10)]
    assert (frame.dtypes.iloc[2:] == np.int64).all()
    means = frame.iloc[:, 2:-1].mean()
    assert means.max() / means.min() > 100  # assorted magnitudes
    assert frame["window_start"].iloc[-1] == pd.Timestamp("2019-06-01T00:00Z") + pd.Timedelta(
        minutes=10 * 52_559)


def test_named_columns():
    frame = gen.generate(n_rows=100, columns=["conn_in", "bytes_out"], incidents=None)
    assert list(frame.columns) == ["window_start", "window_end", "conn_in", "bytes_out", "label"]


@pytest.mark.parametrize("kwargs", [
    {"n_rows": 0}, {"n_rows": 1.5}, {"n_rows": True}, {"seed": -1}, {"columns": 0},
    {"columns": ["a", "a"]}, {"columns": ["label"]}, {"freq": "7min"}, {"freq": "soon"},
    {"window": "-1h"}, {"start": "yesterday-ish"}, {"incidents": "many"}, {"incidents": 3},
    {"incidents": [{"type": "meteor", "start": "2019-06-02"}]},
    {"incidents": [{"type": "spike"}]},
    {"incidents": [{"type": "spike", "start": "2030-01-01"}]},
    {"incidents": [{"type": "spike", "start": "2019-06-02", "columns": ["nope"]}]},
    {"trend": "up"},
])
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        gen.generate(**{"n_rows": 500, **kwargs})


# --------------------------------------------------------------------------- inject_incidents


def test_inject_incidents_into_existing_frame(baseline):
    values = baseline[VALUES]  # like the real sample: no time column, no label
    frame, incidents = gen.inject_incidents(values, seed=3, start_fraction=0.7)
    assert "label" not in values.columns  # input untouched
    assert {item["type"] for item in incidents} == set(gen.INCIDENT_TYPES)
    label = frame["label"].to_numpy()
    assert not label[: int(np.ceil(0.7 * len(frame)))].any()
    assert label.any()
    pd.testing.assert_frame_equal(frame.loc[label == 0, VALUES], values.loc[label == 0])
    for item in incidents:
        assert isinstance(item["start"], int)
        rows = np.zeros(len(frame), dtype=bool)
        rows[max(item["start"] - 5, 0):item["end"]] = True
        assert label[rows].all()
        for name in item["columns"]:
            ratio = frame.loc[rows, name].to_numpy() / values.loc[rows, name].to_numpy()
            assert np.max(np.abs(ratio - 1)) > 0.25, (item, name)
        assert (frame[VALUES].dtypes == np.int64).all()


def test_inject_incidents_with_times_and_kinds(baseline):
    frame, incidents = gen.inject_incidents(baseline, seed=5, kinds=["outage", "spike"],
                                            count=3, start_fraction=0.5)
    assert len(incidents) == 3
    assert {item["type"] for item in incidents} <= {"outage", "spike"}
    assert all(isinstance(item["start"], pd.Timestamp) for item in incidents)
    np.testing.assert_array_equal(frame["label"].to_numpy(), _expected_labels(frame, incidents))
    again, _ = gen.inject_incidents(baseline, seed=5, kinds=["outage", "spike"], count=3,
                                    start_fraction=0.5)
    pd.testing.assert_frame_equal(frame, again)


def test_inject_incidents_smear_is_a_moving_sum():
    values = pd.DataFrame({"x": np.full(200, 600, dtype=np.int64)})
    frame, (item,) = gen.inject_incidents(values, kinds=["outage"], count=1, start_fraction=0.5)
    first, stop = item["start"], item["end"]
    # Constant windows of 600 = six buckets of 100; the outage removes its share per bucket.
    keep = 1 + item["magnitude"]
    expected = np.full(200, 600.0)
    for row in range(200):
        inside = max(0, min(row + 6, stop) - max(row, first))
        expected[row] = 600 - inside * 100 * (1 - keep)
    np.testing.assert_array_equal(frame["x"].to_numpy(), np.rint(expected).astype(np.int64))


@pytest.mark.parametrize("kwargs, error", [
    ({"columns": ["nope"]}, DataError), ({"kinds": ["meteor"]}, ConfigError),
    ({"start_fraction": 1.0}, ConfigError), ({"seed": -2}, ConfigError),
])
def test_inject_incidents_bad_arguments(baseline, kwargs, error):
    with pytest.raises(error):
        gen.inject_incidents(baseline, **kwargs)


def test_inject_incidents_needs_a_frame():
    with pytest.raises(DataError):
        gen.inject_incidents(pd.DataFrame())


# --------------------------------------------------------------------------- files, CLI


def _read(path):
    frame = pd.read_csv(path, sep="\t")
    for name in ("window_start", "window_end"):
        assert frame[name].str.match(ISO).all()
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def test_shipped_sample_is_the_documented_output(tmp_path):
    assert SHIPPED.is_file(), "regenerate with: python -m mods.dataset.generate --rows 4464 " \
                              "--seed 0 --out data/sample-w01h-s10m.tsv"
    fresh = tmp_path / "sample.tsv"
    assert gen.main(["--rows", "4464", "--seed", "0", "--out", str(fresh)]) == 0
    assert fresh.read_bytes() == SHIPPED.read_bytes()
    shipped = _read(SHIPPED)
    expected = gen.generate(seed=0)
    pd.testing.assert_frame_equal(shipped, expected, check_dtype=False)
    assert (shipped[VALUES + ["label"]].dtypes == np.int64).all()


def test_shipped_readme_names_the_command():
    readme = (PROJECT / "data" / "README.md").read_text(encoding="utf-8")
    assert "python -m mods.dataset.generate --rows 4464 --seed 0" in readme


def test_main_writes_readable_tsv(tmp_path):
    out = tmp_path / "g.tsv"
    incidents = tmp_path / "g.json"
    assert gen.main(["--rows", "600", "--seed", "3", "--out", str(out),
                     "--incidents-json", str(incidents)]) == 0
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header == "\t".join(["window_start", "window_end", *VALUES, "label"])
    frame = _read(out)
    pd.testing.assert_frame_equal(frame, gen.generate(n_rows=600, seed=3), check_dtype=False)
    assert frame["window_start"].iloc[0] == pd.Timestamp("2019-06-01T00:00:00Z")
    listed = pd.read_json(incidents)
    assert len(listed) == len(gen.generate_with_incidents(n_rows=600, seed=3)[1])


def test_main_columns_and_no_incidents(tmp_path):
    out = tmp_path / "g.tsv"
    assert gen.main(["--rows", "300", "--seed", "1", "--columns", "3", "--no-incidents",
                     "--out", str(out)]) == 0
    frame = _read(out)
    assert list(frame.columns) == ["window_start", "window_end", "c0", "c1", "c2", "label"]
    assert len(frame) == 300 and not frame["label"].any()


@pytest.mark.parametrize("argv", [
    ["--rows", "0", "--out", "OUT"], ["--rows", "many", "--out", "OUT"],
    ["--seed", "-4", "--out", "OUT"], ["--columns", "0", "--out", "OUT"],
    ["--freq", "7min", "--out", "OUT"], ["--rows", "10"], ["--bogus", "--out", "OUT"],
    ["--rows", "10", "--out", "MISSING/dir/x.tsv"],
])
def test_main_bad_arguments(tmp_path, capsys, argv):
    argv = [arg.replace("OUT", str(tmp_path / "x.tsv")).replace("MISSING", str(tmp_path / "no"))
            for arg in argv]
    assert gen.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not (tmp_path / "x.tsv").exists()
