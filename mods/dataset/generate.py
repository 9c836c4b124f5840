"""Seeded generator of realistic network-monitoring counters, with labelled incidents.

The real MODS data are features computed by a monitoring pipeline over **1-hour windows
sliding every 10 minutes**: each row is the sum of six 10-minute buckets, so consecutive
rows share 50 minutes of traffic and are strongly autocorrelated.  This module rebuilds
data with that structure instead of drawing rows independently:

1. For every column, a 10-minute *bucket rate* is built from a base level, a daily cycle
   (working-hours peak, night trough; or the reverse for internet-facing ``ssh_in``), a
   weekly cycle (less working-hours activity on Saturday and Sunday), a slow linear trend,
   a slow random wander of the level (time constant about a day), short correlated
   episodes, log-normal over-dispersion (shared in part between columns, so ``conn_in``
   and ``conn_out`` move together), occasional *normal* bursts and, for the ``conn_*``
   columns, the bursts of jobs scheduled every 6 hours seen in the real data.
2. Labelled incidents multiply the bucket rate where they happen (see ``INCIDENT_TYPES``).
3. Bucket counts are drawn from a Poisson law around that rate (integers, like counters).
4. Each row sums the buckets of its window (``window / freq`` buckets, 6 by default), so an
   incident smears over the rows whose window overlaps it, as a real one does.

The noise of every column is drawn from its own stream, seeded from ``seed`` and the column
name, and the count noise is drawn before the incidents are applied: with the same seed, a
series with incidents equals the series without them everywhere except on labelled rows,
and a column keeps its values whatever other columns are asked for.

Command line::

    python -m mods.dataset.generate --rows 4464 --seed 0 --out data/sample-w01h-s10m.tsv
"""

import argparse
import json
import logging
import sys
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mods.errors import LOG, ConfigError, DataError, ModsError, fail

DEFAULT_COLUMNS = ("conn_in", "conn_out", "dns_in_distinct", "ssh_in")
TIME_COLUMNS = ("window_start", "window_end")
LABEL = "label"
INCIDENT_TYPES = ("spike", "level_shift", "outage", "drift", "pattern_change", "single_column")
"""Kinds of incident, each typical of network monitoring.

``spike``          port scan or DDoS burst: 10-40 minutes, several times the normal rate,
                   on ``conn_in`` and/or ``ssh_in``; its peak window rises above the
                   largest normal burst of those columns (by a quarter at least).
``level_shift``    sustained step up or down (routing change, new service, lost link)
                   lasting 3-12 hours on several columns.
``outage``         collector or link down: every column drops to near zero for 20 minutes
                   to 3 hours.
``drift``          slow linear ramp over 4-12 hours (misconfiguration, leak), then back.
``pattern_change`` the daily shape of one whole day is altered (a sinusoidal reshaping of
                   the day with a random phase: busy at night, quiet at noon...).
``single_column``  one column deviates while the others stay normal: SSH brute force on
                   ``ssh_in``, DNS tunnelling on ``dns_in_distinct``, exfiltration on
                   ``conn_out``; 1-6 hours.
"""

_MINUTE = 60 * 10**9
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_DURATIONS_MIN = {  # incident durations in minutes (low, high)
    "spike": (10, 40),
    "level_shift": (180, 720),
    "outage": (20, 180),
    "drift": (240, 720),
    "pattern_change": (1440, 1440),
    "single_column": (60, 360),
}
_DEFAULT_TREND = 0.02
SPIKE_MIN_RISE = 0.6  # smallest rise of a spike's most affected window (+60 %)
SPIKE_RISE_RANGE = 3.4  # spread of that rise above its lower bound
SPIKE_BURST_MARGIN = 1.25  # a spike rises at least 1.25 x the column's largest normal burst


@dataclass(frozen=True)
class ColumnProfile:
    """How one column behaves; all levels refer to the *window* value (sum of buckets).

    Attributes
    ----------
    mean : float
        Base level of the window value.
    daily : float
        Amplitude of the working-hours cycle (negative: activity peaks at night).
    weekend : float
        Fraction of the working-hours activity left on Saturdays and Sundays.
    slow_sd : float
        Standard deviation of the slow log-level wander (time constant about one day).
    episode_sd, episode_tau : float
        Standard deviation and time constant (minutes) of short log-level episodes.
    noise_sd : float
        Log-normal over-dispersion of each bucket.
    shared : float
        Weight (0-1) of the noise factor shared between columns.
    burst_rate : float
        Normal bursts per day.
    burst_size : tuple of float
        Range of a burst's extra rate, in multiples of the bucket rate.
    burst_minutes : tuple of float
        Range of a burst's duration in minutes.
    job_size : float
        Extra rate (multiple of the bucket rate) of the jobs run every 6 hours, 0 if none.
    """

    mean: float
    daily: float = 0.1
    weekend: float = 0.5
    slow_sd: float = 0.08
    episode_sd: float = 0.05
    episode_tau: float = 20.0
    noise_sd: float = 0.06
    shared: float = 0.0
    burst_rate: float = 1.0
    burst_size: tuple = (0.3, 1.0)
    burst_minutes: tuple = (10.0, 30.0)
    job_size: float = 0.0


