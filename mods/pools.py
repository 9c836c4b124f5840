"""Worker processes of ``mods-serve``: one pool for predictions, one for trainings.

Both are made of one-process ``concurrent.futures`` executors (spawn start), so that a
worker that dies (killed, out of memory, crashed) fails only its own tasks, with a message,
and is replaced.
"""

import asyncio
import collections
import datetime
import logging
import os

LOG = logging.getLogger("mods.serve")


def _finish_date():
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")


def _new_executor(initializer=None):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer)


def _kill(executor):
    """Kill ``executor``'s process at once and drop its queued tasks."""
    for proc in list((getattr(executor, "_processes", None) or {}).values()):
        try:
            proc.kill()
        except Exception:  # pragma: no cover
            pass
    executor.shutdown(wait=False, cancel_futures=True)


def _alive(executor):
    """False when a process of ``executor`` has ended (before the executor noticed)."""
    procs = list((getattr(executor, "_processes", None) or {}).values())
    return all(proc.is_alive() for proc in procs)


class PredictionPool:
    """Processes for predictions, in place of DEEPaaS's ``CancellablePool`` (same ``apply``).

    ``n_workers`` one-process executors; a task goes to the worker with the fewest tasks.
    A worker that dies (killed, out of memory) fails the tasks it held with
    :class:`mods.errors.WorkerLost` (HTTP 503) and is replaced; one found dead before it is
    given a task is replaced first.  DEEPaaS's pool never answers the request whose worker
    died, nor any later one: the service stops predicting (seen here: both requests timed
    out after 40 s).

    ``depth`` tasks may be given to one worker at a time.  With 2 the next task already
    waits in a busy worker's queue, instead of waiting for the launcher to receive the
    previous result; on 2 cores with 20 clients this gave no gain beyond the run-to-run
    spread (``bench/bench_load.py``) and lets a small request wait behind a large one, so
    the default is 1.

    A cancelled task that has not started is dropped; one that runs ends in its worker
    (predictions are bounded by the row and size limits), its result is dropped, and the
    worker counts as busy until then.

    Parameters
    ----------
    n_workers : int
        Worker processes (``--workers``).
    depth : int
        Tasks given to one worker at a time.
    """

    def __init__(self, n_workers, depth=1):
        self._n = max(1, int(n_workers))
        self._depth = max(1, int(depth))
        self._executors = [None] * self._n
        self._load = [0] * self._n
        self._waiters = collections.deque()

    def _take(self):
        """Count a task on the least loaded worker; its slot."""
        slot = min(range(self._n), key=self._load.__getitem__)
        self._load[slot] += 1
        return slot

    async def _acquire(self):
        """A worker slot for a task, in the order the tasks came (first come, first served)."""
        if not self._waiters and min(self._load) < self._depth:
            return self._take()
        turn = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # given a slot just before: pass it on
                self._release(turn.result())
            else:
                try:
                    self._waiters.remove(turn)
                except ValueError:  # pragma: no cover
                    pass
            raise

    def _release(self, slot):
        """A task of ``slot`` ended: hand the free places to the oldest waiting tasks."""
        self._load[slot] -= 1
        while self._waiters and min(self._load) < self._depth:
            turn = self._waiters.popleft()
            if not turn.done():  # (a cancelled waiter is skipped)
                turn.set_result(self._take())

    async def apply(self, fn):
        """Run ``fn()`` in a worker; ``{"output": result, "finish_date": str}``.

        Tasks wait for a free worker in arrival order: with 20 clients on 2 workers, a
        wake-everyone event let later arrivals overtake tasks woken and re-queued, which
        lengthened the latency tail.
        """
        from concurrent.futures.process import BrokenProcessPool

        from mods.errors import WorkerLost

        slot = await self._acquire()
        loop = asyncio.get_running_loop()
        future = None

        def release():
            self._release(slot)

        executor = self._executor(slot)
        try:
            try:
                if not _alive(executor):
                    raise BrokenProcessPool("dead worker")
                future = executor.submit(fn)
            except BrokenProcessPool:  # it died while idle: this task has not started
                LOG.warning("a prediction worker had died while idle: replaced")
                _kill(executor)
                self._executors[slot] = None
                executor = self._executor(slot)
                future = executor.submit(fn)
            # the worker holds the task until it ends, even when the caller gives up first
            future.add_done_callback(lambda _f: loop.call_soon_threadsafe(release))
            output = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            if self._executors[slot] is executor:
                _kill(executor)
                self._executors[slot] = None
            LOG.error("a prediction worker ended before finishing its task")
            raise WorkerLost("the prediction process ended before finishing (killed, out of "
                             "memory or crashed); see the server log and try again") from None
        finally:
            if future is None:  # never handed to a worker
                release()
        return {"output": output, "finish_date": _finish_date()}

    def _executor(self, slot):
        if self._executors[slot] is None:
            self._executors[slot] = _new_executor()
        return self._executors[slot]

    def shutdown(self):
        """Kill every worker."""
        for executor in self._executors:
            if executor is not None:
                _kill(executor)
        self._executors = [None] * self._n


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

    async def apply(self, fn):
        """Run ``fn()`` in a free worker; ``{"output": result, "finish_date": str}``."""
        from concurrent.futures.process import BrokenProcessPool

        from mods import config
        from mods.errors import ModsError

        if self._slots is None:
            self._slots = asyncio.Semaphore(self._n_workers)
        async with self._slots:
            executor = self._free.pop() if self._free else _new_executor(training_worker_init)
            self._busy.add(executor)
            healthy = False
            limit = config.max_train_seconds() or None  # from its start in a free worker
            try:
                output = await asyncio.wait_for(asyncio.wrap_future(executor.submit(fn)),
                                                limit)
                healthy = True
            except BrokenProcessPool:
                raise ModsError("the training process ended before finishing (killed, out "
                                "of memory or crashed); see the server log") from None
            except asyncio.TimeoutError:  # its process is killed below
                raise ModsError("training stopped: still running after the time limit of "
                                "%g s (MODS_MAX_TRAIN_SECONDS, --max-train-seconds)"
                                % limit) from None
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
                    _kill(executor)
        return {"output": output, "finish_date": _finish_date()}

    def shutdown(self):
        """Kill every worker."""
        for executor in list(self._busy) + self._free:
            _kill(executor)
        self._busy.clear()
        self._free.clear()


def training_worker_init():
    """Make a training process yield to predictions: ``nice`` it and cap its TF threads.

    ``MODS_TRAIN_NICE`` (default 19, 0 to keep the launcher's priority) and
    ``MODS_TRAIN_THREADS`` (TensorFlow intra-op threads, default 1; 0 lets TF use every
    core) set how much CPU a training takes from the prediction workers.  At nice 19 Linux
    gives the training a weight of 15 against 1,024 for each busy prediction process: it
    runs at full speed on an idle machine and yields almost all the CPU to predictions
    (at nice 10, weight 110, it still took 14-30 % of a core from 20 clients' predictions,
    bench/bench_load.py).
    """
    nice = os.environ.get("MODS_TRAIN_NICE", "19")
    threads = os.environ.get("MODS_TRAIN_THREADS", "1")
    try:
        if int(nice) > 0:
            os.nice(int(nice))
    except (ValueError, OSError):  # pragma: no cover
        LOG.warning("cannot nice the training process (MODS_TRAIN_NICE=%r)", nice)
    try:
        if int(threads) > 0:
            os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(int(threads)))
            os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(1)
    except (ValueError, RuntimeError):  # pragma: no cover
        LOG.warning("cannot limit the training threads (MODS_TRAIN_THREADS=%r)", threads)
