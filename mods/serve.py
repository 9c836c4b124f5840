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

DEFAULT_MAX_UPLOAD = 100 * 1024 * 1024
MODEL = "mods"
LOG = logging.getLogger("mods.serve")


def _register_options():
    from oslo_config import cfg

    import deepaas.cmd.run  # noqa: F401  registers --listen-ip, --listen-port, --base-path

    opts = [cfg.IntOpt("train-workers", default=1, min=1,
                       help="Processes reserved for trainings (predictions use --workers).")]
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

    from mods.errors import ModsError

    @web.middleware
    async def errors(request, handler):
        try:
            return await handler(request)
        except ModsError as exc:
            return _json_error(400, exc)
        except web.HTTPUnprocessableEntity as exc:
            return _json_error(400, _validation_message(exc.text))
        except web.HTTPRequestEntityTooLarge as exc:
            return _json_error(413, "upload too large: %s" % exc.text)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never a traceback page
            LOG.exception("internal error on %s %s", request.method, request.path)
            return _json_error(500, "internal error: %s" % type(exc).__name__)

    return errors


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


class TrainingPool:
    """Processes for trainings: ``n_workers`` slots, each a one-process executor (spawn).

    Unlike DEEPaaS's ``CancellablePool``: a worker that dies (killed, out of memory, crashed)
    fails its training with an error and is replaced, instead of leaving the training
    "running" forever and its slot blocked; a cancelled training's process is killed and the
    task really ends cancelled.
    """

    def __init__(self, n_workers):
        self._n_workers = n_workers
        self._slots = None
        self._free = []
        self._busy = set()

    @staticmethod
    def _new_executor():
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=1,
                                   mp_context=multiprocessing.get_context("spawn"))

    @staticmethod
    def _kill(executor):
        for proc in list((getattr(executor, "_processes", None) or {}).values()):
            try:
                proc.kill()
            except Exception:  # pragma: no cover
                pass
        executor.shutdown(wait=False, cancel_futures=True)

    async def apply(self, fn):
        import datetime
        from concurrent.futures.process import BrokenProcessPool

        from mods.errors import ModsError

        if self._slots is None:
            self._slots = asyncio.Semaphore(self._n_workers)
        async with self._slots:
            executor = self._free.pop() if self._free else self._new_executor()
            self._busy.add(executor)
            healthy = False
            try:
                output = await asyncio.wrap_future(executor.submit(fn))
                healthy = True
            except BrokenProcessPool:
                raise ModsError("the training process ended before finishing (killed, out "
                                "of memory or crashed); see the server log") from None
            except asyncio.CancelledError:
                raise
            except BaseException:
                healthy = True  # the training raised: its process is fine
                raise
            finally:
                self._busy.discard(executor)
                if healthy:
                    self._free.append(executor)
                else:
                    self._kill(executor)
        return {"output": output,
                "finish_date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")}

    def shutdown(self):
        for executor in list(self._busy) + self._free:
            self._kill(executor)
        self._busy.clear()
        self._free.clear()


def _end_record(run_id, status, message):
    """Mark a training's record ended when its process could not (killed, cancelled)."""
    from mods import runs

    record = runs.read(run_id)
    if record and record.get("status") == "running":
        record.update(status=status, message=message)
        runs.write(run_id, record)


def _separate_training_pool(wrapper, n_workers):
    """Give ``wrapper``'s trainings their own processes (predictions keep theirs)."""
    from deepaas.model.v2.wrapper import UploadedFile

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
    app.router.add_post("/models/%s/predict" % MODEL, predict)
    app.router.add_put("/models/%s/train" % MODEL, train)
    app.router.add_post("/models/%s/train" % MODEL, train)
    _document_aliases(app)
    return handlers


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


async def build_app(conf):
    """The DEEPaaS app with MODS's routes, middlewares and training pool."""
    from deepaas import api, model

    app = await api.get_app(enable_doc=conf.doc_endpoint, enable_train=conf.train_endpoint,
                            enable_predict=conf.predict_endpoint, base_path=conf.base_path)
    app.middlewares.append(make_error_middleware())
    app.middlewares.append(make_progress_middleware())
    for name, wrapper in model.V2_MODELS.items():
        if name == MODEL:
            app.on_cleanup.append(_separate_training_pool(wrapper, conf.train_workers))
    handlers = _alias_routes(app)
    delete = handlers.get(("DELETE", "/models/%s/train/{uuid}" % MODEL))
    if delete is not None:
        app.middlewares.append(make_cancel_middleware(delete.__self__))
    return app


def _handle_signals():
    """Exit at once on SIGINT/SIGTERM, stopping the worker processes first.

    aiohttp's graceful exit runs DEEPaaS's pool clean-up, which waits forever when the
    workers are already gone (the whole process group signalled, as systemd's
    ``KillMode=control-group`` or ``kill -- -PGID`` do).  Running trainings are lost either
    way; their records stay "running" with the dead process id.
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
        _logging.shutdown()
        os._exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def main(argv=None):
    """Console script ``mods-serve``: same options as ``deepaas-run``."""
    argv = list(sys.argv if argv is None else ["mods-serve"] + list(argv))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("DEEPAAS_V2_MODEL", MODEL)
    conf = _register_options()
    if not any(a.startswith("--client-max-size") for a in argv):
        argv += ["--client-max-size", str(DEFAULT_MAX_UPLOAD)]
    from aiohttp import web
    from deepaas import config as dconfig

    _handle_signals()
    dconfig.config_and_logging(argv)
    print("MODS serving on http://%s:%s (Swagger UI: /api, predict: POST /models/mods/predict)"
          % (conf.listen_ip, conf.listen_port), flush=True)
    web.run_app(build_app(conf), host=conf.listen_ip, port=conf.listen_port,
                print=None, handle_signals=False)


if __name__ == "__main__":
    main()