# Fitted by eye and by moments on the real June 2019 sample (see data/README.md).
PROFILES = {
    "conn_in": ColumnProfile(
        mean=49000, daily=0.2, weekend=0.4, slow_sd=0.11, episode_sd=0.06,
        episode_tau=30, noise_sd=0.05, shared=0.1, burst_rate=3.0,
        burst_size=(0.3, 1.2), burst_minutes=(10, 40), job_size=0.7),
    "conn_out": ColumnProfile(
        mean=16500, daily=0.08, weekend=0.5, slow_sd=0.06, episode_sd=0.02,
        episode_tau=20, noise_sd=0.13, shared=0.1, burst_rate=2.0,
        burst_size=(0.3, 0.8), burst_minutes=(10, 20), job_size=1.0),
    "dns_in_distinct": ColumnProfile(
        mean=30, daily=0.15, weekend=0.6, slow_sd=0.12, episode_sd=0.0,
        noise_sd=0.05, shared=0.0, burst_rate=3.0,
        burst_size=(3.0, 12.0), burst_minutes=(10, 20)),
    "ssh_in": ColumnProfile(
        mean=3500, daily=-0.20, weekend=1.0, slow_sd=0.3, episode_sd=0.08,
        episode_tau=20, noise_sd=0.04, shared=0.1, burst_rate=5.0,
        burst_size=(0.3, 2.5), burst_minutes=(10, 40)),
}


def _name_key(name):
    return zlib.crc32(str(name).encode("utf-8"))


def profile_for(name):
    """Profile of column ``name``: a realistic one for the known counters, else a seeded one.

    Unknown names get assorted magnitudes (about 20 to 100,000) and dynamics derived from a
    checksum of the name, so a name always behaves the same way.

    Parameters
    ----------
    name : str
        Column name.

    Returns
    -------
    ColumnProfile
    """
    if name in PROFILES:
        return PROFILES[name]
    rng = np.random.default_rng([_name_key(name), 7919])
    mean = float(10 ** rng.uniform(1.3, 5.0))
    mean = float(np.round(mean, -int(np.floor(np.log10(mean))) + 1))  # 2 significant digits
    return ColumnProfile(
        mean=mean,
        daily=float(rng.choice([-1.0, 1.0], p=[0.25, 0.75]) * rng.uniform(0.0, 0.25)),
        weekend=float(rng.uniform(0.3, 1.0)),
        slow_sd=float(rng.uniform(0.03, 0.15)),
        episode_sd=float(rng.uniform(0.0, 0.15)),
        episode_tau=float(rng.uniform(20, 180)),
        noise_sd=float(rng.uniform(0.03, 0.10)),
        shared=float(rng.uniform(0.0, 0.4)),
        burst_rate=float(rng.uniform(0.0, 3.0)),
        burst_size=(0.3, float(rng.uniform(0.6, 1.5))),
        burst_minutes=(10.0, float(rng.uniform(20, 120))),
        job_size=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.4 else 0.0,
    )


# --------------------------------------------------------------------------- checking


