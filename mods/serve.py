"""``mods-serve``: the DEEPaaS application plus the routes MODS users call.

Takes ``deepaas-run``'s options (``--listen-ip``, ``--listen-port``, ``--workers``...) and
adds:

* ``POST /models/mods/predict`` and ``PUT /models/mods/train`` (besides DEEPaaS's own
  ``/v2/models/mods/...`` routes), with the same arguments;
* a separate process pool for trainings (``--train-workers``), so predictions keep being
  answered while a model trains;
* JSON errors: a :class:`mods.errors.ModsError` or an argument validation error becomes an
  HTTP 400 ``{"status": "error", "message": ...}`` instead of a 500 or 422;
* per-epoch progress, read from the training's record, in ``GET /v2/models/mods/train/{uuid}``.
"""

import asyncio
import functools
import json
import logging
import os
import sys
import tempfile

from mods.tfenv import quiet_tensorflow

DEFAULT_MAX_UPLOAD = 100 * 1024 * 1024
#: Launcher options setting the limits of :mod:`mods.config` (they override the variables).
LIMIT_OPTIONS = (
    ("max-rows", "MODS_MAX_ROWS", "2000000", "Most data rows in an uploaded or named file"),
    ("max-columns", "MODS_MAX_COLUMNS", "1000", "Most columns in a file's header"),
    ("max-epochs", "MODS_MAX_EPOCHS", "1000", "Largest num_epochs a training may ask for"),
    ("max-train-seconds", "MODS_MAX_TRAIN_SECONDS", "21600",
     "Wall-clock limit of one training, in seconds"),
)
MODEL = "mods"
MAX_NAMED = 5  # unknown arguments named in one error message
LOG = logging.getLogger("mods.serve")


def _register_options():
    from oslo_config import cfg

    import deepaas.cmd.run  # noqa: F401  registers --listen-ip, --listen-port, --base-path

    opts = [cfg.IntOpt("train-workers", default=1, min=1,
                       help="Processes reserved for trainings (predictions use --workers).")]
    opts += [cfg.FloatOpt(name, min=0, help=text + " (0: no limit; default: $%s or %s)"
                          % (env, default))
             for name, env, default, text in LIMIT_OPTIONS]
    try:
        cfg.CONF.register_cli_opts(opts)
    except cfg.ArgsAlreadyParsedError:  # pragma: no cover
        pass
    return cfg.CONF


def _json_error(status, message):
    from aiohttp import web

    message = " ".join(str(message).split())
    return web.json_response({"status": "error", "code": status, "message": message},
                             status=status)


def _has_message(body):
    """Whether a JSON error body is already in MODS's form (a ``message``)."""
    try:
        doc = json.loads(body)
    except (TypeError, ValueError):
        return False
    return isinstance(doc, dict) and bool(doc.get("message"))


def _validation_message(body):
    """One line from webargs' ``{"field": ["msg"]}`` JSON body."""
    try:
        doc = json.loads(body)
    except (TypeError, ValueError):
        return str(body)
    parts = []

    def walk(prefix, node):
        if isinstance(node, dict):
            for key, val in node.items():
                walk("%s.%s" % (prefix, key) if prefix else str(key), val)
        elif isinstance(node, list):
            parts.append("%s: %s" % (prefix, "; ".join(str(x) for x in node)))
        else:
            parts.append("%s: %s" % (prefix, node))

    walk("", doc)
    return "invalid argument(s): " + "; ".join(parts)


