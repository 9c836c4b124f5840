"""Model bundles: names, atomic saves, validation on load, the per-process cache."""

import json
import os
import zipfile

import pytest

from mods.errors import BundleError, ModelNotFound
from mods.forecast import bundle
from mods.forecast.forecaster import Forecaster
from mods.forecast.params import Params
from tests.helpers import dataset


@pytest.fixture(scope="module")
def trained():
    fc, _ = Forecaster.fit(dataset(n_rows=200, seed=5),
                           Params(num_epochs=1, blocks=4, sequence_len=6))
    return fc


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".hidden", "", "a\\b", "x..y", " ",
                                  "-lead", "a" * 101])
def test_bad_names_refused(name):
    with pytest.raises(BundleError):
        bundle.check_name(name)


@pytest.mark.parametrize("name,base", [("ok", "ok"), ("m-1.v2", "m-1.v2"), ("x.zip", "x")])
def test_good_names(name, base):
    assert bundle.check_name(name) == base


def test_bundle_members_and_config(trained, tmp_path):
    path = bundle.save(trained, "m", tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        cfg = json.loads(zf.read("config.json"))
        met = json.loads(zf.read("metrics.json"))
    assert {"model.keras", "scaler.joblib", "config.json", "metrics.json",
            "detector.json"} <= names
    assert cfg["format_version"] == bundle.FORMAT_VERSION
    assert cfg["columns"] == trained.columns
    assert cfg["params"]["model_type"] == "MLP"
    assert cfg["data"]["fingerprint"].startswith("sha256:")
    assert cfg["time_column"] == "window_start" and cfg["freq_seconds"] == 600
    assert set(cfg["versions"]) == {"mods", "keras", "tensorflow"}
    assert met["test"]["model"]["mae"] > 0 and met["training"]["epochs_run"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.zip"]  # no temporary left
    assert oct(path.stat().st_mode & 0o777) != "0o600"


def test_failed_save_leaves_previous_bundle(trained, tmp_path, monkeypatch):
    path = bundle.save(trained, "m", tmp_path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(trained.model, "save", boom)
    with pytest.raises(RuntimeError):
        bundle.save(trained, "m", tmp_path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.zip"]


def test_unknown_model_lists_available(trained, tmp_path):
    bundle.save(trained, "one", tmp_path)
    with pytest.raises(ModelNotFound, match="available models: one"):
        bundle.load("two", tmp_path)


def test_not_a_zip(tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    with pytest.raises(BundleError, match="not a readable zip"):
        bundle.load("junk", tmp_path)


def test_zip_without_members(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(BundleError, match="missing model.keras"):
        bundle.load("other", tmp_path)


def test_wrong_format_version(trained, tmp_path):
    path = bundle.save(trained, "m", tmp_path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    cfg = json.loads(members["config.json"])
    cfg["format_version"] = 99
    members["config.json"] = json.dumps(cfg).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(BundleError, match="format version 99 is not supported"):
        bundle.load("m", tmp_path)


def test_cache_reuses_until_file_changes(trained, tmp_path):
    bundle.save(trained, "m", tmp_path)
    cache = bundle.ModelCache()
    a = cache.get("m", tmp_path)
    assert cache.get("m", tmp_path) is a
    path = bundle.save(trained, "m", tmp_path)
    os.utime(path, ns=(1, 1))  # a new bundle under the same name
    assert cache.get("m", tmp_path) is not a


def test_cache_freezes_long_lived_objects_out_of_the_collector(trained, tmp_path):
    """Full collections must not walk TensorFlow's and the model's objects (350 ms each)."""
    import gc

    bundle.save(trained, "g", tmp_path)
    cache = bundle.ModelCache()
    fc = cache.get("g", tmp_path)
    assert gc.get_freeze_count() > 10 * len(gc.get_objects())
    path = bundle.save(trained, "g", tmp_path)
    os.utime(path, ns=(2, 2))  # replaced: unfrozen, collected, frozen again
    assert cache.get("g", tmp_path) is not fc
    assert gc.get_freeze_count() > 10 * len(gc.get_objects())


def test_list_skips_temporaries(trained, tmp_path):
    bundle.save(trained, "b", tmp_path)
    (tmp_path / ".b.abc.tmp").write_bytes(b"partial")
    (tmp_path / "notes.txt").write_text("x")
    assert bundle.list_bundles(tmp_path) == ["b"]
