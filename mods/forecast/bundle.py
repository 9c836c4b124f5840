"""Model bundles: one ``.zip`` per trained model, saved atomically, loaded with checks.

Members::

    model.keras     the Keras model
    scaler.joblib   the fitted scaler (or None) and the differencing flag
    config.json     hyper-parameters, features, time column, versions, data fingerprint
    detector.json   calibrated anomaly thresholds
    metrics.json    test metrics (model vs baselines) and the training history
"""

import gc
import io
import json
import logging
import os
import re
import tempfile
import threading
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from mods import __version__, config
from mods.files import remove_abandoned, replacing
from mods.errors import BundleError, ModelNotFound, fail

LOG = logging.getLogger("mods.bundle")

FORMAT_VERSION = 1
MEMBERS = ("model.keras", "scaler.joblib", "config.json", "metrics.json")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_name(name):
    """Validate a model name (a plain file name) and return it without ``.zip``.

    Raises
    ------
    BundleError
        For empty names, path separators, ``..``, hidden names or odd characters.
    """
    if not isinstance(name, str) or not name.strip():
        raise fail(BundleError, "model name is empty")
    base = name[:-4] if name.endswith(".zip") else name
    if "/" in base or "\\" in base or ".." in base or not _NAME_RE.match(base):
        raise fail(BundleError, "invalid model name %r: use letters, digits, '.', '_' and "
                   "'-' only (no path separators, no '..', not starting with '.')" % name)
    return base


def bundle_path(name, models_dir=None):
    """Path of the bundle ``name`` in ``models_dir`` (default: :func:`config.models_dir`)."""
    return Path(models_dir or config.models_dir()) / (check_name(name) + ".zip")


def list_bundles(models_dir=None):
    """Sorted names of the complete bundles in ``models_dir`` (temporary files skipped)."""
    folder = Path(models_dir or config.models_dir())
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.zip")
                  if _NAME_RE.match(p.stem) and p.is_file())


def clean_temporary(models_dir=None, max_age=3600.0):
    """Remove the temporary files of saves that will never finish.

    A save's temporary file (``.<name>.<pid>.<random>.tmp``) is removed when its process
    no longer exists (killed mid-save); one without a process id, when older than
    ``max_age`` seconds.  Saves in progress in other processes are left alone.  Called when
    the service starts.

    Returns
    -------
    list of str
        The names of the files removed.
    """
    removed = remove_abandoned(models_dir or config.models_dir(), max_age)
    if removed:
        LOG.warning("removed %d unfinished bundle save(s): %s", len(removed),
                    ", ".join(sorted(removed)))
    return removed


def _versions():
    import keras
    import tensorflow as tf

    return {"mods": __version__, "keras": keras.__version__, "tensorflow": tf.__version__}