def make_error_middleware():
    from aiohttp import web
    from aiohttp.http_exceptions import HttpProcessingError

    from mods.errors import ModsError

    @web.middleware
    async def errors(request, handler):
        try:
            return await handler(request)
        except ModsError as exc:
            return _json_error(getattr(exc, "status", 400), exc)
        except web.HTTPUnprocessableEntity as exc:
            return _json_error(400, _validation_message(exc.text))
        except web.HTTPRequestEntityTooLarge as exc:
            return _json_error(413, "upload too large: %s" % exc.text)
        except web.HTTPException as exc:
            # aiohttp/DEEPaaS errors (unknown route or training, wrong method) are plain
            # text: answer them as JSON too, keeping the status and the Allow header
            if exc.status < 400:
                raise
            if exc.content_type == "application/json":
                if _has_message(exc.text):
                    raise
                # webargs' own JSON, e.g. {"json": ["Invalid JSON body."]} for a body
                # sent as application/json that does not parse
                return _json_error(exc.status, _validation_message(exc.text))
            response = _json_error(exc.status, "%s: %s %s" % (
                exc.reason.lower(), request.method, request.path[:200]))
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
            return response
        except HttpProcessingError as exc:  # e.g. a multipart part without headers
            return _json_error(400, "malformed request: %s" % str(exc.message)[:200])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never a traceback page
            LOG.exception("internal error on %s %s", request.method, request.path)
            return _json_error(500, "internal error: %s" % type(exc).__name__)

    return errors


def make_accept_middleware():
    """``predict``'s ``Accept`` header negotiated (:mod:`mods.accept`) before the handlers.

    Real clients send lists (``application/json, text/plain, */*``) where DEEPaaS's argument
    expects one type: the header is replaced by the type chosen, and a request that accepts
    none of the service's types gets 406 with a JSON message.
    """
    from aiohttp import web
    from multidict import CIMultiDict

    from mods.accept import OFFERED, negotiate

    @web.middleware
    async def accept(request, handler):
        if request.method == "POST" and request.path.rstrip("/").endswith("/predict"):
            header = request.headers.get("Accept")
            chosen = negotiate(header)
            if chosen is None:
                return _json_error(406, "not acceptable: the Accept header (%s) allows none "
                                   "of %s" % (" ".join(str(header).split())[:200],
                                              ", ".join(OFFERED)))
            if header is not None and header.strip() not in OFFERED + ("*/*",):
                headers = CIMultiDict(request.headers)
                headers["Accept"] = chosen
                try:
                    request = request.clone(headers=headers)
                except (UnicodeError, ValueError):  # undecodable header bytes: as sent
                    LOG.debug("Accept not rewritten: a header cannot be re-encoded")
        return await handler(request)

    return accept


def make_progress_middleware():
    """Add the training record (epochs so far, losses) to DEEPaaS's training status."""
    from aiohttp import web

    from mods import runs

    train_path = "/v2/models/%s/train" % MODEL

    @web.middleware
    async def progress(request, handler):
        is_train_post = request.method in ("POST", "PUT") and request.path.rstrip("/") in (
            train_path, "/models/%s/train" % MODEL)
        if is_train_post and "run_id" not in request.query:
            request = request.clone(rel_url=request.rel_url.update_query(
                run_id=runs.new_run_id()))
        response = await handler(request)
        if ((request.path.startswith(train_path) or is_train_post)
                and request.method in ("GET", "POST", "PUT")
                and isinstance(response, web.Response)
                and response.content_type == "application/json"):
            try:
                doc = json.loads(response.text)
            except (TypeError, ValueError):
                return response
            items = doc if isinstance(doc, list) else [doc]
            for item in items:
                if isinstance(item, dict):
                    _add_progress(item, runs)
            return web.json_response(doc, status=response.status)
        return response

    return progress


def check_detector_arguments(arguments):
    """Refuse a training's ``detector_<option>`` arguments that contradict each other.

    Each argument alone is checked by its webargs field when DEEPaaS parses the request;
    pairs (``quantile_warning`` below ``quantile_critical``, ``z_min`` below ``z_max``, a z
    grid of at most 1,000 values...) only by :class:`~mods.anomaly.detector.DetectorConfig`,
    which a training builds in its worker process: without this check a bad pair was
    answered 200 and ended as a failed training.  Values a field cannot read are left to
    DEEPaaS's own 400.

    Parameters
    ----------
    arguments : mapping
        The request's query and form arguments (strings).

    Raises
    ------
    ConfigError
        The options, read together, are inconsistent.
    """
    from marshmallow import ValidationError

    from mods.anomaly.detector import DetectorConfig
    from mods.schemas import detector_fields

    given = {}
    for name, field in detector_fields(False).items():
        raw = arguments.get(name)
        if raw is None or isinstance(raw, (bytes, bytearray)) or hasattr(raw, "file"):
            continue
        try:
            value = field.deserialize(raw)
        except ValidationError:
            return  # DEEPaaS answers this one with its own 400
        if value is not None:
            given[name] = value
    options = DetectorConfig.given(given)
    if options:
        DetectorConfig.from_dict(options)