def _check_int(value, what, low=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise fail(ConfigError, f"{what} must be an integer, not {value!r}")
    if low is not None and value < low:
        raise fail(ConfigError, f"{what} must be at least {low}, not {value}")
    return int(value)


def _timedelta(value, what):
    try:
        delta = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise fail(ConfigError, f"{what} {value!r} is not a duration such as '10min' or '1h'")
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise fail(ConfigError, f"{what} must be a positive duration, not {value!r}")
    return delta


def _timestamp(value, what):
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise fail(ConfigError, f"{what} {value!r} is not a date-time such as "
                                "'2019-06-01T00:00:00Z'")
    if pd.isna(stamp):
        raise fail(ConfigError, f"{what} {value!r} is not a date-time")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _column_names(columns):
    if columns is None:
        return list(DEFAULT_COLUMNS)
    if isinstance(columns, (int, np.integer)) and not isinstance(columns, bool):
        count = _check_int(columns, "columns", 1)
        if count > 10000:
            raise fail(ConfigError, f"columns must be at most 10000, not {count}")
        return [f"c{i}" for i in range(count)]
    if isinstance(columns, str):
        columns = [part.strip() for part in columns.split(",")]
    try:
        names = [str(name) for name in columns]
    except TypeError:
        raise fail(ConfigError, f"columns must be a number or a list of names, not {columns!r}")
    if not names or any(not name.strip() for name in names):
        raise fail(ConfigError, "columns: empty column name")
    if len(set(names)) != len(names):
        raise fail(ConfigError, f"columns: duplicated names in {names}")
    reserved = sorted(set(names) & set(TIME_COLUMNS + (LABEL,)))
    if reserved:
        raise fail(ConfigError, f"columns: {', '.join(reserved)} is reserved")
    return names


def _check_kinds(kinds):
    if isinstance(kinds, str):
        kinds = [kinds]
    kinds = list(kinds)
    unknown = [kind for kind in kinds if kind not in INCIDENT_TYPES]
    if unknown or not kinds:
        raise fail(ConfigError, f"unknown incident type(s) {unknown or kinds}; "
                                f"known: {', '.join(INCIDENT_TYPES)}")
    return kinds


# --------------------------------------------------------------------------- noise helpers


def _ar1(rng, n, tau_steps):
    """Unit-variance AR(1) series of length ``n`` with time constant ``tau_steps``."""
    if tau_steps <= 0.5:
        return rng.standard_normal(n)
    phi = float(np.exp(-1.0 / tau_steps))
    taps = int(min(np.ceil(tau_steps * 7), 5000)) + 1
    kernel = phi ** np.arange(taps)
    kernel /= np.sqrt(np.sum(kernel ** 2))
    noise = rng.standard_normal(n + taps - 1)
    return np.convolve(noise, kernel, mode="valid")


def _poisson(lam, uniform, normal):
    """Poisson draws for rates ``lam`` from pre-drawn ``uniform`` and ``normal`` numbers.

    Drawing the random numbers first and inverting the law afterwards keeps every other
    value unchanged when an incident changes the rate of some buckets.  Rates of 30 and
    more use the normal approximation; smaller ones the exact inverse distribution function.
    """
    counts = np.empty(lam.shape, dtype=np.int64)
    big = lam >= 30.0
    counts[big] = np.rint(lam[big] + np.sqrt(lam[big]) * normal[big]).astype(np.int64)
    small = ~big
    if small.any():
        rate = lam[small]
        u = uniform[small]
        prob = np.exp(-rate)
        cdf = prob.copy()
        k = np.zeros(rate.shape, dtype=np.int64)
        step = 0
        while step < 200:
            more = u > cdf
            if not more.any():
                break
            k += more
            step += 1
            prob = prob * rate / step
            cdf = cdf + prob
        counts[small] = k
    return np.maximum(counts, 0)


def _window_sum(buckets, k):
    """Sum of ``k`` consecutive buckets starting at each row (rows = buckets - k + 1)."""
    total = np.concatenate([[0], np.cumsum(buckets, dtype=np.int64)])
    return total[k:] - total[:-k]


def _business(hours):
    """Working-hours activity (0 at night, about 1 from 9:00 to 17:00)."""
    return 1.0 / (1.0 + np.exp(-(hours - 8.0) / 0.9)) / (1.0 + np.exp(-(18.0 - hours) / 1.3))


class _Clock:
    """Times of the buckets as day numbers, hours of day and weekdays."""

    def __init__(self, start, freq, n):
        self.start_ns = start.value
        self.freq_ns = freq.value
        self.n = n
        ns = self.start_ns + np.arange(n, dtype=np.int64) * self.freq_ns
        self.ns = ns
        self.days = ns // _DAY
        self.hours = (ns - self.days * _DAY) / _HOUR
        self.weekday = (self.days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        self.elapsed_days = (ns - self.start_ns) / _DAY

    def steps(self, minutes):
        return max(1, int(round(minutes * _MINUTE / self.freq_ns)))


def _cycle(clock, profile):
    """Daily and weekly multiplier of a column (mean about 1)."""
    if profile.daily == 0:
        return np.ones(clock.n)
    weight = np.where(clock.weekday >= 5, profile.weekend, 1.0)
    activity = _business(clock.hours) * weight
    # The weekly mean of the activity, so that the multiplier averages to 1.
    hours = np.arange(0, 24 * 7, 0.25)
    reference = np.mean(_business(hours % 24) * np.where(hours // 24 >= 5, profile.weekend, 1))
    return np.maximum(1.0 + profile.daily * (activity - reference), 0.05)


def _bursts(rng, clock, profile, bursts=True):
    """Extra rate (multiple of the bucket rate) of normal bursts and scheduled jobs.

    ``bursts=False`` draws the same random numbers but leaves the normal bursts out (the
    scheduled jobs stay): the same series as with them, except on their rows.
    """
    extra = np.zeros(clock.n)
    count = rng.poisson(profile.burst_rate * clock.n * clock.freq_ns / _DAY)
    starts = rng.integers(0, clock.n, size=count)
    sizes = rng.uniform(*profile.burst_size, size=count) * (1.0 if bursts else 0.0)
    lengths = rng.uniform(*profile.burst_minutes, size=count)
    for first, size, minutes in zip(starts, sizes, lengths):
        extra[first:first + clock.steps(minutes)] += size
    if profile.job_size > 0:
        # One bucket about 50 minutes after 0, 6, 12 and 18 h, as in the real data.
        offset = clock.ns % (6 * _HOUR) - 50 * _MINUTE
        jobs = np.flatnonzero((offset >= 0) & (offset < clock.freq_ns))
        extra[jobs] += profile.job_size * rng.uniform(0.7, 1.3, size=len(jobs))
    return extra


def _bucket_rates(name, profile, clock, k, trend, seed, shared_noise, bursts=True):
    """Normal (incident-free) bucket rate of one column and its count noise numbers."""
    rng = np.random.default_rng([seed, _name_key(name), 1])
    bucket_minutes = clock.freq_ns / _MINUTE
    # Slow wander: hourly knots of an AR(1) with a one-day time constant, interpolated.
    knots_per_hour = 1.0
    n_knots = int(np.ceil(clock.n * bucket_minutes / 60.0 * knots_per_hour)) + 2
    slow = _ar1(rng, n_knots, 24.0 * knots_per_hour)
    slow = np.interp(np.arange(clock.n) * bucket_minutes / 60.0, np.arange(n_knots), slow)
    episode = _ar1(rng, clock.n, profile.episode_tau / bucket_minutes)
    own = rng.standard_normal(clock.n)
    weight = np.sqrt(profile.shared)
    noise = weight * shared_noise + np.sqrt(1.0 - profile.shared) * own
    log_level = (profile.slow_sd * slow + profile.episode_sd * episode
                 + profile.noise_sd * noise)
    log_level -= 0.5 * (profile.slow_sd ** 2 + profile.episode_sd ** 2 + profile.noise_sd ** 2)
    growth = np.maximum(1.0 + trend * clock.elapsed_days / 30.0, 0.05)
    rate = (profile.mean / k) * _cycle(clock, profile) * growth * np.exp(log_level)
    rate *= 1.0 + _bursts(rng, clock, profile, bursts)
    uniform = rng.random(clock.n)
    normal = rng.standard_normal(clock.n)
    return rate, uniform, normal


# --------------------------------------------------------------------------- incidents

_ROLES = {  # realistic column choices for the known counters, tried in random order
    "spike": [["conn_in"], ["conn_in", "ssh_in"], ["ssh_in"]],
    "level_shift": [["conn_in", "conn_out"], ["conn_in", "conn_out", "dns_in_distinct"],
                    ["conn_out", "ssh_in"]],
    "drift": [["conn_out"], ["conn_in", "conn_out"], ["dns_in_distinct"]],
    "pattern_change": [["conn_in", "conn_out"], list(DEFAULT_COLUMNS)],
    "single_column": [["ssh_in"], ["dns_in_distinct"], ["conn_out"]],
}


def _pick_columns(rng, kind, names):
    if kind == "outage" or len(names) == 1:
        return list(names)
    options = [option for option in _ROLES.get(kind, []) if set(option) <= set(names)]
    if options:
        return list(options[rng.integers(len(options))])
    size = {"spike": (1, 2), "drift": (1, 2), "single_column": (1, 1),
            "level_shift": (2, len(names)),
            "pattern_change": ((len(names) + 1) // 2, len(names))}[kind]
    count = int(rng.integers(size[0], min(size[1], len(names)) + 1))
    chosen = rng.choice(len(names), size=count, replace=False)
    return [names[i] for i in sorted(chosen)]


def largest_burst_rise(name, k=6, bucket_minutes=10.0):
    """Largest relative rise of a window that one normal burst of column ``name`` makes.

    A burst adds up to ``burst_size[1]`` times the bucket rate for up to
    ``burst_minutes[1]`` minutes; a window of ``k`` buckets holds at most ``k`` of them.
    """
    profile = profile_for(name)
    if profile.burst_rate <= 0:
        return 0.0
    buckets = min(max(profile.burst_minutes[1] / float(bucket_minutes), 1.0), k)
    return float(profile.burst_size[1] * buckets / k)


def _pick_magnitude(rng, kind, columns, length, k, bucket_minutes=10.0):
    """Relative change of the bucket rate (+4.0: five times the rate; -0.97: 3 % left)."""
    if kind == "spike":
        # Relative rise of the most affected window: above what the columns' own normal
        # bursts ever do (by a quarter at least), else the "incident" is a normal burst
        # with a label, which no detector can tell apart (bench/ceiling.py: with spikes
        # from 0.6, an observer knowing everything but the bursts found 71 % of them at
        # one false alert per 1,000 rows).
        low = max(SPIKE_MIN_RISE, SPIKE_BURST_MARGIN * max(
            largest_burst_rise(c, k, bucket_minutes) for c in columns))
        peak = rng.uniform(low, low + SPIKE_RISE_RANGE)
        return float(peak * k / min(length, k))
    if kind == "level_shift":
        return float(rng.uniform(0.3, 0.8) if rng.random() < 0.5 else -rng.uniform(0.3, 0.6))
    if kind == "outage":
        return float(-rng.uniform(0.9, 0.99))
    if kind == "drift":
        return float(rng.uniform(0.6, 1.5) if rng.random() < 0.7 else -rng.uniform(0.4, 0.7))
    if kind == "pattern_change":
        return float(rng.uniform(0.35, 0.7))
    column = columns[0]
    low, high = {"ssh_in": (1.5, 5.0), "dns_in_distinct": (3.0, 7.0),
                 "conn_out": (0.6, 1.5)}.get(column, (1.0, 3.0))
    return float(rng.uniform(low, high))


def _multiplier(kind, magnitude, length, phase_hours=None, hours=None):
    """Bucket-rate multiplier over the ``length`` buckets of an incident."""
    if kind == "drift":
        return 1.0 + magnitude * np.arange(1, length + 1) / length
    if kind == "pattern_change":
        return np.maximum(1.0 + magnitude * np.sin(2 * np.pi * (hours - phase_hours) / 24.0),
                          0.02)
    return np.full(length, max(1.0 + magnitude, 0.0))


def _plan(rng, kinds, count, names, lo_row, hi_row, k, clock):
    """Place incidents at random, without overlap, their labelled rows in [lo_row, hi_row).

    Returns a list of dicts with bucket positions ``first``/``stop`` (stop exclusive).
    """
    kinds = list(kinds)
    if count is None:
        count = len(kinds) + int(rng.integers(0, 5))
    if count >= len(kinds):
        todo = kinds + list(rng.choice(kinds, size=count - len(kinds)))
    else:
        todo = list(rng.choice(kinds, size=count, replace=False))
    todo = [str(kind) for kind in todo]
    lengths = [clock.steps(rng.uniform(*_DURATIONS_MIN[kind])) for kind in todo]
    order = sorted(range(len(todo)), key=lambda i: -lengths[i])
    gap = 2 * k
    taken = []  # labelled row spans (first, last) already used
    plans = []
    for i in order:
        kind, length = todo[i], lengths[i]
        # Labelled rows of buckets [first, first + length): first - k + 1 .. first + length - 1
        low, high = lo_row + k - 1, hi_row - length  # allowed first bucket, inclusive
        if kind == "pattern_change":
            day_starts = np.flatnonzero(np.diff(clock.days, prepend=clock.days[0] - 1))
            candidates = day_starts[(day_starts >= low) & (day_starts <= high)]
        else:
            candidates = np.arange(low, high + 1) if high >= low else np.arange(0)
        for _ in range(100):
            if len(candidates) == 0:
                break
            first = int(candidates[rng.integers(len(candidates))])
            span = (first - k + 1, first + length - 1)
            if all(span[1] + gap < a or span[0] > b + gap for a, b in taken):
                taken.append(span)
                columns = _pick_columns(rng, kind, names)
                plans.append({
                    "type": kind, "first": first, "stop": first + length, "columns": columns,
                    "magnitude": _pick_magnitude(rng, kind, columns, length, k,
                                                 clock.freq_ns / _MINUTE),
                    "phase": float(rng.uniform(0, 24)),
                })
                break
    return sorted(plans, key=lambda plan: plan["first"])


def _user_plans(incidents, names, clock, k, rng):
    """Bucket positions of incidents given by the caller (list of dicts)."""
    plans = []
    for number, item in enumerate(incidents):
        what = f"incidents[{number}]"
        if not isinstance(item, dict):
            raise fail(ConfigError, f"{what} must be a dict with type and start")
        kind = item.get("type")
        if kind not in INCIDENT_TYPES:
            raise fail(ConfigError, f"{what}: unknown type {kind!r}; "
                                    f"known: {', '.join(INCIDENT_TYPES)}")
        if "start" not in item:
            raise fail(ConfigError, f"{what}: start is missing")
        start = _timestamp(item["start"], f"{what} start")
        first = int(np.ceil((start.value - clock.start_ns) / clock.freq_ns))
        if "end" in item:
            end = _timestamp(item["end"], f"{what} end")
            stop = int(np.ceil((end.value - clock.start_ns) / clock.freq_ns))
        else:
            duration = item.get("duration", pd.Timedelta(minutes=_DURATIONS_MIN[kind][0]))
            duration = _timedelta(duration, f"{what} duration")
            stop = first + max(1, int(np.ceil(duration.value / clock.freq_ns)))
        first, stop = max(first, 0), min(stop, clock.n)
        if stop <= first:
            raise fail(ConfigError, f"{what}: {item['start']} is outside the series or ends "
                                    "before it starts")
        columns = item.get("columns")
        if columns is None:
            columns = _pick_columns(rng, kind, names)
        else:
            columns = [columns] if isinstance(columns, str) else list(columns)
            missing = [column for column in columns if column not in names]
            if missing or not columns:
                raise fail(ConfigError, f"{what}: unknown column(s) {missing or columns}")
        magnitude = item.get("magnitude")
        if magnitude is None:
            magnitude = _pick_magnitude(rng, kind, columns, stop - first, k,
                                        clock.freq_ns / _MINUTE)
        try:
            magnitude = float(magnitude)
        except (TypeError, ValueError):
            raise fail(ConfigError, f"{what}: magnitude {magnitude!r} is not a number")
        if not np.isfinite(magnitude) or magnitude < -1.0:
            raise fail(ConfigError, f"{what}: magnitude must be a finite number >= -1 "
                                    "(relative change of the rate)")
        plans.append({"type": kind, "first": first, "stop": stop, "columns": columns,
                      "magnitude": magnitude,
                      "phase": float(item.get("phase", rng.uniform(0, 24)))})
    return sorted(plans, key=lambda plan: plan["first"])


def _labels(plans, n_rows, k):
    label = np.zeros(n_rows, dtype=np.int64)
    for plan in plans:
        label[max(plan["first"] - k + 1, 0):min(plan["stop"], n_rows)] = 1
    return label


def _report(plans, clock):
    """The public incident list: type, start, end (exclusive), columns, magnitude."""
    out = []
    for plan in plans:
        if clock.start_ns is not None:
            start = pd.Timestamp(clock.start_ns + plan["first"] * clock.freq_ns, tz="UTC")
            end = pd.Timestamp(clock.start_ns + plan["stop"] * clock.freq_ns, tz="UTC")
        else:
            start, end = plan["first"], plan["stop"]
        out.append({"type": plan["type"], "start": start, "end": end,
                    "columns": list(plan["columns"]),
                    "magnitude": round(float(plan["magnitude"]), 4)})
    return out


# --------------------------------------------------------------------------- public API


def generate_with_incidents(n_rows=4464, start="2019-06-01T00:00:00Z", freq="10min",
                            window="1h", columns=None, seed=0, incidents="default",
                            trend=_DEFAULT_TREND, bursts=True):
    """Generate sliding-window counters and the list of incidents injected into them.

    Parameters
    ----------
    n_rows : int
        Number of rows (windows).  4464 rows of 10 minutes are 31 days.
    start : str or Timestamp
        Start of the first window; naive times are taken as UTC.
    freq : str or Timedelta
        Step between windows, which is also the bucket size (``"10min"``).
    window : str or Timedelta
        Window length, a multiple of ``freq`` (``"1h"``: each row sums 6 buckets).
    columns : None, int or list of str
        ``None``: ``conn_in conn_out dns_in_distinct ssh_in`` (realistic profiles);
        a number k: generic columns ``c0..c{k-1}`` of assorted magnitudes; or names
        (known counters keep their profile, other names get a seeded one).
    seed : int
        Seed (>= 0); the same arguments and seed give the same frame.
    incidents : "default", list of dict or None
        ``"default"``: one incident of each type plus 0-4 more of random types, placed at
        random in the second half of the series, never overlapping.  A list of dicts with
        ``type``, ``start`` and either ``end`` or ``duration``, optionally ``columns`` and
        ``magnitude`` (relative change of the bucket rate, drawn when missing).
        ``None``: no incident (``label`` is all 0).
    trend : float
        Relative change of the level per 30 days (0.02: +2 % a month).
    bursts : bool
        ``False`` leaves the normal (unlabelled) bursts out and changes nothing else: the
        same random numbers are drawn, so every value is the one the series has with its
        bursts, except on the rows a burst touches, where it is lower.  This is the series
        a forecaster could at best expect (``bench/ceiling.py`` uses it).

    Returns
    -------
    frame : pandas.DataFrame
        ``window_start window_end`` (UTC ``datetime64``), one int64 column per counter and
        ``label`` (int64, 1 on rows whose window overlaps an incident).
    incidents : list of dict
        ``type``, ``start``, ``end`` (exclusive, UTC Timestamps), ``columns`` and
        ``magnitude`` (relative change of the bucket rate: +4.0 is five times the rate,
        -0.97 leaves 3 %; for ``drift`` the change reached at the end of the ramp, for
        ``pattern_change`` the amplitude of the reshaping), sorted by start.

    Raises
    ------
    ConfigError
        On an argument out of range or of the wrong kind.

    Examples
    --------
    >>> frame, incidents = generate_with_incidents(n_rows=1008, seed=3)
    >>> list(frame.columns)[:3]
    ['window_start', 'window_end', 'conn_in']
    """
    n_rows = _check_int(n_rows, "n_rows", 1)
    if n_rows > 10_000_000:
        raise fail(ConfigError, f"n_rows must be at most 10000000, not {n_rows}")
    seed = _check_int(seed, "seed", 0)
    start = _timestamp(start, "start")
    freq_arg, window_arg = freq, window
    freq = _timedelta(freq, "freq")
    window = _timedelta(window, "window")
    if window.value % freq.value:
        raise fail(ConfigError, f"window {window_arg!r} must be a multiple of freq {freq_arg!r}")
    k = window.value // freq.value
    names = _column_names(columns)
    try:
        trend = float(trend)
    except (TypeError, ValueError):
        raise fail(ConfigError, f"trend must be a number, not {trend!r}")
    if not np.isfinite(trend) or abs(trend) > 10:
        raise fail(ConfigError, f"trend must be between -10 and 10, not {trend}")

    n_buckets = n_rows + k - 1
    clock = _Clock(start, freq, n_buckets)
    shared = np.random.default_rng([seed, 0, 1]).standard_normal(n_buckets)
    incident_rng = np.random.default_rng([seed, 0, 2])
    if incidents is None or (isinstance(incidents, (list, tuple)) and not incidents):
        plans = []
    elif isinstance(incidents, str):
        if incidents != "default":
            raise fail(ConfigError, f"incidents must be 'default', a list or None, "
                                    f"not {incidents!r}")
        plans = _plan(incident_rng, INCIDENT_TYPES, None, names, n_rows // 2, n_rows, k, clock)
    elif isinstance(incidents, (list, tuple)):
        plans = _user_plans(incidents, names, clock, k, incident_rng)
    else:
        raise fail(ConfigError, f"incidents must be 'default', a list or None, "
                                f"not {type(incidents).__name__}")

    data = {
        "window_start": pd.date_range(start, periods=n_rows, freq=freq),
    }
    data["window_end"] = data["window_start"] + window
    for name in names:
        rate, uniform, normal = _bucket_rates(name, profile_for(name), clock, k, trend, seed,
                                              shared, bool(bursts))
        for plan in plans:
            if name in plan["columns"]:
                part = slice(plan["first"], plan["stop"])
                rate[part] *= _multiplier(plan["type"], plan["magnitude"],
                                          plan["stop"] - plan["first"], plan["phase"],
                                          clock.hours[part])
        data[name] = _window_sum(_poisson(rate, uniform, normal), k)
    data[LABEL] = _labels(plans, n_rows, k)
    return pd.DataFrame(data), _report(plans, clock)


def generate(n_rows=4464, start="2019-06-01T00:00:00Z", freq="10min", window="1h",
             columns=None, seed=0, incidents="default", trend=_DEFAULT_TREND, bursts=True):
    """Generate sliding-window network counters with labelled incidents.

    Same parameters as :func:`generate_with_incidents`, which also returns the incidents.

    Returns
    -------
    pandas.DataFrame
        ``window_start window_end <counters...> label``.

    Examples
    --------
    >>> frame = generate(n_rows=144, incidents=None)
    >>> frame.shape
    (144, 7)
    """
    return generate_with_incidents(n_rows, start, freq, window, columns, seed, incidents,
                                   trend, bursts)[0]


def inject_incidents(frame, columns=None, seed=0, start_fraction=0.7, kinds=INCIDENT_TYPES,
                     count=None, window_rows=6):
    """Inject labelled incidents into an existing frame of sliding-window values.

    The incidents act on a bucket rate estimated as ``value / window_rows`` and their
    effect on a row is the ``window_rows``-row moving sum of that bucket perturbation,
    which approximates how a real incident smears through overlapping windows.

    Parameters
    ----------
    frame : pandas.DataFrame
        Window values, one row per step (e.g. the real sample).  Not modified.
    columns : list of str, optional
        Columns that incidents may touch; default every numeric column but ``label``.
    seed : int
        Seed of the placement, types, columns and magnitudes.
    start_fraction : float
        Incidents only touch rows at or after this fraction of the frame (0 to 1).
    kinds : sequence of str
        Incident types to use (see ``INCIDENT_TYPES``); one of each, plus 0-4 more drawn
        among them unless ``count`` is given.
    count : int, optional
        Exact number of incidents to place (fewer if they do not fit).
    window_rows : int
        Buckets per window (6 for 1-hour windows sliding by 10 minutes).

    Returns
    -------
    frame : pandas.DataFrame
        A copy with the incidents added and ``label`` added or overwritten.
    incidents : list of dict
        As in :func:`generate_with_incidents`; ``start``/``end`` are Timestamps when the
        frame has ``window_start``, else bucket positions (row numbers, end exclusive).

    Raises
    ------
    DataError
        If the frame or the columns cannot be used.
    ConfigError
        On an argument out of range.
    """
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise fail(DataError, "inject_incidents needs a non-empty DataFrame")
    seed = _check_int(seed, "seed", 0)
    k = _check_int(window_rows, "window_rows", 1)
    kinds = _check_kinds(kinds)
    if count is not None:
        count = _check_int(count, "count", 0)
    try:
        start_fraction = float(start_fraction)
    except (TypeError, ValueError):
        raise fail(ConfigError, f"start_fraction must be a number, not {start_fraction!r}")
    if not 0.0 <= start_fraction < 1.0:
        raise fail(ConfigError, f"start_fraction must be in [0, 1), not {start_fraction}")
    if columns is None:
        columns = [name for name in frame.columns
                   if name != LABEL and pd.api.types.is_numeric_dtype(frame[name])
                   and not pd.api.types.is_bool_dtype(frame[name])]
    else:
        columns = [columns] if isinstance(columns, str) else list(columns)
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise fail(DataError, f"inject_incidents: no column {', '.join(map(str, missing))}")
    bad = [name for name in columns if not pd.api.types.is_numeric_dtype(frame[name])]
    if bad or not columns:
        raise fail(DataError, f"inject_incidents: no numeric column to use {bad or ''}")

    n_rows = len(frame)
    n_buckets = n_rows + k - 1
    if "window_start" in frame.columns:
        try:
            times = pd.DatetimeIndex(pd.to_datetime(frame["window_start"], utc=True))
        except (ValueError, TypeError):
            raise fail(DataError, "inject_incidents: window_start holds no date-times")
        stamps = times.as_unit("ns").asi8
        freq = int(np.median(np.diff(stamps))) if len(stamps) > 1 else 10 * _MINUTE
        if freq <= 0 or times.hasnans:
            raise fail(DataError, "inject_incidents: window_start is not increasing")
        clock = _Clock(times[0], pd.Timedelta(freq, unit="ns"), n_buckets)
    else:  # row numbers only: assume 10-minute steps from midnight
        clock = _Clock(pd.Timestamp(0, tz="UTC"), pd.Timedelta(minutes=10), n_buckets)
        clock.start_ns = None
    rng = np.random.default_rng([seed, 0, 3])
    lo = int(np.ceil(start_fraction * n_rows))
    plans = _plan(rng, kinds, count, list(columns), lo, n_rows, k, clock)

    out = frame.copy()
    for name in columns:
        values = out[name].to_numpy(dtype=float)
        bucket = np.concatenate([values, np.full(k - 1, values[-1])]) / k
        bucket = np.where(np.isfinite(bucket), bucket, 0.0)
        delta = np.zeros(n_buckets)
        for plan in plans:
            if name in plan["columns"]:
                part = slice(plan["first"], plan["stop"])
                mult = _multiplier(plan["type"], plan["magnitude"],
                                   plan["stop"] - plan["first"], plan["phase"],
                                   clock.hours[part])
                delta[part] += bucket[part] * (mult - 1.0)
        if not delta.any():
            continue
        total = np.concatenate([[0.0], np.cumsum(delta)])
        changed = np.maximum(values + (total[k:] - total[:-k]), 0.0)
        if pd.api.types.is_integer_dtype(frame[name]):
            out[name] = np.rint(changed).astype(frame[name].dtype)
        else:
            out[name] = changed
    out[LABEL] = _labels(plans, n_rows, k)
    return out, _report(plans, clock)


# --------------------------------------------------------------------------- files, CLI


def _iso(times):
    times = pd.to_datetime(times, utc=True)
    return times.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"


def write_tsv(frame, path):
    """Write ``frame`` as a tab-separated file with ISO times (``2019-06-01T00:00:00.000Z``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`generate` (or any frame; datetime columns are formatted).
    path : str or path-like
        File to write (``-`` for standard output).
    """
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[name]):
            out[name] = _iso(out[name])
    target = sys.stdout if str(path) == "-" else path
    out.to_csv(target, sep="\t", index=False, lineterminator="\n")


def incidents_to_json(incidents):
    """The incident list as JSON-ready dicts (times as ISO strings)."""
    out = []
    for item in incidents:
        item = dict(item)
        for key in ("start", "end"):
            if isinstance(item[key], pd.Timestamp):
                item[key] = item[key].strftime("%Y-%m-%dT%H:%M:%S.000Z")
        out.append(item)
    return out


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ConfigError(message)


def _columns_arg(text):
    text = text.strip()
    return int(text) if text.isdigit() else [part.strip() for part in text.split(",")]


def main(argv=None):
    """Command line: ``python -m mods.dataset.generate --rows N --seed S --out FILE``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 with a one-line message on standard error on bad arguments.
    """
    parser = _Parser(prog="python -m mods.dataset.generate",
                     description="Write seeded synthetic network counters (1-hour windows "
                                 "sliding every 10 minutes) with labelled incidents as TSV.")
    parser.add_argument("--rows", type=int, default=4464, help="number of rows (4464 = 31 days)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", required=True, help="TSV file to write ('-': standard output)")
    parser.add_argument("--columns", type=_columns_arg, default=None,
                        help="number K of generic columns c0..c{K-1}, or comma-separated "
                             "names (default: conn_in,conn_out,dns_in_distinct,ssh_in)")
    parser.add_argument("--no-incidents", action="store_true", help="inject no incident")
    parser.add_argument("--no-bursts", action="store_true",
                        help="leave the normal bursts out (same series otherwise)")
    parser.add_argument("--start", default="2019-06-01T00:00:00Z", help="first window start")
    parser.add_argument("--freq", default="10min", help="step and bucket size")
    parser.add_argument("--window", default="1h", help="window length")
    parser.add_argument("--trend", type=float, default=_DEFAULT_TREND,
                        help="relative level change per 30 days")
    parser.add_argument("--incidents-json", default=None,
                        help="also write the incident list to this JSON file")
    if not LOG.handlers and not logging.getLogger().handlers:
        LOG.addHandler(logging.NullHandler())  # the one-line message below is enough
    try:
        args = parser.parse_args(argv)
        frame, incidents = generate_with_incidents(
            n_rows=args.rows, start=args.start, freq=args.freq, window=args.window,
            columns=args.columns, seed=args.seed,
            incidents=None if args.no_incidents else "default", trend=args.trend,
            bursts=not args.no_bursts)
        write_tsv(frame, args.out)
        if args.incidents_json:
            with open(args.incidents_json, "w", encoding="utf-8") as handle:
                json.dump(incidents_to_json(incidents), handle, indent=1)
                handle.write("\n")
    except ModsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
