"""``mods-features``: Zeek logs to the feature datapool, and sample Zeek logs.

Build a datapool from Zeek logs (a file or a folder tree of rotated logs)::

    mods-features --logs /var/zeek/logs --out datapool --windows w01h-s10m,w10m-s10m \\
        --local-nets 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16 [--engine pandas|spark] \\
        [--master local[2]] [--quiet]

It writes ``<out>/tsv/<protocol>/YYYY/MM/DD/<window>.tsv`` (see :mod:`mods.features`) and
prints one summary line. ``--engine spark`` runs the same computation on Spark
(``--master``: ``local[2]`` by default, or any cluster URL) and writes the same files.

Write sample logs instead (seeded, hourly rotated, with a port scan and an SSH brute
force; see :mod:`mods.features.zeekgen`)::

    mods-features --generate-logs DIR [--days 1] [--seed 0] [--start 2019-06-01]
        [--scale 1.0] [--format tsv|json] [--compress gz|plain|mixed] [--no-incidents]

A progress bar goes to stderr (unless ``--quiet``). Bad input (a file that is not a Zeek
log, a bad window name or network...) exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import logging
import sys
import time

from mods.cliparser import Parser
from mods.errors import ModsError



class Progress:
    """A one-line progress bar on a stream (stderr), redrawn at most 10 times a second.

    On a terminal the line is redrawn in place; elsewhere (a log file) a line is printed
    every 10 %.
    """

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started, self.last, self.last_decile, self.shown = time.monotonic(), 0.0, -1, False

    def __call__(self, done: int, total: int, what: str = "") -> None:
        now = time.monotonic()
        frac = done / total if total else 1.0
        if self.tty:
            if done < total and now - self.last < 0.1:
                return
            self.last = now
            filled = int(round(self.width * frac))
            line = "\r%s [%s%s] %3d%% %d/%d %.0fs %s" % (
                self.label, "#" * filled, "." * (self.width - filled), 100 * frac, done, total,
                now - self.started, what[:40])
            self.stream.write(line.ljust(self.width + 60)[: self.width + 100])
            self.shown = True
        else:
            decile = int(10 * frac)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write("%s: %3d%% (%d/%d, %.0fs) %s\n" % (
                self.label, 100 * frac, done, total, now - self.started, what))
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _parser():
    parser = Parser(prog="mods-features", description="Compute the window features of Zeek "
                     "logs into a MODS datapool (<out>/tsv/<protocol>/YYYY/MM/DD/<window>"
                     ".tsv), or write sample Zeek logs.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--logs", metavar="PATH", help="Zeek log file or folder (searched "
                      "recursively; TSV or JSON, plain or gzip)")
    mode.add_argument("--generate-logs", metavar="DIR", help="write sample Zeek logs to DIR "
                      "instead")
    build = parser.add_argument_group("building a datapool (--logs)")
    build.add_argument("--out", metavar="DATAPOOL", help="datapool folder to write")
    build.add_argument("--windows", default="w01h-s10m", help="comma-separated window names "
                       "(default: w01h-s10m), e.g. w01h-s10m,w10m-s10m")
    build.add_argument("--local-nets", default=None, help="comma-separated local networks "
                       "(CIDR; default: 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16)")
    build.add_argument("--engine", choices=("pandas", "spark"), default="pandas",
                       help="where to compute (default: pandas)")
    build.add_argument("--master", default=None, help="Spark master URL (spark engine; "
                       "default: local[2])")
    gen = parser.add_argument_group("sample logs (--generate-logs)")
    gen.add_argument("--days", type=int, default=1, help="number of days (default: 1)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    gen.add_argument("--start", default="2019-06-01", help="first day, UTC (default: "
                     "2019-06-01)")
    gen.add_argument("--scale", type=float, default=1.0, help="traffic scale (default: 1.0, "
                     "about 75,000 records a day)")
    gen.add_argument("--format", choices=("tsv", "json"), default="tsv", help="Zeek TSV or "
                     "JSON lines (default: tsv)")
    gen.add_argument("--compress", choices=("gz", "plain", "mixed"), default="gz",
                     help="gzip the files: all, none or every other hour (default: gz)")
    gen.add_argument("--no-incidents", action="store_true", help="no port scan, no SSH "
                     "brute force")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def _build(args, progress):
    from mods.features import build_datapool

    report = build_datapool(args.logs, args.out, windows=args.windows,
                            local_nets=args.local_nets, engine=args.engine,
                            master=args.master, progress=progress)
    rate = report.n_records / report.seconds if report.seconds > 0 else 0.0
    counts = ", ".join(f"{k}={v}" for k, v in report.records.items())
    print(f"wrote {len(report.files)} files to {args.out} ({report.engine}: {report.n_records}"
          f" records [{counts}], {report.malformed} malformed lines skipped, "
          f"{report.seconds:.1f} s, {rate:,.0f} records/s)")


def _generate(args, progress):
    from mods.features.zeekgen import generate_logs

    report = generate_logs(args.generate_logs, start=args.start, days=args.days,
                           seed=args.seed, scale=args.scale, fmt=args.format,
                           compress=args.compress, incidents=not args.no_incidents,
                           progress=progress)
    counts = ", ".join(f"{k}={v}" for k, v in report.records.items())
    print(f"wrote {len(report.files)} files to {args.generate_logs} ({report.n_records} "
          f"records [{counts}], {len(report.incidents)} incidents)")


def main(argv=None) -> int:
    """Entry point of ``mods-features``; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.logs is not None and not args.out:
        parser.error("--out DATAPOOL is required with --logs")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="mods-features: %(levelname)s: %(message)s")
    progress = None if args.quiet else Progress("logs" if args.logs is not None else "hours")
    try:
        if args.logs is not None:
            _build(args, progress)
        else:
            _generate(args, progress)
    except ModsError as exc:
        if progress is not None:
            progress.close()
        print("mods-features: error: %s" % exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mods-features: interrupted", file=sys.stderr)
        return 130
    if progress is not None:
        progress.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