def check_predict_arguments(arguments):
    """Refuse a prediction's ``detector_<option>`` arguments that are fixed at training.

    A prediction's arguments only list the options it may change; DEEPaaS drops the others
    unread, so ``detector_seasonal_days=3`` on a prediction was answered 200 as if it had
    been applied.

    Raises
    ------
    ConfigError
        Naming the options and where they belong.
    """
    from mods.anomaly.detector import FIT_ONLY
    from mods.errors import ConfigError, fail

    fixed = sorted("detector_" + name for name in FIT_ONLY if "detector_" + name in arguments)
    if fixed:
        raise fail(ConfigError, "%s cannot change on a prediction: fixed when the model was "
                   "trained (give it to PUT /models/%s/train)" % (", ".join(fixed), MODEL))


@functools.lru_cache(maxsize=None)
def known_arguments(kind):
    """Names of the arguments a ``predict`` or ``train`` call takes (its DEEPaaS fields)."""
    from mods import api

    return frozenset((api.get_predict_args if kind == "predict" else api.get_train_args)())


def check_unknown_arguments(arguments, kind):
    """Refuse arguments that ``kind`` (``"predict"`` or ``"train"``) does not take.

    DEEPaaS drops unknown query and form fields unread: a typo such as
    ``detector_metod=dynamic`` was answered 200 with the default method, as if applied.

    Raises
    ------
    ConfigError
        Naming each unknown argument, with the closest known name when there is one.
    """
    import difflib

    from mods.errors import ConfigError, fail

    known = known_arguments(kind)
    unknown = sorted(name for name in arguments if name not in known)
    if unknown:
        parts = []
        for name in unknown[:MAX_NAMED]:
            shown = name if name.isidentifier() and len(name) <= 60 else repr(name[:60])
            close = difflib.get_close_matches(name, known, n=1)
            parts.append("%s (did you mean %s?)" % (shown, close[0]) if close else shown)
        if len(unknown) > MAX_NAMED:
            parts.append("and %d more" % (len(unknown) - MAX_NAMED))
        raise fail(ConfigError, "unknown %s argument%s: %s (the arguments it takes are "
                   "listed on /api)" % (kind, "s" if len(unknown) > 1 else "", ", ".join(parts)))


def make_form_check_middleware():
    """Read the form of a prediction or training once, before DEEPaaS does.

    * A malformed body (multipart without a boundary, or whose boundary never comes) made
      aiohttp raise ``ValueError`` inside DEEPaaS's argument parser: a 500.  It is a 400
      now, with aiohttp's reason.
    * A training whose detector options contradict each other
      (:func:`check_detector_arguments`), or whose ``data_file`` is not a file of the data
      folder, is answered 400 at once instead of being started.
    * A prediction with a detector option fixed at training is answered 400
      (:func:`check_predict_arguments`) instead of 200 without it.
    * So is an argument the call does not take at all (:func:`check_unknown_arguments`):
      a misspelt option was dropped unread by DEEPaaS and the call answered 200 without it.

    aiohttp keeps the parsed form on the request, so DEEPaaS does not read the body again.
    """
    from aiohttp import web

    from mods.errors import DataError, fail

    routes = {"/models/%s/%s" % (MODEL, kind) for kind in ("predict", "train")}

    @web.middleware
    async def form_check(request, handler):
        path = request.path.rstrip("/")
        if request.method in ("POST", "PUT") and any(path.endswith(r) for r in routes):
            arguments = dict(request.query)
            if request.content_type in ("multipart/form-data",
                                        "application/x-www-form-urlencoded"):
                try:
                    arguments.update(await request.post())
                except ValueError as exc:
                    raise fail(DataError, "malformed %s body: %s"
                               % (request.content_type, str(exc)[:200])) from None
            if path.endswith("/train"):
                check_unknown_arguments(arguments, "train")
                check_detector_arguments(arguments)
                if not arguments.get("data") and not arguments.get("query") \
                        and arguments.get("data_file"):
                    # the training would read it first (mods.api.train): a missing file or
                    # a path trick is a 400 now, not a training that fails
                    from mods import workflow

                    workflow.resolve_data_file(arguments["data_file"])
            else:
                check_predict_arguments(arguments)  # fixed at training: the closer message
                check_unknown_arguments(arguments, "predict")
        return await handler(request)

    return form_check


