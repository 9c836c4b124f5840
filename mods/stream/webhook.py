"""Alert events POSTed as JSON to a webhook, from a background thread.

Scoring never waits for the webhook: events go into a bounded queue (the oldest is dropped,
with a warning, when it is full); a worker thread POSTs each one, retrying with exponential
backoff (0.5 s, 1 s, 2 s... at most ``max_delay``) up to ``retries`` times on connection
errors, timeouts and 5xx/429 answers, then gives it up with a warning.  :meth:`close`
sends what is queued within ``grace`` seconds.
"""

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from mods.errors import ConfigError, fail

LOG = logging.getLogger("mods.stream")


def check_url(url):
    """Raise :class:`ConfigError` unless ``url`` is an http(s) URL."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise fail(ConfigError, "bad webhook URL %r: expected http(s)://HOST[:PORT]/PATH"
                   % url, LOG)
    return url


class Webhook:
    """POST JSON payloads to ``url`` in the background.

    Parameters
    ----------
    url : str
    retries : int
        Attempts after the first one.
    timeout : float
        Seconds per attempt.
    backoff, max_delay : float
        First delay between attempts, doubled each time, capped at ``max_delay``.
    capacity : int
        Payloads queued at most.

    Attributes
    ----------
    sent, failed, dropped : int
        Payloads delivered, given up after the retries, dropped from a full queue.
    """

    def __init__(self, url, retries=5, timeout=5.0, backoff=0.5, max_delay=30.0,
                 capacity=10000):
        self.url = check_url(url)
        self.retries, self.timeout = int(retries), float(timeout)
        self.backoff, self.max_delay = float(backoff), float(max_delay)
        self.queue = queue.Queue(maxsize=int(capacity))
        self.sent = self.failed = self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mods-webhook", daemon=True)
        self._thread.start()

    def post(self, payload):
        """Queue ``payload`` (a JSON-able dict); never blocks."""
        while True:
            try:
                self.queue.put_nowait(payload)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.queue.task_done()
                    self.dropped += 1
                    LOG.warning("webhook queue full: oldest event dropped")
                except queue.Empty:
                    pass

    def _send(self, payload):
        data = json.dumps(payload).encode()
        delay = self.backoff
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.url, data=data, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "mods-stream"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    resp.read()
                self.sent += 1
                return
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:
                    LOG.warning("webhook %s refused the event (HTTP %d): not retried",
                                self.url, exc.code)
                    self.failed += 1
                    return
                why = "HTTP %d" % exc.code
            except (urllib.error.URLError, OSError, ValueError) as exc:
                why = str(getattr(exc, "reason", exc))
            if attempt == self.retries or self._stop.wait(0) and attempt >= 1:
                break
            LOG.info("webhook %s: %s; retrying in %.1f s", self.url, why, delay)
            if self._stop.wait(delay) and attempt >= 1:
                break
            delay = min(delay * 2, self.max_delay)
        self.failed += 1
        LOG.warning("webhook %s unreachable (%s): event given up", self.url, why)

    def _run(self):
        while True:
            try:
                payload = self.queue.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            try:
                self._send(payload)
            finally:
                self.queue.task_done()

    def close(self, grace=5.0):
        """Deliver what is queued within ``grace`` seconds, then stop the worker."""
        deadline = time.monotonic() + grace
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        self._thread.join(max(deadline - time.monotonic(), 0.1))
        left = self.queue.qsize()
        if left:
            LOG.warning("webhook: %d event(s) not delivered at exit", left)
