"""The launcher's prediction pool (mods.pools.PredictionPool): real spawned worker processes."""

import asyncio
import functools
import os
import time

import pytest

from mods.errors import WorkerLost
from mods.pools import PredictionPool


def pid_after(seconds):
    """Sleep ``seconds`` in the worker, then give its process id and the time it ended."""
    time.sleep(seconds)
    return os.getpid(), time.monotonic()


def die():
    os._exit(3)


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def test_tasks_spread_over_the_workers_and_queue_one_behind_another():
    pool = PredictionPool(2, depth=2)

    async def main():
        await asyncio.gather(*(pool.apply(functools.partial(pid_after, 0)) for _ in range(2)))
        assert pool._load == [0, 0]
        started = time.monotonic()
        tasks = [asyncio.ensure_future(pool.apply(functools.partial(pid_after, 0.4)))
                 for _ in range(5)]
        await asyncio.sleep(0.1)
        # 2 workers x 2 tasks handed out; the fifth waits in the launcher
        assert sorted(pool._load) == [2, 2]
        done = await asyncio.gather(*tasks)
        return started, done

    try:
        started, done = run(main())
    finally:
        pool.shutdown()
    pids = [d["output"][0] for d in done]
    assert len(set(pids)) == 2 and all(d["finish_date"] for d in done)
    ends = sorted(d["output"][1] - started for d in done)
    # three rounds of 0.4 s on two workers: the queued tasks start as soon as one ends
    assert ends[-1] == pytest.approx(1.2, abs=0.35)
    assert pool._load == [0, 0]


def test_a_dead_worker_fails_its_task_with_503_and_is_replaced():
    pool = PredictionPool(1, depth=2)

    async def main():
        first = (await pool.apply(functools.partial(pid_after, 0)))["output"][0]
        with pytest.raises(WorkerLost, match="ended before finishing") as info:
            await pool.apply(die)
        assert info.value.status == 503
        second = (await pool.apply(functools.partial(pid_after, 0)))["output"][0]
        return first, second

    try:
        first, second = run(main())
    finally:
        pool.shutdown()
    assert first != second
    assert pool._load == [0]


def test_a_cancelled_task_frees_its_place_and_the_pool_goes_on():
    pool = PredictionPool(1, depth=1)

    async def main():
        slow = asyncio.ensure_future(pool.apply(functools.partial(pid_after, 0.5)))
        waiting = asyncio.ensure_future(pool.apply(functools.partial(pid_after, 0)))
        await asyncio.sleep(0.1)
        waiting.cancel()  # still in the launcher: never runs
        slow.cancel()  # running: ends in its worker, its result is dropped
        await asyncio.gather(slow, waiting, return_exceptions=True)
        assert pool._load == [1]  # the worker is still busy with the cancelled task
        return await asyncio.wait_for(pool.apply(functools.partial(pid_after, 0)), 30)

    try:
        out = run(main())
    finally:
        pool.shutdown()
    assert out["output"][0] > 0 and pool._load == [0]


def test_waiting_tasks_get_a_worker_first_come_first_served():
    """A task arriving just as a worker frees up queues behind the tasks already waiting
    (before, a wake-everyone event let it overtake them: a longer latency tail)."""
    pool = PredictionPool(1, depth=1)

    async def main():
        first = await pool._acquire()  # the only worker is busy
        b = asyncio.ensure_future(pool._acquire())
        c = asyncio.ensure_future(pool._acquire())
        await asyncio.sleep(0)
        pool._release(first)  # frees the place: it goes to b at once
        e = asyncio.ensure_future(pool._acquire())  # arrives before b has resumed
        await asyncio.sleep(0)
        assert b.done() and not c.done() and not e.done()
        pool._release(b.result())
        await asyncio.sleep(0)
        assert c.done() and not e.done()
        pool._release(c.result())
        await asyncio.sleep(0)
        assert e.done()
        pool._release(e.result())

    run(main())
    assert pool._load == [0] and not pool._waiters


def test_a_waiting_task_cancelled_before_or_after_its_turn_passes_the_place_on():
    pool = PredictionPool(1, depth=1)

    async def main():
        first = await pool._acquire()
        gone = asyncio.ensure_future(pool._acquire())
        given = asyncio.ensure_future(pool._acquire())
        last = asyncio.ensure_future(pool._acquire())
        await asyncio.sleep(0)
        gone.cancel()  # cancelled while waiting: skipped
        await asyncio.sleep(0)
        pool._release(first)  # the place goes to ``given``...
        given.cancel()  # ...which is cancelled before it resumes: passed on to ``last``
        await asyncio.gather(gone, given, return_exceptions=True)
        assert await asyncio.wait_for(last, 5) == 0
        pool._release(0)

    run(main())
    assert pool._load == [0] and not pool._waiters
