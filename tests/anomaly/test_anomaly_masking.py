"""Masking of the horizon channels by the final flags of earlier rows."""

import numpy as np

from mods.anomaly.masking import final_flags, recent, shifted


def test_recent_and_shifted():
    m = np.array([0, 1, 0, 0, 0, 1, 0], dtype=bool)
    np.testing.assert_array_equal(recent(m, 2), [0, 1, 1, 0, 0, 1, 1])
    np.testing.assert_array_equal(shifted(m, 2), [0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(shifted(m, 9), np.zeros(7, dtype=bool))


def channels(n=200):
    one, six, long_ = np.zeros(n), np.zeros(n), np.zeros(n)
    one[28:39] = 2.0  # an incident the one-step channel flags
    long_[100:111] = 2.0  # the 72-row forecasts made inside it: an echo, to be masked
    six[106:111] = 2.0  # a new incident, seen by the 6-row channel only
    return [one, six, long_], [1, 6, 72]


def test_a_masked_channel_does_not_mask_the_others():
    steps, hs = channels()
    flags, masks = final_flags(steps, hs, np.ones(200), context=3)
    assert flags[28:39].all()
    assert not flags[100:106].any()  # the echo is masked...
    assert flags[106:111].all()  # ...so it does not hide the 6-row channel's incident
    assert masks[2][100:111].all() and not masks[1][106:111].any()
    assert not masks[0].any()
    # The flags the channels give before masking would have hidden it.
    pre = np.logical_or.reduce([s >= 1 for s in steps])
    tainted = shifted(recent(pre, 3), 6)
    assert tainted[106:111].all()


def test_history_gives_the_same_flags_as_the_whole_series():
    rng = np.random.default_rng(3)
    n = 600
    steps = [rng.exponential(0.3, n) for _ in range(3)]
    for s in steps:
        s[rng.integers(0, n, 20)] += 2.0
    hs = [1, 6, 72]
    w = np.ones(n)
    whole, whole_masks = final_flags(steps, hs, w, context=13)
    assert whole.any() and whole_masks[2].any()
    parts, masks, start = [], [[], [], []], 0
    for b in (1, 50, 7, 300, 242):
        hist = np.concatenate(parts) if parts else None
        f, m = final_flags([s[start:start + b] for s in steps], hs, w[start:start + b], 13,
                           history=hist)
        parts.append(f)
        for i in range(3):
            masks[i].append(m[i])
        start += b
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    for i in range(3):
        np.testing.assert_array_equal(np.concatenate(masks[i]), whole_masks[i])


def test_nan_scores_never_flag():
    steps = [np.full(10, np.nan), np.full(10, np.nan)]
    flags, _ = final_flags(steps, [1, 6], np.ones(10), context=2)
    assert not flags.any()


def reference_flags(steps, horizons, warning, context, history=None, margin=0):
    """The rule written plainly: rows in time order, each window's flags read by slicing.

    Channel ``h`` at row ``t`` is masked by a flag in ``t - h - context + 1 - margin ..
    t - h + min(margin, h - 1)``."""
    prev = np.zeros(0, dtype=bool) if history is None else np.asarray(history, dtype=bool)
    p, n = prev.size, len(warning)
    vals = [np.nan_to_num(np.asarray(s, dtype=float), nan=-np.inf) for s in steps]
    flags = np.concatenate([prev, np.zeros(n, dtype=bool)])
    for t in range(n):
        if vals[0][t] >= warning[t]:
            flags[p + t] = True
            continue
        for v, h in zip(vals[1:], horizons[1:]):
            first = p + t - h - context + 1 - margin
            end = p + t - h + 1 + min(margin, h - 1)
            assert end <= p + t  # causal: only rows before t
            if v[t] >= warning[t] and (end <= 0 or not flags[max(first, 0):end].any()):
                flags[p + t] = True
                break
    return flags[p:]


def test_final_flags_equal_the_plain_rule_on_random_channels():
    rng = np.random.default_rng(3)
    for trial in range(60):
        n = int(rng.integers(1, 400))
        horizons = [1] + sorted(rng.choice(np.arange(2, 80), size=int(rng.integers(0, 4)),
                                           replace=False).tolist())
        density = rng.uniform(0.0, 0.3)
        steps = [np.where(rng.random(n) < density, 2.0, 0.0) for _ in horizons]
        steps = [np.where(rng.random(n) < 0.05, np.nan, s) for s in steps]
        warning = np.ones(n)
        context = int(rng.integers(1, 20))
        history = rng.random(int(rng.integers(0, 100))) < density if trial % 2 else None
        margin = int(rng.integers(0, 30)) if trial % 3 else 0
        flags, masks = final_flags(steps, horizons, warning, context, history=history,
                                   margin=margin)
        expected = reference_flags(steps, horizons, warning, context, history, margin)
        np.testing.assert_array_equal(flags, expected, err_msg="trial %d" % trial)
        # the masks follow the same windows, over the final flags
        whole = np.concatenate([np.zeros(0, dtype=bool) if history is None else history,
                                expected])
        p = whole.size - n
        for h, mask in zip(horizons[1:], masks[1:]):
            for t in range(n):
                first = p + t - h - context + 1 - margin
                end = p + t - h + 1 + min(margin, h - 1)
                want = end > 0 and whole[max(first, 0):end].any()
                assert mask[t] == want, (trial, h, t)


def test_the_margin_masks_forecasts_made_next_to_an_incident():
    """A forecast made 5 rows before the first flagged row, or 5 rows after the last one,
    still read the incident's unflagged edges: with a margin of 12 it is no reference."""
    n, h, context = 200, 72, 13
    one_step = np.zeros(n)
    one_step[50:60] = 2.0  # flagged rows 50..59
    late = np.zeros(n)
    late[[45 + h, 64 + 13 + h, 59 + context + 12 + h]] = 2.0  # origins 45, 77 and 84
    warning = np.ones(n)
    plain, _ = final_flags([one_step, late], [1, h], warning, context)
    wide, masks = final_flags([one_step, late], [1, h], warning, context, margin=12)
    assert plain[45 + h] and plain[64 + 13 + h]  # echoes without a margin
    assert not wide[45 + h] and not wide[64 + 13 + h]
    assert wide[59 + context + 12 + h]  # origin 84: its window and margin clear the flags
    assert masks[1][45 + h] and not masks[1][59 + context + 12 + h]
