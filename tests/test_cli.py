"""The console scripts end to end, as a user runs them (real processes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_tsv

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def run(tool, *args, models):
    env = dict(os.environ, MODS_MODELS_DIR=str(models), TF_CPP_MIN_LOG_LEVEL="3")
    exe = BIN / tool
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    models = root / "models"
    data = write_tsv(root / "train.tsv", n_rows=400, seed=2)
    res = run("mods-train", "--data", data, "--model-name", "cli", "--num-epochs", 2,
              "--blocks", 8, "--steps-ahead", 2, "--json", "-q", models=models)
    assert res.returncode == 0, res.stderr
    return root, models, data, json.loads(res.stdout)


def test_train_reports_metrics(trained):
    _, models, _, report = trained
    assert (models / "cli.zip").is_file()
    assert report["epochs_run"] == 2 and report["model_type"] == "MLP"
    for key in ("model", "naive", "seasonal_naive"):
        assert key in report["metrics"]


def test_predict_writes_tsv(trained, tmp_path):
    root, models, data, _ = trained
    out = tmp_path / "out.tsv"
    res = run("mods-predict", "--model-name", "cli", "--file", data, "--output", out,
              models=models)
    assert res.returncode == 0, res.stderr
    lines = out.read_text().splitlines()
    header = lines[0].split("\t")
    assert header[:3] == ["window_start", "score", "level"]
    assert header[3:6] == ["conn_in", "conn_in_forecast", "conn_in_score"]
    assert len(lines) == 401
    first = lines[1].split("\t")
    assert first[header.index("conn_in_forecast")] == ""  # too early to be forecast
    last = lines[-1].split("\t")
    assert float(last[header.index("conn_in_forecast")]) > 0


def test_predict_json_and_plot(trained, tmp_path):
    root, models, data, _ = trained
    res = run("mods-predict", "--model-name", "cli", "--file", data, models=models)
    doc = json.loads(res.stdout)
    assert doc["steps_ahead"] == 2 and len(doc["next"]["values"]["conn_in"]) == 2
    assert len(doc["next"]["times"]) == 2
    png = tmp_path / "p.png"
    res = run("mods-predict", "--model-name", "cli", "--file", data, "--plot", png,
              models=models)
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_test_json_has_baselines(trained):
    _, models, data, _ = trained
    res = run("mods-test", "--model-name", "cli", "--file", data, "--json", models=models)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    for key in ("model", "naive", "seasonal_naive"):
        assert {"mae", "smape", "rmse", "r2", "cosine", "per_column"} <= set(doc[key])


def test_detect_prints_json_lines(trained, tmp_path):
    _, models, _, _ = trained
    data = write_tsv(tmp_path / "inc.tsv", n_rows=1500, seed=4, incidents="default")
    res = run("mods-detect", "--model-name", "cli", "--file", data, models=models)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert events and all({"start", "end", "level", "peak_score"} <= set(e) for e in events)


@pytest.mark.parametrize("tool,args,needle", [
    ("mods-predict", ["--model-name", "nope", "--file", "{data}"], "unknown model_name"),
    ("mods-predict", ["--model-name", "../x", "--file", "{data}"], "invalid model name"),
    ("mods-predict", ["--model-name", "cli", "--file", "{empty}"], "empty"),
    ("mods-predict", ["--model-name", "cli", "--file", "{missing}"], "missing.tsv"),
    ("mods-train", ["--data", "{data}", "--model-name", "x", "--model-type", "Foo"],
     "invalid choice"),
    ("mods-train", ["--data", "{data}", "--model-name", "x", "--dropout-rate", "2"],
     "out of range"),
    ("mods-train", ["--data", "{data}", "--model-name", "../evil"], "invalid model name"),
    ("mods-test", ["--model-name", "cli", "--file", "{data}", "--columns", "nope"],
     "unknown column"),
])
def test_bad_input_exits_2_with_one_line(trained, tmp_path, tool, args, needle):
    _, models, data, _ = trained
    (tmp_path / "empty.tsv").write_bytes(b"")
    subs = {"data": data, "empty": tmp_path / "empty.tsv", "missing": tmp_path / "missing.tsv"}
    res = run(tool, *[a.format(**subs) for a in args], models=models)
    assert res.returncode == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and needle in err[0], res.stderr
    assert "Traceback" not in res.stderr


def test_help_documents_every_option():
    res = subprocess.run([str(BIN / "mods-train"), "--help"], capture_output=True, text=True)
    for opt in ("--model-type", "--sequence-len", "--steps-ahead", "--num-epochs",
                "--epochs-patience", "--blocks", "--stacked-blocks", "--dropout-rate",
                "--batch-normalization", "--batch-size", "--learning-rate", "--model-delta",
                "--no-model-delta", "--seed", "--columns", "--time-column", "--test-fraction"):
        assert opt in res.stdout


def test_train_from_datapool_query(tmp_path):
    """--query selects, renames and joins datapool columns; the bundle records the query."""
    import zipfile

    from mods.dataset.generate import generate
    from mods.dataset.io import write_table

    frame = generate(n_rows=432, seed=6, incidents=None)
    for proto, cols in (("conn", {"conn_in": "in_count_uid", "conn_out": "out_count_uid"}),
                        ("ssh", {"ssh_in": "in"})):
        part = frame[["window_start", "window_end", *cols]].rename(columns=cols)
        for day, rows in part.groupby(part["window_start"].dt.day):
            folder = tmp_path / "pool" / "tsv" / proto / "2019" / "06" / ("%02d" % day)
            folder.mkdir(parents=True)
            write_table(rows, folder / "w01h-s10m.tsv")
    query = "conn|in_count_uid~conn_in|out_count_uid~conn_out;ssh|in~ssh_in#window_start"
    res = run("mods-train", "--query", query, "--ranges", "<2019-06-01,2019-06-03)",
              "--datapool", tmp_path / "pool", "--model-name", "dp", "--num-epochs", 1,
              "--blocks", 4, "--json", "-q", models=tmp_path / "models")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["columns"] == ["conn_in", "conn_out", "ssh_in"]
    with zipfile.ZipFile(tmp_path / "models" / "dp.zip") as zf:
        selection = json.loads(zf.read("config.json"))["selection"]
    assert selection["query"] == query and selection["rows"] == 288
    bad = run("mods-train", "--query", "nope|x", "--datapool", tmp_path / "pool",
              "--model-name", "dp2", models=tmp_path / "models")
    assert bad.returncode == 2 and "unknown protocol 'nope'" in bad.stderr


def test_detector_options_at_training_and_prediction(trained, tmp_path):
    """mods-train takes every detector option; mods-predict/-detect/-test the detect-time
    ones, for that run only."""
    root, models, data, _ = trained
    res = run("mods-train", "--data", data, "--model-name", "tuned", "--num-epochs", 1,
              "--blocks", 4, "-q", "--detector-method", "quantile", "--detector-smoothing", 6,
              "--detector-horizons", "6", "--no-detector-mask-horizons", models=models)
    assert res.returncode == 0, res.stderr
    from mods.forecast import bundle

    det = bundle.load("tuned", models).detector
    assert (det.config.method, det.config.smoothing, det.horizons) == ("quantile", 6, [6])
    assert det.config.mask_horizons is False
    inc = write_tsv(tmp_path / "inc.tsv", n_rows=1500, seed=4, incidents="default")
    plain = run("mods-predict", "--model-name", "tuned", "--file", inc, models=models)
    low = run("mods-predict", "--model-name", "tuned", "--file", inc,
              "--detector-quantile-warning", "0.99", "--detector-quantile-critical", "0.995",
              models=models)
    assert plain.returncode == 0 and low.returncode == 0, plain.stderr + low.stderr
    plain, low = json.loads(plain.stdout)["anomaly"], json.loads(low.stdout)["anomaly"]
    assert plain["thresholds"]["method"] == low["thresholds"]["method"] == "quantile"
    assert low["thresholds"]["warning"] < plain["thresholds"]["warning"]
    assert low["n_flagged"] > plain["n_flagged"]
    quiet = run("mods-detect", "--model-name", "tuned", "--file", inc,
                "--detector-min-event-length", 10000, models=models)
    assert quiet.returncode == 0 and quiet.stdout == "", quiet.stderr
    # fit-time options are not prediction options; bad values are one-line errors
    for args, needle in ((["--detector-smoothing", "3"], "unrecognized arguments"),
                         (["--detector-method", "magic"], "invalid choice"),
                         (["--detector-quantile-warning", "2"], "out of range"),
                         (["--detector-dynamic-window", "4000", "--detector-dynamic-stride",
                           "1", "--detector-method", "dynamic"], None)):
        res = run("mods-test", "--model-name", "tuned", "--file", inc, *args, models=models)
        if needle is None:  # 1,500 rows re-thresholded every row: allowed, just slow
            assert res.returncode == 0, res.stderr
            continue
        assert res.returncode == 2, res.stderr
        err = res.stderr.strip().splitlines()
        assert len(err) == 1 and needle in err[0], res.stderr