def save(forecaster, name, models_dir=None, metrics=None):
    """Write ``forecaster`` as ``<models_dir>/<name>.zip`` atomically and return the path.

    The zip is written to a temporary file in the same folder, flushed to disk, then renamed
    over the target, so a reader never sees a half-written bundle.  Two saves of the same
    ``name`` at once each write their own temporary file: the bundle is always one of the
    two complete ones (the last renamed wins), never a mix.  A process killed mid-save
    leaves only its hidden temporary file, which :func:`clean_temporary` removes.
    """
    import joblib

    path = bundle_path(name, models_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = {
        "format_version": FORMAT_VERSION,
        "name": path.stem,
        "created": _created(),
        "params": forecaster.params.to_dict(),
        "columns": forecaster.columns,
        "sequence_len": forecaster.params.sequence_len,
        "steps_ahead": forecaster.params.steps_ahead,
        "versions": _versions(),
        **{k: v for k, v in forecaster.info.items() if k not in ("metrics", "training")},
    }
    metrics = metrics if metrics is not None else {
        "test": forecaster.info.get("metrics"), "training": forecaster.info.get("training")}
    scaler = io.BytesIO()
    joblib.dump({"scaler": forecaster.transform.scaler,
                 "model_delta": forecaster.transform.model_delta}, scaler)
    # ".<name>.<pid>.<random>.tmp": hidden, never listed; clean_temporary() removes the
    # ones whose process is gone (killed mid-save)
    with replacing(path, durable=True, stem=path.stem) as tmp, \
            tempfile.TemporaryDirectory(prefix="mods-save-") as work:
        model_file = os.path.join(work, "model.keras")
        forecaster.model.save(model_file)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(model_file, "model.keras")
            zf.writestr("scaler.joblib", scaler.getvalue())
            zf.writestr("config.json", json.dumps(cfg, indent=2, default=_json_default))
            zf.writestr("metrics.json", json.dumps(metrics, indent=2, default=_json_default))
            if forecaster.detector is not None:
                zf.writestr("detector.json", json.dumps(forecaster.detector.to_dict(),
                                                        indent=2, default=_json_default))
    LOG.info("saved model bundle %s", path)
    return path


def _created():
    """Creation time (UTC); ``SOURCE_DATE_EPOCH`` pins it for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.fromtimestamp(int(epoch), timezone.utc) if epoch and epoch.isdigit()
            else datetime.now(timezone.utc))
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError("not JSON serialisable: %r" % type(obj))


def read_info(path):
    """``config.json`` and ``metrics.json`` of a bundle without loading the Keras model."""
    path = Path(path)
    with _open_zip(path) as zf:
        return _read_json(zf, path, "config.json"), _read_json(zf, path, "metrics.json")


def _open_zip(path):
    if not path.is_file():
        raise fail(ModelNotFound, "no model bundle %s" % path.name)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise fail(BundleError, "%s is not a MODS model bundle: not a readable zip file (%s)"
                   % (path.name, exc)) from None
    missing = [m for m in MEMBERS if m not in zf.namelist()]
    if missing:
        zf.close()
        raise fail(BundleError, "%s is not a MODS model bundle: missing %s (a bundle holds %s)"
                   % (path.name, ", ".join(missing), ", ".join(MEMBERS)))
    return zf


def _read_json(zf, path, member):
    try:
        return json.loads(zf.read(member).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as exc:
        raise fail(BundleError, "%s: %s is corrupt (%s)" % (path.name, member, exc)) from None


def load(name_or_path, models_dir=None):
    """Load a bundle by model name (in ``models_dir``) or by path.

    Raises
    ------
    ModelNotFound
        When no such bundle exists (the message lists the available ones).
    BundleError
        When the file is not a valid bundle or was written by an incompatible version.
    """
    import joblib
    import keras

    from mods.forecast import registry
    from mods.forecast.forecaster import Forecaster
    from mods.forecast.params import Params

    path = _resolve(name_or_path, models_dir)
    with _open_zip(path) as zf:
        cfg = _read_json(zf, path, "config.json")
        metrics = _read_json(zf, path, "metrics.json")
        version = cfg.get("format_version")
        if version != FORMAT_VERSION:
            raise fail(BundleError, "%s: bundle format version %r is not supported (this MODS "
                       "reads version %d); retrain the model" % (path.name, version,
                                                                 FORMAT_VERSION))
        try:
            params = Params.from_dict(cfg["params"], strict=False)
            registry.get_builder(params.model_type)  # imports custom layers before loading
            scal = joblib.load(io.BytesIO(zf.read("scaler.joblib")))
            detector_state = (json.loads(zf.read("detector.json"))
                              if "detector.json" in zf.namelist() else None)
            with tempfile.TemporaryDirectory(prefix="mods-load-") as work:
                zf.extract("model.keras", work)
                model = keras.models.load_model(os.path.join(work, "model.keras"),
                                                compile=False)
        except BundleError:
            raise
        except Exception as exc:
            raise fail(BundleError, "%s: cannot load the model (%s: %s)"
                       % (path.name, type(exc).__name__, exc)) from None
    from mods.dataset.windows import Transform

    detector = None
    if detector_state is not None:
        from mods.anomaly.detector import Detector

        detector = Detector.from_dict(detector_state)
    info = {k: v for k, v in cfg.items() if k not in ("params",)}
    info["metrics"] = (metrics or {}).get("test")
    info["training"] = (metrics or {}).get("training")
    fc = Forecaster(params, cfg["columns"], Transform(scal["model_delta"], scal["scaler"]),
                    model, detector=detector, info=info)
    fc.info["path"] = str(path)
    return fc


def _resolve(name_or_path, models_dir):
    if isinstance(name_or_path, Path) or (isinstance(name_or_path, str)
                                          and name_or_path.endswith(".zip")
                                          and os.sep in name_or_path):
        return Path(name_or_path)
    path = bundle_path(name_or_path, models_dir)
    if not path.is_file():
        available = list_bundles(path.parent)
        raise fail(ModelNotFound, "unknown model_name %r; available models: %s"
                   % (name_or_path, ", ".join(available) or "none (train one first)"))
    return path


def settle_gc(release=False):
    """Take the objects alive now out of the cyclic garbage collector's sight (``gc.freeze``).

    TensorFlow, Keras and a loaded model are some 400,000 tracked objects that live as long
    as the process: every full collection walked them all (350 ms here), and one came every
    few requests as a side effect of building a large answer (the p90 of a prediction was
    twice its median).  Called by :class:`ModelCache` after each load; with ``release`` (a
    cached model was replaced) the frozen objects are unfrozen and collected first, so that
    what became garbage since is collected.
    """
    if release:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelCache:
    """Loaded bundles per process, keyed by path and modification time.

    A request never reloads an unchanged bundle; a bundle replaced on disk (new training
    with the same name) is reloaded on its next use.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._items = {}

    def get(self, name, models_dir=None):
        path = _resolve(name, models_dir)
        try:
            st = path.stat()
        except OSError:
            raise fail(ModelNotFound, "model bundle %s disappeared" % path.name) from None
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._items.get(str(path))
            if hit and hit[0] == key:
                return hit[1]
        fc = load(path)
        with self._lock:
            replaced = self._items.get(str(path)) is not None
            self._items[str(path)] = (key, fc)
        settle_gc(replaced)
        return fc

    def clear(self):
        with self._lock:
            self._items.clear()


CACHE = ModelCache()
