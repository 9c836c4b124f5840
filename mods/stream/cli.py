"""``mods-stream``: score feature rows as they arrive and raise alerts in real time.

::

    mods-stream --model-name NAME [--input -|PATH|tcp://HOST:PORT] [--follow]
                [--from-start|--from-end] [--output PATH] [--webhook URL]
                [--key-column NAME] [--time-column NAME] [--models-dir DIR]
    mods-stream --model-name NAME --zeek --input DIR_OR_FILE [--follow] [--local-nets CIDRS]
                [--windows w01h-s10m] [--query SELECTION_QUERY] [--lateness SECONDS]

Each input row (TSV/CSV with the model's columns, header first) gives one JSON line: see
:meth:`mods.stream.scorer.StreamScorer.push`.  Alert events (when one opens, grows or
closes) are in the line's ``event`` and, with ``--webhook``, POSTed as JSON
(``{"model_name", "stream", "event"}``).  A malformed line is counted and skipped with a
warning; SIGTERM or SIGINT stops reading, scores the rows still held (missing cells filled
with the last known values, as the batch reader does at the end of a file), flushes the
output and the webhook queue and exits with status 0.  Bad arguments, an unknown model, a
missing file exit with status 2 and one line on stderr.

With ``--zeek`` the input is raw Zeek logs (a folder of current logs followed with
``--follow``, or log files read once), turned into window features online by
:mod:`mods.stream.zeek_online` and mapped to the model's features by a selection query.
"""

import json
import logging
import signal
import sys
import time

from mods.cliparser import Parser
from mods.errors import ConfigError, DataError, ModsError, fail
from mods.tfenv import quiet_tensorflow

LOG = logging.getLogger("mods.stream")

READ_TIMEOUT_S = 0.2
WARN_EVERY = 1000  # after the first 10 malformed lines, one warning per this many



def build_parser():
    """The ``mods-stream`` argument parser."""
    p = Parser(prog="mods-stream", description="Score feature rows as they arrive: one JSON "
                "line per time step (forecast, score, level, alert events).")
    p.add_argument("--model-name", default=None,
                   help="bundle name (default: $MODS_DEFAULT_MODEL or 'default')")
    p.add_argument("--models-dir", default=None,
                   help="models folder (default: $MODS_MODELS_DIR or models/)")
    p.add_argument("--input", default="-", metavar="-|PATH|tcp://HOST:PORT",
                   help="stdin (-, default), a file, or a TCP address to listen on (each "
                   "connection sends a header line, then rows)")
    p.add_argument("--follow", action="store_true",
                   help="keep reading the file as it grows, like tail -F (survives "
                   "rotation and truncation)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--from-start", dest="from_end", action="store_false",
                       help="read the file from its first row (default)")
    start.add_argument("--from-end", dest="from_end", action="store_true",
                       help="skip the rows already in the file (its header is still read)")
    p.set_defaults(from_end=False)
    p.add_argument("--output", default=None, metavar="PATH",
                   help="append the JSON lines to PATH (default: stdout)")
    p.add_argument("--webhook", default=None, metavar="URL",
                   help="POST each alert event (opened, grew, closed) as JSON to URL")
    p.add_argument("--webhook-retries", type=int, default=5,
                   help="retries per event, with exponential backoff (default 5)")
    p.add_argument("--key-column", default=None, metavar="NAME",
                   help="column holding a stream id: one forecast/detector state per id")
    p.add_argument("--time-column", default=None, metavar="NAME",
                   help="time column (default: the model's, usually window_start)")
    z = p.add_argument_group("raw Zeek logs (--zeek)")
    z.add_argument("--zeek", action="store_true",
                   help="--input is a Zeek log folder (conn.log, dns.log... followed with "
                   "--follow, rotation included) or log files (TSV or JSON, gzip) read once; "
                   "window features are computed online as the batch feature builder does")
    z.add_argument("--local-nets", default=None, metavar="CIDRS",
                   help="local networks, comma-separated (default RFC 1918)")
    z.add_argument("--windows", default="w01h-s10m", metavar="NAME",
                   help="window (default w01h-s10m; its slide must be the model's step)")
    z.add_argument("--query", default=None, metavar="SELECTION_QUERY",
                   help="datapool columns to model features, e.g. 'conn|in_count_uid~conn_in;"
                   "ssh|in~ssh_in' (default: the default model's four features)")
    z.add_argument("--lateness", type=float, default=None, metavar="SECONDS",
                   help="allowed lateness of records before a window closes (default 600)")
    p.add_argument("--verbose", action="store_true", help="log informational messages")
    return p


