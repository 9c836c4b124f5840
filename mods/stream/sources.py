"""Where lines come from: stdin, a followed file (``tail -F``) or TCP sockets.

Every source has the same interface: :meth:`read` waits at most ``timeout`` seconds and
returns the complete lines available now, as ``[(origin, line)]`` (``origin`` names the
header context: a file generation, a connection), an empty list when nothing came, or
``None`` at the end of the input.  Returning everything available at once is what lets the
scorer batch its model calls in bursts.  ``close()`` releases the source.
"""

import errno
import logging
import os
import select
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from mods.errors import ConfigError, DataError, fail

LOG = logging.getLogger("mods.stream")

POLL_S = 0.005  # file polling interval when following


def _split(buffer, data):
    """Append ``data`` to ``buffer`` (bytes); return (complete lines, rest)."""
    buffer += data
    if b"\n" not in buffer:
        return [], buffer
    head, _, rest = buffer.rpartition(b"\n")
    return [line.decode("utf-8", errors="replace") for line in head.split(b"\n")], rest


class FdSource:
    """Lines of a file descriptor (stdin, a pipe), read without blocking past ``timeout``."""

    def __init__(self, fd=0, origin="stdin"):
        self.fd = fd
        self.origin = origin
        self.rest = b""
        self.done = False

    def read(self, timeout):
        if self.done:
            return None
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        data = os.read(self.fd, 1 << 20)
        if not data:
            self.done = True
            lines = [self.rest.decode("utf-8", errors="replace")] if self.rest.strip() else []
            self.rest = b""
            return [(self.origin, line) for line in lines] or None
        lines, self.rest = _split(self.rest, data)
        return [(self.origin, line) for line in lines]

    def close(self):
        pass


class FileSource:
    """Lines of a file, optionally followed as it grows, like ``tail -F``.

    Parameters
    ----------
    path : str or Path
    follow : bool
        Keep reading as the file grows; survive rotation (the name now points to a new file:
        the rest of the old one is read, then the new one from its start) and truncation
        (read again from the start); wait for a file that does not exist yet.
    from_end : bool
        Start at the end of the file (its header line is still read first).
    """

    def __init__(self, path, follow=False, from_end=False):
        self.path = Path(path)
        self.follow = follow
        self.generation = 0
        self.fh = None
        self.rest = b""
        self.header = None
        self.done = False
        if not self.path.is_file():
            if not follow:
                raise fail(DataError, "no such file: %s" % self.path, LOG)
            LOG.warning("%s does not exist yet: waiting for it", self.path)
        else:
            self._open(from_end)

    @property
    def origin(self):
        return "%s#%d" % (self.path, self.generation)

    def _open(self, from_end=False):
        self.fh = open(self.path, "rb")
        self.ino = os.fstat(self.fh.fileno()).st_ino
        self.rest = b""
        self.generation += 1
        self.header = None
        if from_end:
            first = self.fh.readline()
            self.header = first.decode("utf-8", errors="replace").rstrip("\r\n") \
                if first else None
            self.fh.seek(0, os.SEEK_END)

    def _drain(self):
        data = self.fh.read()
        if not data:
            return []
        lines, self.rest = _split(self.rest, data)
        return lines

    def read(self, timeout):
        if self.done:
            return None
        out = []
        if self.header is not None:
            out.append((self.origin, self.header))
            self.header = None
        deadline = time.monotonic() + timeout
        while True:
            if self.fh is not None:
                lines = self._drain()
                if lines:
                    return out + [(self.origin, line) for line in lines]
                if not self.follow:
                    tail = self.rest.decode("utf-8", errors="replace")
                    self.rest = b""
                    self.fh.close()
                    self.fh = None
                    self.done = True
                    return out + ([(self.origin, tail)] if tail.strip() else []) or None
                if self._rotated():
                    continue
            elif self.path.is_file():
                LOG.info("%s appeared: reading it", self.path)
                self._open()
                continue
            if out or time.monotonic() >= deadline:
                return out
            time.sleep(POLL_S)

    def _rotated(self):
        """Reopen when the name points to another file or the file shrank."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False  # moved away, not yet replaced: keep the old handle
        if st.st_ino != self.ino:
            lines = self._drain()  # anything written to the old file before the move
            if lines:
                LOG.warning("%d line(s) of the rotated file lost their order", len(lines))
            LOG.info("%s was rotated: reading the new file", self.path)
            self.fh.close()
            self._open()
            return True
        if st.st_size < self.fh.tell():
            LOG.warning("%s was truncated: reading it from the start", self.path)
            self.fh.seek(0)
            self.rest = b""
            self.generation += 1
            return True
        return False

    def close(self):
        if self.fh is not None:
            self.fh.close()


class TcpListenSource:
    """Lines sent by TCP clients to ``host:port`` (several at once; each its own header).

    The source never ends by itself (a long-running service); ``port`` 0 picks a free port
    (see :attr:`address`).
    """

    def __init__(self, host, port):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise fail(ConfigError, "cannot listen on %s:%d: %s" % (host, port, exc.strerror),
                       LOG) from None
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()[:2]
        self.clients = {}  # socket -> [origin, rest]
        self.count = 0

    def read(self, timeout):
        ready, _, _ = select.select([self.sock] + list(self.clients), [], [], timeout)
        out = []
        for s in ready:
            if s is self.sock:
                try:
                    conn, peer = self.sock.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                self.count += 1
                self.clients[conn] = ["tcp:%s:%d#%d" % (peer[0], peer[1], self.count), b""]
                LOG.info("connection from %s:%d", peer[0], peer[1])
                continue
            origin, rest = self.clients[s]
            try:
                data = s.recv(1 << 20)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    continue
                data = b""
            if not data:
                if rest.strip():
                    out.append((origin, rest.decode("utf-8", errors="replace")))
                s.close()
                del self.clients[s]
                out.append((origin, None))  # end of that origin: forget its header
                continue
            lines, self.clients[s][1] = _split(rest, data)
            out.extend((origin, line) for line in lines)
        return out

    def close(self):
        for s in list(self.clients):
            s.close()
        self.sock.close()


def parse_input(spec):
    """``("stdin",)``, ``("file", path)`` or ``("tcp", host, port)`` from ``--input``.

    Raises
    ------
    ConfigError
        For a URL that is not ``tcp://HOST:PORT`` or another scheme.
    """
    if spec in (None, "", "-"):
        return ("stdin",)
    if "://" in spec:
        url = urlsplit(spec)
        if url.scheme != "tcp":
            raise fail(ConfigError, "unsupported input %r: give -, a file path or "
                       "tcp://HOST:PORT" % spec, LOG)
        try:
            port = url.port
        except ValueError:
            port = None
        if not url.hostname or port is None or url.path not in ("", "/"):
            raise fail(ConfigError, "bad input URL %r: expected tcp://HOST:PORT" % spec, LOG)
        return ("tcp", url.hostname, port)
    return ("file", spec)


def open_source(spec, follow=False, from_end=False):
    """The source for ``--input`` (see :func:`parse_input`)."""
    kind = parse_input(spec)
    if kind[0] == "stdin":
        return FdSource(0)
    if kind[0] == "tcp":
        return TcpListenSource(kind[1], kind[2])
    return FileSource(kind[1], follow=follow, from_end=from_end)