def make_cancel_middleware(train_handler):
    """``DELETE /v2/models/mods/train/{uuid}``: cancel the training, answer its status.

    DEEPaaS's own handler awaits the cancelled task, so the ``CancelledError`` escapes it and
    the client gets no answer at all; this answers ``"status": "cancelled"`` (or the final
    status when the training ended meanwhile) and a JSON 404 for unknown trainings.
    """
    from aiohttp import web

    from mods import runs

    marker = "/models/%s/train/" % MODEL

    @web.middleware
    async def cancel(request, handler):
        if request.method != "DELETE" or marker not in request.path:
            return await handler(request)
        uuid_ = request.path.split(marker, 1)[1].strip("/")
        training = train_handler._trainings.pop(uuid_, None)
        if training is None:
            return _json_error(404, "no training %r" % uuid_)
        task = training["task"]
        task.cancel()
        await asyncio.wait({task}, timeout=10)  # never raises the task's own outcome
        ret = train_handler.build_train_response(uuid_, training)
        if isinstance(ret, dict):
            _add_progress(ret, runs)
        return web.json_response(ret)

    return cancel


def _add_progress(item, runs):
    args = item.get("args") or {}
    run_id = args.get("run_id") if isinstance(args, dict) else None
    record = runs.read(run_id) if run_id else None
    if record:
        item["progress"] = {k: record.get(k) for k in
                            ("status", "epoch", "num_epochs", "history", "message")
                            if record.get(k) is not None}
    if isinstance(args, dict):  # uploaded file objects are not JSON-useful
        for key, val in list(args.items()):
            if isinstance(val, (list, tuple)) and len(val) == 3 and key == "data":
                args[key] = {"name": val[0], "content_type": val[1],
                             "original_filename": val[2]}