class Runner:
    """Lines in, JSON lines and webhook events out (the loop of ``mods-stream``).

    Parameters
    ----------
    forecaster : mods.forecast.forecaster.Forecaster
    write : callable
        Called with the text of a batch of JSON lines.
    webhook : mods.stream.webhook.Webhook, optional
    model_name : str
    time_column, key_column : str, optional
    """

    def __init__(self, forecaster, write, webhook=None, model_name=None, time_column=None,
                 key_column=None):
        from mods.stream.rows import LineParser

        self.fc = forecaster
        self.write = write
        self.webhook = webhook
        self.model_name = model_name
        self.key_column = key_column
        tcol = time_column or forecaster.info.get("time_column")
        self.parser = LineParser(forecaster.columns, tcol, key_column)
        self.streams = {}  # key -> (Regulariser, StreamScorer)
        self.malformed = 0
        self.rows_out = 0

    def _stream(self, key):
        from mods.stream.rows import Regulariser
        from mods.stream.scorer import StreamScorer

        if key not in self.streams:
            self.streams[key] = (
                Regulariser(len(self.fc.columns), self.fc.info.get("freq_seconds")),
                StreamScorer(self.fc, stream=key if self.key_column else None))
        return self.streams[key]

    def feed(self, lines):
        """Parse, regularise and score ``[(origin, line)]``; write the results."""
        ready = {}
        for origin, line in lines:
            if line is None:
                self.parser.forget(origin)
                continue
            try:
                parsed = self.parser.parse(line, origin)
            except DataError as exc:
                self.malformed += 1
                if self.malformed <= 10 or self.malformed % WARN_EVERY == 0:
                    LOG.warning("malformed line skipped (%d so far): %s: %r", self.malformed,
                                exc, line[:80])
                continue
            if parsed is None:
                continue
            key, when, values = parsed
            reg, _ = self._stream(key)
            rows = reg.push(when, values)
            if rows:
                ready.setdefault(key, []).extend(rows)
        self._score(ready)

    def _score(self, ready):
        out = []
        for key, rows in ready.items():
            _, scorer = self._stream(key)
            for res in scorer.push(rows):
                out.append(json.dumps(res, separators=(",", ":")))
                if self.webhook is not None and "event" in res:
                    self.webhook.post({"model_name": self.model_name, "stream": key,
                                       "time": res["time"], "event": res["event"]})
        if out:
            self.rows_out += len(out)
            self.write("\n".join(out) + "\n")

    def flush(self):
        """Score the rows still held (end of input or shutdown)."""
        self._score({key: reg.flush() for key, (reg, _) in self.streams.items()})

    def summary(self):
        """Counters for the exit message."""
        regs = [reg for reg, _ in self.streams.values()]
        return {"rows": self.rows_out, "streams": len(self.streams),
                "malformed": self.malformed, "late": sum(r.late for r in regs),
                "filled_rows": sum(r.filled_rows for r in regs),
                "filled_cells": sum(r.filled_cells for r in regs)}


def _setup_logging(verbose):
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_tensorflow()


def _zeek_input(args, fc):
    """The Zeek source and the online feature builder for ``--zeek``."""
    from mods.features import parse_window
    from mods.stream import zeek_online

    if args.key_column:
        raise fail(ConfigError, "--key-column does not apply to --zeek (one stream)", LOG)
    windows = [w for w in args.windows.split(",") if w.strip()]
    if len(windows) != 1:
        raise fail(ConfigError, "--zeek: give one window (--windows w01h-s10m)", LOG)
    window = parse_window(windows[0])
    step = fc.info.get("freq_seconds")
    if step and float(window.slide) != float(step):
        raise fail(ConfigError, "--windows %s slides by %d s, the model's step is %g s"
                   % (window.name, window.slide, step), LOG)
    lateness = zeek_online.DEFAULT_LATENESS_S if args.lateness is None else args.lateness
    feats = zeek_online.ZeekFeatures(args.query, fc.columns, window, args.local_nets,
                                     lateness)
    source = zeek_online.open_zeek_source(args.input, feats.protocols, follow=args.follow,
                                          from_end=args.from_end)
    return source, feats


def run(args):
    """Run ``mods-stream`` with parsed ``args``; return the exit status."""
    from mods import config
    from mods.forecast import bundle
    from mods.stream import sources
    from mods.stream.webhook import Webhook, check_url

    if not args.zeek:
        sources.parse_input(args.input)  # bad URL: exit 2 before loading anything
    if args.webhook:
        check_url(args.webhook)
    if not args.zeek and args.follow and sources.parse_input(args.input)[0] != "file":
        raise fail(ConfigError, "--follow applies to a file --input", LOG)
    name = args.model_name or config.default_model_name()
    fc = bundle.load(name, args.models_dir)
    bundle.settle_gc()  # no full collections over TensorFlow's objects while scoring
    feats = None
    if args.zeek:
        source, feats = _zeek_input(args, fc)
    else:
        source = sources.open_source(args.input, follow=args.follow, from_end=args.from_end)
    if isinstance(source, sources.TcpListenSource):
        print("mods-stream: listening on tcp://%s:%d" % source.address, file=sys.stderr,
              flush=True)
    out = open(args.output, "a", encoding="utf-8") if args.output else sys.stdout

    def write(text):
        out.write(text)
        out.flush()

    hook = Webhook(args.webhook, retries=args.webhook_retries) if args.webhook else None
    runner = Runner(fc, write, hook, name, args.time_column, args.key_column)
    stop = []

    def on_signal(signum, _frame):
        stop.append(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    t0 = time.monotonic()
    try:
        while not stop:
            lines = source.read(READ_TIMEOUT_S)
            if lines is None:
                break
            if feats is not None:
                lines = [("zeek", line) for line in feats.feed(lines, source.names)]
            if lines:
                runner.feed(lines)
        if feats is not None and not (stop and args.follow):
            runner.feed([("zeek", line) for line in feats.flush()])
        runner.flush()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        source.close()
        if hook is not None:
            hook.close()
        if out is not sys.stdout:
            out.close()
    info = runner.summary()
    if feats is not None:
        info.update(feats.summary())
    info["seconds"] = round(time.monotonic() - t0, 3)
    if hook is not None:
        info.update({"webhook_sent": hook.sent, "webhook_failed": hook.failed})
    print("mods-stream: %s%s" % ("stopped by signal; " if stop else "",
                                 json.dumps(info)), file=sys.stderr, flush=True)
    return 0


def main(argv=None):
    """Entry point of ``mods-stream``."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return run(args)
    except ModsError as exc:
        print("mods-stream: error: %s" % exc, file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of stdout went away
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