def _upload_files(kwargs):
    """Turn aiohttp ``FileField`` arguments into DEEPaaS ``UploadedFile`` temp files."""
    from aiohttp import web
    from deepaas.model.v2.wrapper import UploadedFile

    for key, val in list(kwargs.items()):
        if isinstance(val, web.FileField):
            fd, name = tempfile.mkstemp(prefix="mods-upload-")
            with os.fdopen(fd, "wb") as out:
                val.file.seek(0)
                while True:
                    chunk = val.file.read(1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
            kwargs[key] = UploadedFile(name=val.name, filename=name,
                                       content_type=val.content_type,
                                       original_filename=val.filename)
    return kwargs


def _end_record(run_id, status, message):
    """Mark a training's record ended when its process could not (killed, cancelled)."""
    from mods import runs

    record = runs.read(run_id)
    if record and record.get("status") == "running":
        record.update(status=status, message=message)
        runs.write(run_id, record)


def _queued_record(run_id, kwargs):
    """The record of a submitted training, before its process starts (it may queue for a
    slot): a restart in between then reports it interrupted instead of losing it."""
    import datetime

    from mods import runs

    if not run_id or runs.read(run_id) is not None:
        return
    runs.write(run_id, {"status": "running", "queued": True, "pid": os.getpid(),
                        "date": str(datetime.datetime.now()),
                        "model_name": kwargs.get("model_name"),
                        "model_type": kwargs.get("model_type")})


def _recover(models_dir=None):
    """At start: records of trainings a previous process left "running" become interrupted
    errors, and unfinished bundle saves (killed mid-save) are removed.

    Returns
    -------
    set of str
        The run ids of the trainings of previous processes (their records).
    """
    from mods import runs
    from mods.forecast import bundle

    marked = runs.mark_interrupted(models_dir)
    if marked:
        LOG.warning("%d training(s) interrupted by the restart: %s", len(marked),
                    ", ".join(marked))
    bundle.clean_temporary(models_dir)
    return {r["run_id"] for r in runs.list_records(models_dir)}


def _record_doc(record):
    """DEEPaaS's training answer built from an on-disk record (a previous process's run)."""
    run_id = record["run_id"]
    doc = {"uuid": run_id,
           "date": record.get("date") or record.get("started") or record.get("updated"),
           "args": {"run_id": run_id, "model_name": record.get("model_name"),
                    "model_type": record.get("model_type")},
           "status": record.get("status") or "error"}
    if record.get("message"):
        doc["message"] = record["message"]
    if record.get("result") is not None:
        doc["result"] = {"output": record["result"]}
    return doc


def make_records_middleware(train_handler, previous=()):
    """Trainings outlive the process that ran them.

    A training's ``uuid`` is its ``run_id`` (the name of its on-disk record), so after a
    restart ``GET /v2/models/mods/train/{uuid}`` answers from the record and
    ``GET /v2/models/mods/train/`` lists the previous processes' trainings too (``previous``:
    their run ids; this process's trainings are DEEPaaS's, forgotten once deleted).
    """
    previous = frozenset(previous)
    from aiohttp import web

    from mods import runs

    marker = "/models/%s/train" % MODEL

    @web.middleware
    async def records(request, handler):
        if marker not in request.path or request.method not in ("GET", "POST", "PUT"):
            return await handler(request)
        tail = request.path.split(marker, 1)[1].strip("/")
        if request.method == "GET" and tail:
            if tail not in train_handler._trainings and tail in previous:
                record = runs.read(tail)
                if record is not None:
                    return web.json_response(_record_doc(dict(record, run_id=tail)))
            return await handler(request)
        response = await handler(request)
        if tail or not isinstance(response, web.Response) or response.status != 200 \
                or response.content_type != "application/json":
            return response
        doc = json.loads(response.text)
        if request.method == "GET":  # the listing
            seen = {item.get("uuid") for item in doc if isinstance(item, dict)}
            doc = [_record_doc(r) for r in runs.list_records()
                   if r["run_id"] in previous and r["run_id"] not in seen] + doc
            return web.json_response(doc)
        run_id = (doc.get("args") or {}).get("run_id")
        uuid_ = doc.get("uuid")
        if (run_id and uuid_ in train_handler._trainings
                and run_id not in train_handler._trainings):
            train_handler._trainings[run_id] = train_handler._trainings.pop(uuid_)
            doc["uuid"] = run_id
        return web.json_response(doc)

    return records


def _separate_training_pool(wrapper, n_workers):
    """Give ``wrapper``'s trainings their own processes (predictions keep theirs)."""
    from deepaas.model.v2.wrapper import UploadedFile

    from mods.pools import TrainingPool

    pool = TrainingPool(n_workers)

    async def run(fn, run_id, uploads):
        try:
            return await pool.apply(fn)
        except asyncio.CancelledError:
            _end_record(run_id, "cancelled", "training cancelled")
            raise
        except Exception as exc:
            _end_record(run_id, "error", str(exc))
            raise
        finally:
            for path in uploads:  # the training process may not have lived to remove them
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def train(*args, **kwargs):
        kwargs = _upload_files(kwargs)
        uploads = [v.filename for v in kwargs.values() if isinstance(v, UploadedFile)]
        _queued_record(kwargs.get("run_id"), kwargs)
        with wrapper._catch_error():
            fn = functools.partial(wrapper.model_obj.train, *args, **kwargs)
            return wrapper._loop.create_task(run(fn, kwargs.get("run_id"), uploads))

    wrapper.train = train

    async def close(_app):
        pool.shutdown()

    return close


def _alias_routes(app):
    """``POST /models/mods/predict`` and ``PUT /models/mods/train`` onto DEEPaaS handlers."""
    handlers = {}
    for sub in _subapps(app):
        for route in sub.router.routes():
            # sub-application routes carry their prefix (/v2, or base-path/v2)
            path = route.resource.canonical if route.resource else ""
            tail = path[path.find("/models/"):] if "/models/" in path else path
            handlers[(route.method, tail)] = route.handler
    predict = handlers.get(("POST", "/models/%s/predict/" % MODEL))
    train = handlers.get(("POST", "/models/%s/train/" % MODEL))
    if predict is None or train is None:
        raise RuntimeError("DEEPaaS did not load the 'mods' model; is the package installed?")
    app.router.add_post("/models/%s/predict" % MODEL, _predict_serialized_by_worker(predict))
    app.router.add_put("/models/%s/train" % MODEL, train)
    app.router.add_post("/models/%s/train" % MODEL, train)
    _document_aliases(app)
    return handlers


def _predict_serialized_by_worker(v2_handler):
    """``POST /models/mods/predict``: DEEPaaS's predict, with the JSON made by the worker.

    DEEPaaS's handler receives the answer as a Python structure from the worker process,
    validates it against the response schema and serialises it, all in the one process that
    also serves every connection: about 60 ms for the 4,464-row sample, one request at a
    time, during which no other client is served. Here the worker serialises the answer
    (``api.SERIALIZED_JSON``) and this process only sends the bytes: the arguments, the
    errors and every other content type go the same way as on DEEPaaS's route, whose answers
    are still validated (tests/test_service.py checks that both routes give the same answer
    and that it loads with the response schema).
    """
    from aiohttp import web
    import webargs.core
    from deepaas.api.v2 import predict as v2_predict
    from deepaas.model.v2.wrapper import ReturnedFile

    from mods import api

    model_obj = getattr(v2_handler, "__self__", None)
    model_obj = getattr(model_obj, "model_obj", None)
    if model_obj is None:  # not the handler this was written for: keep DEEPaaS's
        LOG.warning("DEEPaaS predict handler not recognised; /models/%s/predict uses it",
                    MODEL)
        return v2_handler
    aux = model_obj.get_predict_args()
    if aux.get("accept") is not None:  # as DEEPaaS's handler reads it
        aux["accept"].validate.choices.append("*/*")
        aux["accept"].load_default = aux["accept"].validate.choices[0]
        aux["accept"].location = "headers"
    handler_args = webargs.core.dict2schema(aux)
    handler_args.opts.ordered = True
    parser = v2_predict.aiohttpparser.parser

    async def post(request):
        args = await parser.parse(handler_args, request)
        accept = args.get("accept") or "application/json"
        as_json = accept in ("application/json", "*/*")
        if as_json:
            args["accept"] = api.SERIALIZED_JSON
        task = model_obj.predict(**args)
        await task
        ret = task.result()["output"]
        if as_json:
            body = ret if isinstance(ret, bytes) else str(ret).encode("utf-8")
            return web.Response(body=body, content_type="application/json", charset="utf-8")
        if isinstance(ret, ReturnedFile):
            ret = open(ret.filename, "rb")
        return web.Response(body=ret, content_type=accept)

    return post


def _document_aliases(app):
    """Copy the Swagger entries of DEEPaaS's routes onto the aliases."""
    spec = app.get("swagger_dict") if hasattr(app, "get") else None
    if not spec or "paths" not in spec:
        return
    paths = spec["paths"]
    for v2_path, alias, methods in (
            ("/models/%s/predict/" % MODEL, "/models/%s/predict" % MODEL, {"post": "post"}),
            ("/models/%s/train/" % MODEL, "/models/%s/train" % MODEL,
             {"put": "post", "post": "post"})):
        source = next((v for k, v in paths.items() if k.endswith(v2_path)), None)
        if source is None:
            continue
        entry = paths.setdefault(alias, {})
        for method, from_method in methods.items():
            if from_method in source:
                op = dict(source[from_method])
                op["summary"] = op.get("summary", "") + " (MODS alias)"
                entry[method] = op


def _subapps(app):
    from aiohttp.web_urldispatcher import PrefixedSubAppResource

    for resource in app.router.resources():
        if isinstance(resource, PrefixedSubAppResource):
            yield resource._app


def _pipelined_predictions():
    """DEEPaaS's models get a :class:`mods.pools.PredictionPool` instead of its pool.

    ``MODS_PREDICT_QUEUE`` (default 1) sets how many tasks a prediction worker is given at
    a time: 1 hands out a task only to an idle worker, as DEEPaaS does; 2 gives a busy
    worker its next task in advance (no measurable gain with 20 clients on 2 cores, and a
    small request can then wait behind a large one).
    """
    from deepaas.model.v2 import wrapper

    from mods.pools import PredictionPool

    try:
        depth = int(os.environ.get("MODS_PREDICT_QUEUE", "1"))
    except ValueError:
        depth = 1
        LOG.warning("MODS_PREDICT_QUEUE is not an integer: using 1")

    def init_executor(self):
        return PredictionPool(self._workers, depth=depth)

    wrapper.ModelWrapper._init_executor = init_executor


async def build_app(conf):
    """The DEEPaaS app with MODS's routes, middlewares and training pool."""
    from deepaas import api, model

    previous = _recover()
    _pipelined_predictions()
    app = await api.get_app(enable_doc=conf.doc_endpoint, enable_train=conf.train_endpoint,
                            enable_predict=conf.predict_endpoint, base_path=conf.base_path)
    app.middlewares.append(make_error_middleware())
    app.middlewares.append(make_accept_middleware())
    app.middlewares.append(make_progress_middleware())
    app.middlewares.append(make_form_check_middleware())
    for name, wrapper in model.V2_MODELS.items():
        if name == MODEL:
            app.on_cleanup.append(_separate_training_pool(wrapper, conf.train_workers))
    handlers = _alias_routes(app)
    delete = handlers.get(("DELETE", "/models/%s/train/{uuid}" % MODEL))
    if delete is not None:
        app.middlewares.append(make_cancel_middleware(delete.__self__))
        app.middlewares.append(make_records_middleware(delete.__self__, previous))
    return app


def _handle_signals():
    """Exit at once on SIGINT/SIGTERM, stopping the worker processes first.

    aiohttp's graceful exit runs DEEPaaS's pool clean-up, which waits forever when the
    workers are already gone (the whole process group signalled, as systemd's
    ``KillMode=control-group`` or ``kill -- -PGID`` do).  Running trainings are lost either
    way; the next start marks their records interrupted (:func:`_recover`).
    """
    import logging as _logging
    import multiprocessing
    import signal

    def stop(signum, _frame):
        print("mods-serve: got signal %d, stopping workers and exiting" % signum, flush=True)
        for child in multiprocessing.active_children():
            try:
                child.kill()
            except Exception:  # pragma: no cover
                pass
        # The worker pools' semaphores: unlinked by their finalizers (exit priority 0 and
        # up; the queue-joining ones, which could wait on dead workers, have lower ones),
        # else the resource tracker warns of "leaked semaphore objects" at every stop.
        try:
            from multiprocessing import util as _mp_util

            _mp_util._run_finalizers(0)
        except Exception:  # pragma: no cover
            pass
        _logging.shutdown()
        os._exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def main(argv=None):
    """Console script ``mods-serve``: same options as ``deepaas-run``."""
    argv = list(sys.argv if argv is None else ["mods-serve"] + list(argv))
    quiet_tensorflow()
    os.environ.setdefault("DEEPAAS_V2_MODEL", MODEL)
    conf = _register_options()
    if not any(a.startswith("--client-max-size") for a in argv):
        from mods import config

        size = config.max_upload_size()  # MODS_MAX_UPLOAD_SIZE; 0: (almost) no limit
        argv += ["--client-max-size", str(size or sys.maxsize)]
    from aiohttp import web
    from deepaas import config as dconfig

    _handle_signals()
    dconfig.config_and_logging(argv)
    for name, env, _default, _text in LIMIT_OPTIONS:  # workers inherit the environment
        value = getattr(conf, name.replace("-", "_"))
        if value is not None:
            os.environ[env] = repr(value)
    print("MODS serving on http://%s:%s (Swagger UI: /api, predict: POST /models/mods/predict)"
          % (conf.listen_ip, conf.listen_port), flush=True)
    web.run_app(build_app(conf), host=conf.listen_ip, port=conf.listen_port,
                print=None, handle_signals=False)


if __name__ == "__main__":
    main()
