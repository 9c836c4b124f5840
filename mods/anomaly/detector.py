"""The anomaly detector the forecaster and the model bundle use: fit, detect, save.

:class:`Detector` chains the three stages of :mod:`mods.anomaly`:

1. :class:`~mods.anomaly.scorers.ResidualScorer` (robust per-column normalisation of
   ``actual - forecast``, causal EWMA smoothing, maximum over columns), once per *channel*:
   the one-step residuals and, when the caller gives them, the residuals of the forecasts
   made ``h`` rows earlier for each horizon of ``horizons`` (default 6 and 72 rows, see
   :mod:`mods.anomaly.horizons`); the channels are put on the one-step channel's scale and
   combined by their maximum;
2. thresholds calibrated on the calibration step scores (:mod:`mods.anomaly.thresholds`) and
   the calibrated ``[0, 1]`` scores (0.5 = warning threshold, 0.75 = critical threshold);
3. alert events (:mod:`mods.anomaly.alerts`).

Everything it keeps is JSON-able (:meth:`Detector.to_dict`), so it travels inside the model
bundle next to ``config.json`` (``detector.json``; states of version 1, one-step channel
only, still load).

Example
-------
>>> det = Detector().fit(actual, forecast, extra={6: fc6, 72: fc72},  # doctest: +SKIP
...                      in_sample=3214, context=13)
>>> found = det.detect(actual, forecast, extra={6: fc6, 72: fc72})     # doctest: +SKIP
>>> found.events[0]["level"], found.events[0]["horizon"]               # doctest: +SKIP
('critical', 72)

How it works
------------
*Channels.*  A one-step forecaster on differenced sliding-window sums follows a level shift,
a drift or a pattern change after one step: its one-step residuals see them for a row or
two.  The forecast made ``h`` rows earlier was made before the change; its residual sums the
change over ``h`` rows and stays large for ``h`` rows.  ``h = 6`` (one 1-hour window of
10-minute rows) catches level shifts and outages, ``h = 72`` (half a day) drifts, pattern
changes and long single-column incidents.  Each channel has its own scorer (EWMA span
``min(h, 2 * smoothing)``: an ``h``-row residual already sums ``h`` rows of error) and is
scaled by ``norm_ / norm``, the ratio of the 0.999 tail quantiles of the one-step and of its
own calibration step scores, so that a channel at its own warning level counts as the
one-step channel at its own; the thresholds are then calibrated on the combined (maximum)
score, so the false alert rate is the nominal one whatever the number of channels.  All
causal: the score of row ``t`` reads rows ``<= t``.

*Seasonal channel* (``seasonal_days``, default 7; :mod:`mods.anomaly.seasonal`).  The
default model reads two hours of rows: its forecasts 12 hours ahead know nothing of the
daily cycle.  The seasonal channel's expectation of a row is the median of the same time of
day over the previous 7 days (from 3 days on), model-free; a slow drift, a level shift or
one counter running high for hours departs from it for as long as it lasts.  It is scored
like a horizon channel of one day (``season_rows``: from the training data's time step, 144
rows of 10 minutes) and masked like one.  (A seasonal residual against *yesterday* alone,
tried earlier, raised the false alerts to 1.6-2.5 per 1,000: it also sees yesterday's
incidents and noise; the median of a week does neither.)

*Masking.*  After an incident, a forecast made from inside it predicts the incident's level,
so the return to normal would raise a second ("echo") alert ``h`` rows later.  A horizon
residual is therefore ignored when the input window of the forecast it comes from (``context``
rows ending at ``t - h``, widened by ``mask_margin`` rows on each side) holds a flagged row
(``mask_horizons``; causal too).  The flags
that mask are the *final* ones, decided in time order (:mod:`mods.anomaly.masking`): until
November 2026 they were the flags before masking, so a noisy 72-row channel,
itself masked, could hide the 6-row channel, and outages of every column to 1 % of their
level for two hours went unreported.

*Options off by default.*  ``joint`` adds, per channel, the sum of the column surprises
(Fisher's combination, calibrated like a channel): several columns deviating together count
more than one.  ``sustained`` adds a channel on the longest horizon's residuals smoothed by a
rolling median instead of an EWMA: excursions shorter than half its window (normal bursts)
vanish, lasting ones count whole.  Both raise recall on the generated data (outages, shifts
of several columns, long single-column incidents) but not on the synthetic residual
benchmark, where ``joint`` took the quantile method from 0.971 / 0.63 to 0.956 / 0.93
(recall / false alerts per 1,000 steps, 10 seeds x 30,000 rows): not a default that holds
across data sets.

*Calibration.*  The Forecaster calibrates on every row after the first input window: the
validation and test rows (out of sample) and the training rows, whose residuals are 15-25 %
smaller in sample and are rescaled column by column to the out-of-sample spread
(:func:`rescale_in_sample`): about 12 times more rows than the validation part alone, whose
0.999 quantiles were too noisy (4 false alerts per 1,000 steps where 1 was aimed at).  Rows
labelled as incidents (the training file's label column) are left out, with the rows
forecast from them.  Then ``calibration_rounds`` times, the rows the combined score puts at
the quantile method's critical level (and their EWMA span) are left out and everything is
refitted: large unlabelled incidents in the training period no longer inflate the
thresholds, while clean calibration rows are untouched (1 row in 10,000 reaches that level).

Measured figures
----------------
``python bench/bench_detect.py`` (default ``Params()`` MLP; generated data: 5 training seeds
x 3 unseen 4464-row series with the default incidents, 129 incidents in 66,960 rows; real
data: the shared 4463-row sample, trained on its first 70 %, incidents injected into the
last 30 % with 5 seeds, 39 incidents in 6,695 rows; an alert event is a reported event;
medians and per-series figures in ``bench/results/detect.json``), with three threshold
methods (``--detector method=...``, measured again 2026-11-24 on this session's machine,
with the seasonal channel):

===============================  ================  ================  ================  =================
training data                    rate (default)    dynamic           quantile          rolling z-score
                                 recall  false/1k  recall  false/1k  recall  false/1k  recall  false/1k
===============================  ================  ================  ================  =================
generated, clean                 0.915   0.66      0.806   0.25      0.876   0.39      0.868   10.8
generated, incidents labelled    0.845   0.63      0.736   0.34      0.760   0.48      0.868   10.8
generated, incidents unlabelled  0.341   0.24      0.186   0.00      0.202   0.03      0.868   10.8
real sample + injected           0.769   1.79      0.795   2.39      0.744   1.64      0.744   6.0
===============================  ================  ================  ================  =================

*Default threshold.*  ``rate`` with a budget of 0.75 false alert events per 1,000 rows
(about one in nine days of 10-minute rows) is the default since 2026-11-24; it meets the
issue's target on the generated data (recall 0.915 at 0.66 false alerts per 1,000 rows;
per training seed 0.15 to 0.90).  Its false alerts follow the budget (0.5 -> 0.51, 0.75 ->
0.66, 1.0 -> 0.75 on the generated data, the same models' forecasts); the margin under the
target's 1 is for the estimator's spread: its level rests on the few highest events of the
calibration.  On the synthetic residual benchmark below (heavy-tailed, a common factor),
10 seeds: with 4,464 calibration rows (a month of 10-minute rows) it gives 0.977 / 0.73, the
worst seed 1.45; with 3,000 rows (2.2 budgeted events) 0.946 / 1.00 and one seed 2.95, its
calibration rows having missed the large shocks of the common factor.  So a training whose
calibration shows fewer than ``RATE_MIN_EVENTS`` (3) budgeted events says so in its report
(:meth:`Detector.calibration_summary`).  The dynamic method (the default until then) puts
its warning about 15 % above the largest calibration score: conservative (0.806 / 0.25
here, 0.940 / 0.26 on the synthetic benchmark with 4,464 rows), the choice for short
training periods, and on NAB it finds a few more windows (see the README).  The ``rate``
method's first version (a tail fitted to the rows above the 0.99 quantile, divided by the
mean rows per event) gave 0.907 / 0.60 at a budget of 0.5 on the generated data and 1.43
false alerts per 1,000 steps on the synthetic benchmark.

*Ceiling.*  ``bench/ceiling.py`` runs, on the same generated test series, a detector that
knows each series except its normal bursts (the generator rebuilds it with ``bursts=False``)
and whose threshold is chosen on the test series themselves: recall 0.953 at 0.97 false
alerts per 1,000 rows, 0.922 at the default's 0.66 (the default: 0.915), 0.868 at the
dynamic method's 0.27; it misses a quarter of the drifts of
``dns_in_distinct`` (a small count whose normal bursts reach 3 to 12 times its rate).  Until
November 2026 the generator's spikes started at +60 % on their most affected window, inside
the normal bursts of ``ssh_in`` (up to +167 %): the ceiling was then 0.91 (spikes 0.71), the
issue's target out of anyone's reach; labelled spikes now rise above their columns' largest
normal burst (``mods.dataset.generate``).  The figures of the old generator, same code:
dynamic 0.752 / 0.45, quantile 0.822 / 0.72.

*Masking margin.*  Half of the false alerts came from the 72-row channel of ``conn_out``
13 to 85 rows after an incident: forecasts made from rows of the incident that were not
flagged (its first rows, before the EWMA rose, or its last ones).  ``mask_margin`` (12 rows,
one EWMA span, on each side of the forecast's input window) took the false alerts from
0.63 to 0.43 (dynamic) and 0.94 to 0.70 (quantile) per 1,000 rows on generated data, and
from 3.03 to 2.40 on NAB, without losing an incident.

*Unlabelled incidents in the training data* (``block_trim``, off by default).  With 8-10 %
of the generated training rows in unlabelled incidents the dynamic method found 0.171 of
the later incidents (0.651 once those rows are labelled).  Swapping parts of the labelled
fit into the unlabelled one on cached forecasts (5 seeds) put the cause in the scorers'
column *tails*:
the labelled fit's tails alone give 0.574, those of the 72-row channel alone 0.527 (its
spread and tail grow on each incident and again on the rows forecast from it), its
thresholds alone 0.248, its spreads alone 0.186.  Trimming rows by score did not find the
incidents, because the inflated tails keep them below any level that leaves clean data
alone (a cap of the trimming level at 8 with hysteresis: 0.50, but thresholds of clean
fits jumping from 10 to 16; per-column trimming; tails fitted on the top 20 % or on daily
quantiles: 0.15-0.19).  What works is a coarser unit: ``block_trim`` leaves out whole
blocks of ``block_rows`` (one day) whose 95th-percentile step score exceeds 1.6 times the
median block's in any channel, and repeats as the scorers are refitted without them.
``block_trim=1.6`` (recall / false alerts per 1,000 rows, with the seasonal channel and the
dynamic method, the default then):
generated clean 0.884 / 0.76, labelled 0.752 / 0.49, unlabelled 0.721 / 0.85, real sample
0.923 / 4.48 (where the z-score finds 0.641 at that rate), but NAB 0.919 / 8.45: where the
noise level changes from day to day the quiet days calibrate alone (before the seasonal
channel one NAB series went from 3 to 243 false alert events).  With the trailing window on
top (``block_trim=1.6, dynamic_window=2016``) NAB gives 0.919 / 1.69 (z-score at that rate:
0.757); before the seasonal channel that pair cost the MODS-like data recall (generated
0.667 / 0.54, real sample 0.641 / 2.54).  So it is an
option for training data known to hold incidents nobody labelled, on series whose noise
level is steady from day to day.

``python bench/bench_nab.py`` on 24 labelled series of the Numenta Anomaly Benchmark (AWS
CloudWatch and traffic sensors; not in this repository), the model and the detector trained
without labels on each series' first 30 % (this session's copy: 34 counted anomaly windows
in 58,392 rows; 2026-11-24, with the seasonal channel): rate (default) 0.735 / 2.64,
dynamic 0.794 / 3.10, quantile 0.765 / 3.13, rate at budgets 0.5 and 1.0 0.735 / 2.26 and
0.735 / 2.88, rolling z-score 0.912 / 4.98, which finds 0.824 of the windows at the
default's false-alert rate.  (An earlier copy, 37 windows in 71,520 rows, same day: dynamic
0.838 / 2.34, quantile 0.811 / 2.60, z-score 0.838 at the dynamic method's rate; without
the seasonal channel dynamic 0.784 / 2.40.)  With a trailing window (``method=dynamic,
dynamic_window=2016``, re-thresholded every 144 rows): 0.794 / 1.27, where the z-score
finds 0.500 (earlier copy 0.838 / 0.95 against 0.514; before the seasonal channel
0.757 / 0.89; ``dynamic_window=1008``: 0.730 / 1.12, z-score 0.541): on series whose noise
level wanders, as NAB's do, the trailing window is the better choice.  On the MODS-like
data it is not (before the seasonal channel): 0.659 / 0.31 on the generated data and
0.513 / 2.39 on the real sample, so it stays off by default.  (Also tried on NAB and left
out: scaling the thresholds by the ratio of the trailing median step score to the
calibration median, 0.703 / 1.54, no better than the z-score at that rate; separate tails
for rises and drops, which found every outage on generated data but took NAB to
0.676 / 3.51.)  On NAB the dynamic method finds a few more windows than the rate method at
more false alerts (two of 34 here); on the generated data the rate, quantile and dynamic
methods lie on about the same recall-for-false-alerts curve at different points
(``quantile_warning=0.998``: 0.884 / 0.85; thresholds from a peaks-over-threshold fit of
the calibration's alert peaks at 1 false alert per 1,000 rows: 0.899 / 1.14, 5 seeds), and
only the rate method lets the user pick the point in their own units.  (Previous default
before the horizon channels: one-step channel only, calibrated on the validation rows:
0.767 / 5.44 generated, 0.718 / 4.03 real.)

At the default's false alert rate the rolling z-score finds 15 % (generated) and 46 % (real)
of the incidents.  Per incident type (generated, clean, default): pattern change 1.00, level
shift 1.00, outage 0.95, spike 0.86, single column 0.86, drift 0.80 (``dynamic``: 1.00, 0.83,
0.89, 0.81, 0.67, 0.60).  The target of issue section 5 (recall >= 0.9 at <= 1 false alert
per 1,000 steps) is reached by the default (0.915 / 0.66).  The missed drifts and single-column
incidents are mostly on ``dns_in_distinct`` and ``ssh_in``, whose normal tails are heavy.
Ablation (6 other MLPs, each calibrated on a clean 4464-row series and run on 3 unseen ones,
156 incidents, old generator; recall / false alerts per 1,000): one-step channel calibrated
on the validation rows 0.69 / 4.1; on all rows 0.46 / 0.41; + h = 6 0.58 / 0.73; + h = 72
0.84 / 1.23; + masking by the flags before masking 0.79 / 0.52 (the default then;
calibration rounds change nothing on clean
data, and take the real sample from 0.24 / 0.50 to 0.68 / 1.0).  Tried and left out: a seasonal
residual (actual minus the same time yesterday, raw or after the model's own error) raised
the false alerts to 1.6-2.5 per 1,000 (it also "sees" yesterday's incidents) for no recall;
log residuals, sums over columns, clipped EWMAs, horizons 12/24/36/96: within a few
incidents of the default; masking also by sub-threshold scores of the short channels
(0.6-0.8 of the warning level): fewer false alerts, fewer incidents, the same curve.
Limitation: unlabelled incidents on ~8 % of the training rows (the
generator's defaults, all in the second half of the training month, i.e. a quarter of the
out-of-sample rows) inflate the horizon channels' tails; calibration rounds do not undo
that density (recall 0.17 with the dynamic method, 0.34 with rate): label or cut such
periods before training.  (Why: with them the
quantile critical level extrapolated from the top 10 % of the calibration scores lies above
the largest score, 13.7 against 10.7 for seed 0, so the rounds trim nothing.  Capping the
trimming level at 2 x ``min_warning`` took that recall to 0.45 at 0.22 false alerts per 1,000
without changing the clean figures, but trimmed 12 % of the real sample's rows, whose normal
tail is heavy, and its false alerts went from 1.24 to 3.98 per 1,000: not adopted.)

Threshold methods (one-step channel, before the channels were added)
--------------------------------------------------------------------
``quantile`` (warning at the 0.999 quantile, critical at 0.9999, both read off an
exponential tail fitted to the top 10 % of the calibration step scores), on column scores
smoothed by an EWMA of span 12 (two hours of 10-minute rows) and put on a common scale by
each column's own tail (``column_tail=0.05``, see :mod:`mods.anomaly.scorers`).  Chosen by
testing, on two benchmarks:

* *synthetic residuals* (:mod:`mods.anomaly.baselines`: heavy-tailed innovations summed over
  6-row windows, five incident kinds, magnitudes over six orders; 10 seeds x 30,000 test
  rows, ``python -m mods.anomaly.baselines``);
* *forecaster residuals*: :mod:`mods.dataset.generate` series (with their labelled
  incidents, some inside the validation rows), an MLP forecaster trained on one series and
  run on three unseen ones, for 8 seeds (184 incidents, 214,000 rows), calibrated on the
  validation rows' one-step residuals.

================  ==================  ==================  ================================
method            synthetic           forecaster          remark
                  recall  false/1000  recall  false/1000
================  ==================  ==================  ================================
quantile          0.968   0.47        0.630   0.97        default until 2026-11
ksigma (3, 5)     0.997   4.21        0.837   5.69        too many false alerts
dynamic           0.903   0.26        0.641   1.49        Hundman + pruning; default to 11-24
dynamic + window  0.674   0.09        0.495   0.82        for drifting noise levels
rolling z-score   0.049   0.00        0.875   11.9        model-free baseline (k = 4)
================  ==================  ==================  ================================

(Measured again on 2026-11-24 on 4 seeds x 20,000 synthetic rows with 3,000 calibration
rows: dynamic 0.967 / 0.49, quantile 0.983 / 0.74; with 4,464 calibration rows, as
``tests/anomaly/test_anomaly_quality.py`` now runs it: rate, the default since, 0.988 / 0.90,
dynamic 0.958 / 0.30, quantile 0.988 / 0.65.)  On the
synthetic benchmark the quantile method meets the targets (recall >= 0.9, at most one false
alert per 1,000 steps) without tuning with 3, 10 or 20 columns, independent columns,
lighter tails and 800 validation rows (recall 0.92-0.98, 0.43-0.91 false alerts per 1,000
steps); with very heavy tails (Student-t innovations with 3 degrees of freedom) it does not
(0.83 / 0.71).  Why not the others: ``mean + k std`` ignores the shape of the tail (the
maximum over columns of absolute errors is skewed, so ``k = 3`` is exceeded every few
hundred steps); the empirical 0.999 quantile of a few thousand autocorrelated rows is the
third-largest score and varies a lot between calibration periods, hence the tail fit;
Hundman's pruning, carried over to a fixed threshold, puts the warning level 15 % above the
largest calibration score (conservative on clean rows, but lower than the default when they
hold incidents).  Its trailing-window variant (``dynamic_window``) is for noise levels that
change over time: when the residuals doubled halfway through a synthetic test, it kept false
alerts at 0-0.2 per 1,000 steps where the fixed thresholds gave 10 to 31, at the price of
recall."""

import json
import math
import warnings
from dataclasses import dataclass, field, fields

import numpy as np

from mods.errors import LOG, ConfigError, DataError, fail
from mods.anomaly import thresholds as th
from mods.anomaly.alerts import build_events, merge_runs
from mods.anomaly.horizons import check_horizons
from mods.anomaly.masking import final_flags, recent, shifted
from mods.anomaly.scorers import (MAD_TO_STD, ResidualScorer, as_2d, combine_columns,
                                  joint_scores)
from mods.anomaly.seasonal import seasonal_expectation
from mods.options import Options, meta as _meta

STATE_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)  # 1: one-step channel only; 2: no joint/sustained;
# 3: no seasonal channel
MIN_FIT_ROWS = 2  # below this nothing can be estimated
FEW_FIT_ROWS = 100  # below this the thresholds are rough: a warning is logged
# Fields that change how scores are computed: fixed at fit time.
FIT_ONLY = ("smoothing", "spread_floor", "column_tail", "calibration_rows", "horizons",
            "calibration_rounds", "block_trim", "block_rows", "joint", "sustained",
            "seasonal_days", "seasonal_min_days", "season_rows")
MIN_RESCALE_ROWS = 50  # rows needed on each side to rescale in-sample residuals
# Fields that change the calibrated thresholds (re-calibrated from the stored validation
# scores when overridden at detect time).
THRESHOLD_FIELDS = ("method", "min_warning", "false_alerts", "merge_gap",
                    "quantile_warning", "quantile_critical",
                    "quantile_scale", "quantile_tail",
                    "k_warning", "k_critical", "z_min", "z_max", "z_step", "prune_p",
                    "dynamic_buffer", "dynamic_critical_ratio")
DEFAULT_SEASON = 144  # rows in a day when the data's time step is unknown (10 minutes)
MIN_BLOCKS = 6  # fewer calibration blocks: no robust calibration by blocks
BLOCK_TRIM_ROUNDS = 4  # most searches for noisy blocks
MAX_Z_GRID = 1000  # most z values of the dynamic method's grid
RATE_MIN_EVENTS = 3  # fewer budgeted events in the calibration: the rate is rough
# Most re-thresholdings of a trailing dynamic window in one detect() call, and most scores
# they read in all (about 5 s on one core at the limits).
MAX_TRAILING_BLOCKS = 5000
MAX_TRAILING_WORK = 25_000_000




@dataclass
class DetectorConfig(Options):
    """Options of the anomaly detector; JSON-able (``to_dict``/``from_dict``).

    Every field carries its description and valid range in ``metadata``, like
    :class:`mods.forecast.params.Params`.
    """

    KIND = "detector option"

    method: str = field(default="rate", metadata=_meta(
        "Threshold method calibrated on validation scores (rate: an alert budget, "
        "false_alerts per 1,000 rows; dynamic: Hundman et al.'s, more conservative)",
        choices=th.METHODS))
    false_alerts: float = field(default=0.75, metadata=_meta(
        "rate method: alert events per 1,000 calibration rows at the warning level, about "
        "one week of 10-minute rows (the critical level is ten times rarer)", 0.001, 100.0))
    smoothing: int = field(default=12, metadata=_meta(
        "Span of the causal EWMA of the normalised residuals (0 or 1 = off); a horizon "
        "channel uses min(h, 2 * smoothing)", 0, 1000))
    horizons: str = field(default="6,72", metadata=_meta(
        "Extra forecast horizons h (rows, comma-separated): the residual of the forecast made "
        "h rows earlier is scored as a channel of its own when the caller gives those "
        "forecasts (the Forecaster does); '' = one-step residuals only"))
    calibration_rounds: int = field(default=2, metadata=_meta(
        "Robust calibration: times the scorers and thresholds are re-fitted without the "
        "calibration rows the detector itself scores critical (0 = off)", 0, 10))
    block_trim: float = field(default=0.0, metadata=_meta(
        "Robust calibration by blocks: a block of block_rows calibration rows whose 95th "
        "percentile step score exceeds block_trim times the median block's, in any channel, "
        "is left out like a labelled incident (repeated as the scorers are refitted without "
        "them; at most half of the blocks; 0 = off)", 0.0, 100.0))
    block_rows: int = field(default=144, metadata=_meta(
        "Rows per block of the robust calibration by blocks (144 = one day of 10-minute "
        "steps)", 12, 100000))
    sustained: int = field(default=0, metadata=_meta(
        "Rows of the rolling median of a 'sustained deviation' channel on the residuals of "
        "the shortest horizon (0 = off): deviations shorter than half of it (normal bursts) "
        "do not count, lasting ones count whole", 0, 1000))
    seasonal_days: int = field(default=7, metadata=_meta(
        "Seasonal channel: the median of the same time of day over this many previous days "
        "is a row's expectation, scored like a forecast (slow drifts, level shifts and one "
        "counter running high for hours depart from it; 0 = off)", 0, 100))
    seasonal_min_days: int = field(default=3, metadata=_meta(
        "Seasonal channel: a row with fewer previous days than this (at most seasonal_days) "
        "gets no seasonal score", 1, 100))
    season_rows: int = field(default=0, metadata=_meta(
        "Rows in one day, for the seasonal channel (0 = from the training data's time "
        "step, 144 = one day of 10-minute rows when it has none)", 0, 100000))
    joint: bool = field(default=False, metadata=_meta(
        "Also score each row of each channel by the sum of its column scores (Fisher's "
        "combination of the columns' surprises), calibrated like a channel of its own: "
        "columns that deviate together (outages, shifts of several counters) count more "
        "than one column alone"))
    mask_horizons: bool = field(default=True, metadata=_meta(
        "Ignore a horizon channel's residual when its forecast was made from flagged rows "
        "(no second alert when the series returns to normal after an incident)"))
    mask_margin: int = field(default=12, metadata=_meta(
        "Rows on each side of a forecast's input window that must hold no flagged row "
        "either for a horizon channel's residual to count (flags start and end up to an "
        "EWMA span away from the incident itself)", 0, 10000))
    spread_floor: float = field(default=1e-3, metadata=_meta(
        "Smallest residual spread, as a fraction of the column's typical magnitude", 0.0, 0.5))
    column_tail: float = field(default=0.05, metadata=_meta(
        "Top fraction of each column's validation scores modelled as an exponential tail, "
        "to put columns with heavy-tailed errors on the same scale (0 = off)", 0.0, 0.5))
    min_warning: float = field(default=4.6, metadata=_meta(
        "Smallest warning threshold on step scores (4.6 = -ln 0.01: never warn on what one "
        "column does on 1 % of validation rows; in robust standard deviations when "
        "column_tail is 0)", 0.0, 1000.0))
    quantile_warning: float = field(default=0.999, metadata=_meta(
        "quantile method: validation score quantile of the warning level", 0.5, 1.0))
    quantile_critical: float = field(default=0.9999, metadata=_meta(
        "quantile method: validation score quantile of the critical level", 0.5, 1.0))
    quantile_scale: float = field(default=1.0, metadata=_meta(
        "quantile method: factor applied to both quantiles", 0.1, 100.0))
    quantile_tail: float = field(default=0.1, metadata=_meta(
        "quantile method: top fraction of validation scores fitted by an exponential tail "
        "for quantiles above 1 - quantile_tail (0 = empirical quantiles); rate method: the "
        "events above the 1 - quantile_tail quantile are counted",
        0.0, 0.5))
    k_warning: float = field(default=3.0, metadata=_meta(
        "ksigma method: warning at mean + k * std of validation scores", 0.0, 100.0))
    k_critical: float = field(default=5.0, metadata=_meta(
        "ksigma method: critical at mean + k * std of validation scores", 0.0, 100.0))
    z_min: float = field(default=2.5, metadata=_meta(
        "dynamic method: smallest z of the epsilon = mean + z * std grid", 0.0, 100.0))
    z_max: float = field(default=12.0, metadata=_meta(
        "dynamic method: largest z of the grid", 0.0, 100.0))
    z_step: float = field(default=0.5, metadata=_meta(
        "dynamic method: step of the z grid", 0.01, 10.0))
    prune_p: float = field(default=0.13, metadata=_meta(
        "dynamic method: minimum relative separation of anomalies (pruning)", 0.0, 0.9))
    dynamic_buffer: int = field(default=3, metadata=_meta(
        "dynamic method: rows around an exceedance counted in its sequence", 1, 1000))
    dynamic_critical_ratio: float = field(default=1.5, metadata=_meta(
        "dynamic method: critical threshold = ratio * warning threshold", 1.01, 100.0))
    dynamic_window: int = field(default=0, metadata=_meta(
        "dynamic method: trailing window of past scores re-thresholded at detect time "
        "(0 = only the validation calibration)", 0, 1000000))
    dynamic_stride: int = field(default=144, metadata=_meta(
        "dynamic method: rows between two re-thresholdings of the trailing window",
        1, 1000000))
    merge_gap: int = field(default=3, metadata=_meta(
        "Normal steps between flagged steps that still join them into one event", 0, 10000))
    min_event_length: int = field(default=1, metadata=_meta(
        "Events spanning fewer steps are dropped", 1, 10000))
    refractory: int = field(default=6, metadata=_meta(
        "An event starting within this many steps after the previous one fires no alert",
        0, 100000))
    max_columns: int = field(default=3, metadata=_meta(
        "Most deviating columns reported per event", 1, 100))
    calibration_rows: int = field(default=20000, metadata=_meta(
        "Most recent validation scores kept for re-calibration at detect time", 100,
        10000000))

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Check types and ranges; raise :class:`ConfigError` naming the bad field."""
        self.check_fields()
        self.horizons = ",".join(str(h) for h in check_horizons(self.horizons))
        if not self.quantile_warning < self.quantile_critical:
            raise fail(ConfigError, "quantile_warning (%r) must be below quantile_critical (%r)"
                       % (self.quantile_warning, self.quantile_critical))
        if not self.k_warning < self.k_critical:
            raise fail(ConfigError, "k_warning (%r) must be below k_critical (%r)"
                       % (self.k_warning, self.k_critical))
        if not self.z_min <= self.z_max:
            raise fail(ConfigError, "z_min (%r) must not exceed z_max (%r)"
                       % (self.z_min, self.z_max))
        if (self.z_max - self.z_min) / self.z_step + 1 > MAX_Z_GRID:
            raise fail(ConfigError, "the z grid z_min..z_max by z_step (%r..%r by %r) has more "
                       "than %d values: use a larger z_step"
                       % (self.z_min, self.z_max, self.z_step, MAX_Z_GRID))
        return self

    def threshold_params(self):
        """The options of the threshold calibration, as keyword arguments."""
        return {name: getattr(self, name) for name in THRESHOLD_FIELDS}

    @classmethod
    def detect_time_options(cls):
        """:meth:`describe` of the options a prediction may change (not fixed at fit time)."""
        return [row for row in cls.describe() if row[0] not in FIT_ONLY]

    @staticmethod
    def given(arguments, prefix="detector_"):
        """``{option: value}`` of the ``<prefix><option>`` entries of ``arguments`` that are
        set (the HTTP arguments and the CLI's ``--detector-*`` options); None when none is."""
        given = {key[len(prefix):]: value for key, value in arguments.items()
                 if key.startswith(prefix) and value is not None}
        return given or None

    def check_trailing_cost(self, n):
        """Refuse a trailing dynamic window that would re-threshold too often on ``n`` rows.

        Raises
        ------
        ConfigError
            Naming the smallest ``dynamic_stride`` that would do.
        """
        if self.method != "dynamic" or self.dynamic_window <= 0 or n <= 0:
            return
        blocks = -(-n // self.dynamic_stride)
        if blocks > MAX_TRAILING_BLOCKS \
                or blocks * min(self.dynamic_window, n) > MAX_TRAILING_WORK:
            need = max(-(-n // MAX_TRAILING_BLOCKS),
                       -(-n * min(self.dynamic_window, n) // MAX_TRAILING_WORK))
            raise fail(ConfigError, "dynamic_window=%d re-thresholded every %d rows is too much "
                       "work on %d rows: use dynamic_stride >= %d (or a smaller window)"
                       % (self.dynamic_window, self.dynamic_stride, n, need))


@dataclass
class Detection:
    """What :meth:`Detector.detect` finds, row by row and as events.

    Attributes
    ----------
    scores : ndarray, shape (n,)
        Calibrated step scores in ``[0, 1)``: 0.5 at the warning threshold, 0.75 at the
        critical one; 0 for rows without forecast.
    column_scores : ndarray, shape (n, f)
        The same calibration applied to each column's score (its maximum over channels; a
        column at 0.5 alone brings its row to the warning level).
    levels : list of str, length n
        ``"normal"``, ``"warning"`` or ``"critical"``.
    flags : ndarray of bool, shape (n,)
        Steps at warning level or above that belong to a reported event.
    band_low, band_high : ndarray, shape (n, f)
        Expected band in original units: ``forecast + bias -/+ z_w * spread`` where ``z_w``
        is the column's normalised error at the warning threshold (through its surprise
        map): a residual at the band edge, sustained, brings the column exactly to the
        warning level (column score 0.5); NaN without forecast.
    events : list of dict
        Alert events, see :mod:`mods.anomaly.alerts`, plus ``horizon``: the forecast horizon
        of the channel that scores highest at the event's peak (1: the one-step residual;
        then the event's ``forecast`` and band, which are one-step, may not show it).
    raw_scores : ndarray, shape (n,)
        Uncalibrated step scores (NaN without forecast): the maximum over channels, on the
        one-step channel's scale.
    thresholds : dict
        The thresholds used (``method``, ``warning``, ``critical``...).
    warning, critical : ndarray, shape (n,)
        Per-row thresholds on ``raw_scores`` (constant unless a trailing dynamic window is
        used).
    """

    scores: np.ndarray
    column_scores: np.ndarray
    levels: list
    flags: np.ndarray
    band_low: np.ndarray
    band_high: np.ndarray
    events: list
    raw_scores: np.ndarray = None
    thresholds: dict = None
    warning: np.ndarray = None
    critical: np.ndarray = None

    def to_dict(self):
        """JSON-able dict (arrays as lists, NaN as None)."""
        def clean(a):
            a = np.asarray(a, dtype=float)
            return np.where(np.isfinite(a), a, None).tolist()
        return {"scores": clean(self.scores), "column_scores": clean(self.column_scores),
                "levels": list(self.levels), "flags": np.asarray(self.flags).tolist(),
                "band_low": clean(self.band_low), "band_high": clean(self.band_high),
                "events": self.events, "thresholds": self.thresholds}


def _round_sig(values, digits=7):
    """Round to ``digits`` significant digits (compact JSON for the stored scores)."""
    return [float("%.*g" % (digits, v)) for v in np.asarray(values, dtype=float)]


def _positive_or_none(value):
    """A stored joint-score norm: a positive float, or None (no joint score)."""
    if value is None:
        return None
    value = float(value)
    if not value > 0:
        raise ValueError("joint norm must be positive")
    return value


def _nanmax(arrays):
    """Element-wise maximum ignoring NaN (NaN where every input is NaN)."""
    out = arrays[0].copy()
    for a in arrays[1:]:
        out = np.fmax(out, a)
    return out


def _robust_scale(x):
    """Median and robust standard deviation of each column (NaN ignored)."""
    centre = np.nanmedian(x, axis=0)
    dev = np.abs(x - centre)
    spread = np.nanmedian(dev, axis=0) * MAD_TO_STD
    mean_ad = np.nanmean(dev, axis=0) * 1.2533
    return centre, np.where(spread > 0, spread, mean_ad)


def rescale_in_sample(residuals, in_sample):
    """Put in-sample residual rows on the scale of the out-of-sample ones, column by column.

    A model fits the rows it was trained on a little better than new rows (15 to 25 % smaller
    residuals for the default MLP), so their residuals cannot calibrate thresholds as they
    are.  Their *shape* is still informative (heavy tails, bursts): each column's in-sample
    residuals are standardised by their own median and robust spread and mapped to the
    out-of-sample median and spread.  Columns with fewer than ``MIN_RESCALE_ROWS`` finite
    rows on either side are left as they are.
    """
    r = np.array(residuals, dtype=float, copy=True)
    ins = np.asarray(in_sample, dtype=bool)
    if not ins.any() or ins.all():
        return r
    part_in, part_out = r[ins], r[~ins]
    ok = ((np.isfinite(part_in).sum(axis=0) >= MIN_RESCALE_ROWS)
          & (np.isfinite(part_out).sum(axis=0) >= MIN_RESCALE_ROWS))
    if not ok.any():
        return r
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are not used
        c_in, s_in = _robust_scale(part_in)
        c_out, s_out = _robust_scale(part_out)
        ok &= (s_in > 0) & (s_out > 0)
        ratio = np.where(ok, s_out / np.where(s_in > 0, s_in, 1.0), 1.0)
    r[ins] = np.where(ok, (part_in - c_in) * ratio + c_out, part_in)
    return r


class Detector:
    """Anomaly detector on forecast residuals (scorer -> thresholds -> events).

    Parameters
    ----------
    config : DetectorConfig or dict, optional
        Options (default :class:`DetectorConfig`).

    Attributes
    ----------
    scorer : ResidualScorer
        Scorer of the one-step residuals.
    channels : list of dict
        Horizon channels (empty without multi-horizon forecasts at fit time): ``horizon``,
        ``span`` (EWMA span), ``scorer`` and ``norm`` (the channel's warning-level quantile
        of its own calibration step scores; its scores are multiplied by ``norm_ / norm``
        to share the one-step channel's scale).
    norm_ : float
        The same quantile for the one-step channel.
    context : int
        Rows a forecast reads (the model's input window): a horizon residual is ignored
        when a flagged row lies in the window of the origin it was forecast from.
    thresholds : dict
        Calibrated thresholds (JSON-able), on the combined step score.
    calibration_scores : ndarray
        The calibration step scores the thresholds were calibrated on (kept so that a
        different method can be chosen at detect time).
    """

    def __init__(self, config=None):
        if isinstance(config, dict):
            config = DetectorConfig.from_dict(config)
        if config is not None and not isinstance(config, DetectorConfig):
            raise fail(ConfigError, "config must be a DetectorConfig or a dict, got %r"
                       % type(config).__name__)
        self.config = config if config is not None else DetectorConfig()
        self.scorer = None
        self.channels = []
        self.norm_ = None
        self.context = None
        self.thresholds = None
        self.calibration_scores = None
        self.columns = None
        self.joint_norm_ = None
        self.noisy_fraction_ = self.trimmed_fraction_ = 0.0
        self.season_ = None

    @property
    def horizons(self):
        """Horizons (rows) whose forecasts :meth:`detect` uses, besides the one-step ones
        (the seasonal channel needs none: it reads the actual values)."""
        return sorted({int(ch["horizon"]) for ch in self.channels if not ch.get("seasonal")})

    def seasonal_forecasts(self, actual, start=0):
        """The seasonal channel's expectation of rows ``start:`` of ``actual`` (n, f): the
        median of the same time of day over the previous ``seasonal_days`` days
        (:mod:`mods.anomaly.seasonal`; NaN where fewer than ``seasonal_min_days``)."""
        cfg = self.config
        return seasonal_expectation(actual, int(self.season_ or DEFAULT_SEASON),
                                    cfg.seasonal_days, cfg.seasonal_min_days, start=start)

    def wanted_horizons(self, config=None):
        """Horizons :meth:`fit` would use if it got their forecasts (from the config)."""
        return check_horizons((config or self.config).horizons)

    # ------------------------------------------------------------------ fitting
    @staticmethod
    def _pair(actual, forecast):
        a = as_2d(actual, "actual")
        fc = as_2d(forecast, "forecast")
        if a.shape != fc.shape:
            raise fail(DataError, "actual has shape %s but forecast %s" % (a.shape, fc.shape))
        return a, fc

    @staticmethod
    def _extra(extra, shape, wanted):
        """``{h: (n, f) forecasts}`` for the wanted horizons present in ``extra``."""
        out = {}
        for key, value in (extra or {}).items():
            h = check_horizons([key])[0]
            if h not in wanted:
                continue
            fc = as_2d(value, "forecasts of horizon %d" % h)
            if fc.shape != shape:
                raise fail(DataError, "forecasts of horizon %d have shape %s, expected %s"
                           % (h, fc.shape, shape))
            out[h] = fc
        return out

    def _span(self, h, smoothing=None):
        s = self.config.smoothing if smoothing is None else smoothing
        return s if h <= 1 else min(int(h), 2 * s)

    def fit(self, actual, forecast, columns=None, extra=None, in_sample=None, context=None,
            exclude=None, season=None):
        """Fit the scorers and calibrate the thresholds on calibration rows.

        Parameters
        ----------
        actual, forecast : array_like, shape (n, f)
            Calibration rows in original units, ``forecast`` the one-step forecasts (rows
            whose forecast is NaN are ignored).
        columns : sequence of str, optional
            Column names, used by :meth:`detect` when it is given none.
        extra : dict, optional
            ``{h: array (n, f)}``: row ``t`` holds the forecast of row ``t`` made ``h`` rows
            earlier (NaN where there is none).  Each horizon of ``config.horizons`` found here
            becomes a scoring channel of its own (:mod:`mods.anomaly.horizons`).
        in_sample : int or array_like of bool, optional
            Rows the model was trained on (the first ``in_sample`` rows, or a mask): their
            residuals are rescaled to the spread of the others (:func:`rescale_in_sample`).
            Default: none.
        context : int, optional
            Rows a forecast reads (``sequence_len`` plus one with differencing); default
            ``smoothing``.
        exclude : array_like of bool, shape (n,), optional
            Rows known to be anomalous (labelled incidents): they calibrate nothing, nor do
            the EWMA span of rows after them, nor, for a horizon channel, the rows forecast
            from them.
        season : int, optional
            Rows in one day at the data's time step, for the seasonal channel when
            ``season_rows`` is 0 (default 144, one day of 10-minute rows).

        Returns
        -------
        Detector
            ``self``.

        Raises
        ------
        DataError
            Shapes differ or fewer than 2 rows have a forecast.  With fewer than 100 rows
            the detector is fitted but a warning is logged: its thresholds are rough.

        Notes
        -----
        With ``calibration_rounds > 0`` the calibration is repeated that many times without
        the rows the previous round scores at the quantile method's *critical* level (each
        such event widened by the EWMA span on both sides, and, for a horizon channel,
        without the rows forecast from those rows): incidents inside the calibration rows
        inflate the scales and thresholds less, while clean calibration rows are hardly
        touched (1 row in 10,000 reaches that level).
        """
        a, fc = self._pair(actual, forecast)
        n = a.shape[0]
        resid = a - fc
        ok = np.isfinite(resid).any(axis=1)
        if ok.sum() < MIN_FIT_ROWS:
            raise fail(DataError, "need at least %d validation rows with a forecast to fit "
                       "the anomaly detector, got %d" % (MIN_FIT_ROWS, int(ok.sum())))
        if columns is not None and len(columns) != a.shape[1]:
            raise fail(DataError, "%d column names for %d columns" % (len(columns), a.shape[1]))
        if ok.sum() < FEW_FIT_ROWS:
            LOG.warning("anomaly detector calibrated on only %d validation rows: its "
                        "thresholds are rough", int(ok.sum()))
        cfg = self.config
        horizons = self.wanted_horizons()
        extra = self._extra(extra, a.shape, horizons)
        if in_sample is None:
            ins = np.zeros(n, dtype=bool)
        elif np.ndim(in_sample) == 0:
            ins = np.arange(n) < int(in_sample)
        else:
            ins = np.asarray(in_sample, dtype=bool)
            if ins.shape != (n,):
                raise fail(DataError, "in_sample has shape %s, expected (%d,)"
                           % (ins.shape, n))
        if exclude is None:
            known = np.zeros(n, dtype=bool)
        else:
            known = np.asarray(exclude, dtype=bool)
            if known.shape != (n,):
                raise fail(DataError, "exclude has shape %s, expected (%d,)"
                           % (known.shape, n))
        first = int(np.argmax(ok))
        self.season_ = int(cfg.season_rows or season or DEFAULT_SEASON)
        if self.season_ < 1:
            raise fail(ConfigError, "season must be a number of rows >= 1, got %r" % (season,))
        seasonal = self.seasonal_forecasts(a)[first:] if cfg.seasonal_days else None
        a, ins, known = a[first:], ins[first:], known[first:]
        # A horizon channel needs as many calibration rows as a rough threshold does.
        hs = [h for h in horizons if h in extra and np.isfinite(
            a - extra[h][first:]).all(axis=1).sum() >= FEW_FIT_ROWS]
        res = [resid[first:]] + [a - extra[h][first:] for h in hs]
        res = [rescale_in_sample(r, ins) for r in res]
        spans = [cfg.smoothing] + [self._span(h) for h in hs]
        if cfg.sustained > 1 and hs:
            res.append(res[-1])
            hs = hs + [hs[-1]]
            spans.append(-int(cfg.sustained))  # negative: a rolling median of that many rows
        # The seasonal channel (model-free: no in-sample rescaling), last; off when too few
        # calibration rows have a seasonal expectation (under seasonal_min_days + 1 days).
        with_seasonal = seasonal is not None and self.season_ >= 2 and np.isfinite(
            a - seasonal).all(axis=1).sum() >= FEW_FIT_ROWS
        if seasonal is not None and not with_seasonal:
            LOG.info("seasonal channel left out: a day of %d row(s), or fewer than %d "
                     "calibration rows with %d previous days", self.season_, FEW_FIT_ROWS,
                     cfg.seasonal_min_days)
        if with_seasonal:
            res.append(a - seasonal)
            hs = hs + [self.season_]
            spans.append(self._span(self.season_))
        self.context = int(context) if context is not None else max(cfg.smoothing, 1)
        noisy = self._noisy_blocks(a, res, [1] + hs, spans, known)
        self.noisy_fraction_ = float(noisy.mean()) if noisy.size else 0.0
        self._calibrate(a, res, [1] + hs, spans, known | noisy,
                        model_channels=len(res) - int(with_seasonal))
        if with_seasonal:
            self.channels[-1]["seasonal"] = True
        self.columns = None if columns is None else [str(c) for c in columns]
        return self

    def _noisy_blocks(self, a, res, hs, spans, known):
        """Rows of the calibration blocks whose scores run high (``block_trim``).

        The calibration rows are cut into blocks of ``block_rows``.  For each channel the
        scorer is fitted on the rows not yet left out and each block's 95th percentile step
        score is compared to the median block's; the blocks above ``block_trim`` times it in
        any channel are left out, and the search is repeated (at most ``BLOCK_TRIM_ROUNDS``
        times) until no new block stands out.  An unlabelled incident inflates the spread
        and the tails the scorers fit (a horizon channel twice: on the incident, then on the
        rows forecast from it), which hides it and others like it; left out with its block,
        it calibrates nothing.  Never more than half of the blocks are left out, and fewer
        than ``MIN_BLOCKS`` blocks turn the search off.

        Returns
        -------
        ndarray of bool, shape (m,)
            True on the rows of the blocks left out (labelled rows are not included).
        """
        cfg = self.config
        m = a.shape[0]
        out = np.zeros(m, dtype=bool)
        size = int(cfg.block_rows)
        n_blocks = m // size
        if cfg.block_trim <= 0 or n_blocks < MIN_BLOCKS:
            return out
        starts = np.arange(n_blocks) * size
        for _ in range(BLOCK_TRIM_ROUNDS):
            left_out = known | out
            tainted = recent(left_out, self.context)
            new = np.zeros(n_blocks, dtype=bool)
            for r, h, span in zip(res, hs, spans):
                keep = ~left_out
                if h > 1:
                    keep &= ~shifted(tainted, h)
                if (keep & np.isfinite(r).all(axis=1)).sum() < FEW_FIT_ROWS:
                    continue
                step = self._fit_scorer(r, a, span, keep).step_scores(r)[:n_blocks * size]
                blocks = step.reshape(n_blocks, size)
                full = np.isfinite(blocks).sum(axis=1) >= size // 2
                if not full.any():
                    continue
                stat = np.full(n_blocks, np.nan)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    stat[full] = np.nanquantile(blocks[full], 0.95, axis=1)
                new |= np.nan_to_num(stat, nan=-np.inf) > cfg.block_trim * np.nanmedian(stat)
            was = out[starts]
            if not (new & ~was).any():
                break
            chosen = was | new
            if chosen.sum() > n_blocks // 2:
                break  # a noise level that lasts is the norm, not an incident
            for b in np.flatnonzero(chosen & ~was):
                out[starts[b]:starts[b] + size] = True
        return out & ~known

    def _calibrate(self, a, res, hs, spans, known, model_channels=None):
        """Scorers, channel norms and thresholds, with ``calibration_rounds`` trimmings.

        Only the first ``model_channels`` channels (default all: those of the model's
        forecasts) decide what a round trims; the others (the seasonal channel) are trimmed
        with them, and their rows without a score (its first days) still calibrate.  The
        seasonal channel's heavier normal tail, were it to decide too, would lift the
        trimming level above the real sample's unlabelled incidents (3 % of its
        calibration rows trimmed without it, none with it; recall 0.69 -> 0.46).
        """
        n_model = len(res) if model_channels is None else int(model_channels)
        cfg = self.config
        m = a.shape[0]
        pad = max(cfg.smoothing, 1)
        known_rows = np.zeros(m, dtype=bool)
        for s0, e0 in zip(*merge_runs(known, 0)):
            known_rows[s0:e0 + pad + 1] = True
        excluded = known_rows.copy()
        flagged = known.copy() if known.any() else None
        joint = bool(cfg.joint) and a.shape[1] > 1
        for round_ in range(cfg.calibration_rounds + 1):
            scorers, steps, keeps, joints, blocks = [], [], [], [], []
            tainted = None if flagged is None else recent(flagged, self.context)
            for i, (r, h, span) in enumerate(zip(res, hs, spans)):
                keep = ~excluded
                if h > 1 and tainted is not None:
                    keep &= ~shifted(tainted, h)
                if (keep & np.isfinite(r).all(axis=1)).sum() < FEW_FIT_ROWS:
                    keep = np.ones(m, dtype=bool)  # too little left: do not trim this one
                scorer = self._fit_scorer(r, a, span, keep)
                cs = scorer.column_scores(r)
                step = combine_columns(cs)
                scorers.append(scorer)
                steps.append(step)
                keeps.append(keep & np.isfinite(step))
                blocks.append(keeps[-1] if i < n_model else keep)
                if joint:
                    joints.append(joint_scores(cs))
            norms = [self._norm(step, keep) for step, keep in zip(steps, keeps)]
            jnorms = [self._norm(jt, keep) for jt, keep in zip(joints, keeps)]
            scaled = [st * (norms[0] / q) for st, q in zip(steps, norms)]
            jscaled = [jt * (norms[0] / q) for jt, q in zip(joints, jnorms)]
            combined = _nanmax(scaled + jscaled)
            cal = self._calibration_sample(combined, blocks, keeps[0])
            thresholds = th.calibrate(cal, **cfg.threshold_params())
            if round_ == cfg.calibration_rounds:
                break
            # what a round trims, as the model's channels decide (all channels without a
            # seasonal one)
            decide = _nanmax(scaled[:n_model] + jscaled[:n_model])
            flags = self._trim_flags(decide, self._calibration_sample(
                decide, blocks[:n_model], keeps[0]))
            starts, ends = merge_runs(flags, cfg.merge_gap)
            new = known_rows.copy()
            for s0, e0 in zip(starts, ends):
                new[max(s0 - pad, 0):e0 + pad + 1] = True
            if np.array_equal(new, excluded):
                break
            excluded, flagged = new, flags | known
        self.scorer = scorers[0]
        self.norm_ = norms[0]
        self.joint_norm_ = jnorms[0] if joint else None
        self.channels = [{"horizon": int(h), "span": int(span), "scorer": sc, "norm": q,
                          "joint_norm": jnorms[i + 1] if joint else None, "seasonal": False}
                         for i, (h, span, sc, q) in enumerate(
                             zip(hs[1:], spans[1:], scorers[1:], norms[1:]))]
        self.calibration_scores = cal
        self.thresholds = thresholds
        self.trimmed_fraction_ = float((excluded & ~known_rows).mean()) if m else 0.0
        self.excluded_fraction_ = float(known_rows.mean()) if m else 0.0

    def _calibration_sample(self, score, masks, fallback):
        """The last ``calibration_rows`` scores of the rows every mask keeps (``fallback``
        when fewer than ``MIN_FIT_ROWS`` are left), rounded as stored in the bundle."""
        rows = np.logical_and.reduce(masks)
        if rows.sum() < MIN_FIT_ROWS:
            rows = fallback
        return np.asarray(_round_sig(score[rows][-self.config.calibration_rows:]), dtype=float)

    def _fit_scorer(self, r, a, span, keep):
        """A channel's scorer fitted on the rows ``keep`` of its residuals ``r`` (``span``
        < 0: a rolling median of ``-span`` rows instead of an EWMA)."""
        cfg = self.config
        return ResidualScorer(max(span, 0), cfg.spread_floor, cfg.column_tail,
                              median=max(-span, 0)).fit(np.where(keep[:, None], r, np.nan),
                                                        np.where(keep[:, None], a, np.nan))

    def calibration_summary(self):
        """What the calibration did, for a training report: the thresholds' method and
        levels, and the fractions of calibration rows left out as noisy blocks
        (``block_trim``) and by the calibration rounds."""
        self._check_fitted()
        thr = self.thresholds
        out = {"method": thr["method"],
               "warning": round(float(thr["warning"]), 4),
               "critical": round(float(thr["critical"]), 4),
               "noisy_blocks_fraction": round(self.noisy_fraction_, 4),
               "trimmed_fraction": round(self.trimmed_fraction_, 4),
               "calibration_rows": int(np.isfinite(self.calibration_scores).sum())}
        if thr["method"] == "rate" and thr.get("events", RATE_MIN_EVENTS) < RATE_MIN_EVENTS:
            out["note"] = (
                "%d calibration rows hold only %.1f alert events at a budget of %g per 1,000 "
                "rows (fewer than %d): the false alert rate may come out several times the "
                "budget; calibrate on %d rows or more (more training rows, fewer left out as "
                "incidents) or use detector_method=dynamic, which is more conservative"
                % (out["calibration_rows"], thr["events"], thr["false_alerts"],
                   RATE_MIN_EVENTS, math.ceil(RATE_MIN_EVENTS * 1000 / thr["false_alerts"])))
        return out

    def _trim_flags(self, combined, cal):
        """Rows a calibration round removes from the next one (before widening)."""
        cfg = self.config
        # Trim what the quantile method calls critical, whatever the method: trimming at
        # the warning level would also trim the normal tail away, round after round.
        level = max(th.tail_quantile(cal, cfg.quantile_critical, cfg.quantile_tail),
                    cfg.min_warning)
        return np.nan_to_num(combined, nan=-np.inf) >= level

    def _norm(self, step, keep):
        """Warning-quantile of a channel's calibration step scores (its scale)."""
        cfg = self.config
        q = th.tail_quantile(step[keep], cfg.quantile_warning, cfg.quantile_tail) \
            if keep.sum() >= MIN_FIT_ROWS else cfg.min_warning
        return max(float(q), cfg.min_warning, th.MIN_THRESHOLD)

    @property
    def fitted(self):
        """True once :meth:`fit` (or :meth:`from_dict`) has run."""
        return self.scorer is not None

    def _check_fitted(self):
        if not self.fitted:
            raise fail(ConfigError, "the anomaly detector is not fitted; call fit() first")

    # ------------------------------------------------------------------ detection
    def effective_config(self, config_overrides=None):
        """The configuration with ``config_overrides`` applied (fit-only options refused)."""
        if not config_overrides:
            return self.config
        if not isinstance(config_overrides, dict):
            raise fail(ConfigError, "config_overrides must be a mapping, got %r"
                       % (config_overrides,))
        unknown = set(config_overrides) - {f.name for f in fields(DetectorConfig)}
        if unknown:
            raise fail(ConfigError, "unknown detector option(s): %s"
                       % ", ".join(sorted(unknown)))
        merged = dict(self.config.to_dict())
        merged.update({k: v for k, v in config_overrides.items() if v is not None})
        config = DetectorConfig.from_dict(merged)
        fixed = [k for k in FIT_ONLY if k in config_overrides
                 and getattr(config, k) != getattr(self.config, k)]
        if fixed:
            raise fail(ConfigError, "%s cannot change at detect time (fixed when the "
                       "detector was fitted); refit the detector" % ", ".join(fixed))
        return config

    def thresholds_for(self, config):
        """Calibrated thresholds for ``config`` (stored ones unless threshold options differ)."""
        self._check_fitted()
        if config.threshold_params() == self.config.threshold_params():
            return self.thresholds
        return th.calibrate(self.calibration_scores, **config.threshold_params())

    def channel_list(self):
        """``(horizon, scorer, norm, joint_norm, seasonal)`` of every channel, one-step
        first; ``seasonal`` is True for the seasonal channel (its horizon: a day's rows)."""
        out = [(1, self.scorer, self.norm_ or 1.0, self.joint_norm_, False)]
        out += [(ch["horizon"], ch["scorer"], ch["norm"], ch.get("joint_norm"),
                 bool(ch.get("seasonal"))) for ch in self.channels]
        return out

    @staticmethod
    def step_scores(parts, joints):
        """Step scores: the maximum over channels of the column maxima and joint scores."""
        return _nanmax([combine_columns(p) for p in parts] + list(joints))

    def _levels(self, step, thr, cfg):
        n = step.shape[0]
        if cfg.method == "dynamic" and cfg.dynamic_window > 0:
            return th.trailing_dynamic_thresholds(
                step, thr, cfg.dynamic_window, cfg.dynamic_stride, **cfg.threshold_params())
        return np.full(n, thr["warning"]), np.full(n, thr["critical"])

    def detect(self, actual, forecast, times=None, columns=None, config_overrides=None,
               extra=None):
        """Score, level and group into events the rows ``actual`` vs ``forecast``.

        Causal: the results for row ``t`` depend on rows ``<= t`` only (except an event's
        ``end``/``status``, which later rows may extend).  Vectorised: 50,000 x 10 rows take a
        few tens of milliseconds per channel.

        Parameters
        ----------
        actual, forecast : array_like, shape (n, f)
            Original units, ``forecast`` the one-step forecasts; rows whose forecast is NaN
            (too early to be forecast) get score 0, level ``"normal"`` and a NaN band.
        times : sequence, optional
            One time stamp per row, copied into the events.
        columns : sequence of str, optional
            Column names (default: the names given to :meth:`fit`, else ``"0"``...).
        config_overrides : dict, optional
            Options to change for this call only (method, its parameters, event options);
            ``smoothing``, ``spread_floor``, ``horizons``... need a refit.
        extra : dict, optional
            ``{h: array (n, f)}`` forecasts of each row made ``h`` rows earlier, for the
            horizons of :attr:`horizons`; a horizon channel without its forecasts is left
            out (the detection then rests on the other channels).

        Returns
        -------
        Detection
        """
        self._check_fitted()
        cfg = self.effective_config(config_overrides)
        thr = self.thresholds_for(cfg)
        a, fc = self._pair(actual, forecast)
        n, f = a.shape
        cfg.check_trailing_cost(n)
        if f != self.scorer.n_columns:
            raise fail(DataError, "got %d column(s) but the detector was fitted on %d"
                       % (f, self.scorer.n_columns))
        if times is not None and len(times) != n:
            raise fail(DataError, "%d times for %d rows" % (len(times), n))
        if columns is None:
            columns = self.columns
        if columns is not None and len(columns) != f:
            raise fail(DataError, "%d column names for %d columns" % (len(columns), f))
        extra = self._extra(extra, a.shape, self.horizons)

        resid = a - fc
        parts, joints = [], []
        hs = []
        ref = self.norm_ or 1.0
        for h, scorer, norm, jnorm, seasonal in self.channel_list():
            if seasonal:
                cs = scorer.column_scores(a - self.seasonal_forecasts(a))
            elif h > 1 and h not in extra:
                LOG.debug("no forecasts of horizon %d given: that channel is left out", h)
                continue
            else:
                cs = scorer.column_scores(resid if h == 1 else a - extra[h])
            parts.append(cs * (ref / norm))
            if jnorm is not None:
                joints.append(joint_scores(cs) * (ref / jnorm))
            hs.append(h)
        step = self.step_scores(parts, joints)
        warning, critical = self._levels(step, thr, cfg)
        if cfg.mask_horizons and len(parts) > 1:
            # A forecast made from flagged rows is no reference: drop those residuals of
            # the horizon channels (causal: the final flags of rows <= t - h decide for
            # row t; see mods.anomaly.masking).
            _, masks = final_flags(
                [self.step_scores([p], joints[i:i + 1]) for i, p in enumerate(parts)], hs,
                warning, self.context or 1, margin=cfg.mask_margin)
            for i in range(1, len(parts)):
                parts[i] = np.where(masks[i][:, None], np.nan, parts[i])
                if joints:
                    joints[i] = np.where(masks[i], np.nan, joints[i])
            step = self.step_scores(parts, joints)
            warning, critical = self._levels(step, thr, cfg)
        col_raw = _nanmax(parts)
        codes = th.level_codes(step, warning, critical)
        scores = th.calibrated_score(step, warning, critical)
        col_scores = th.calibrated_score(col_raw, warning[:, None], critical[:, None])
        half = self.scorer.inverse_surprise(warning[:, None]) * self.scorer.spread_
        mid = fc + self.scorer.centre_
        band_low, band_high = mid - half, mid + half
        events, mask = build_events(
            codes > 0, scores, codes, col_scores, a, fc, band_low, band_high, times=times,
            columns=columns, merge_gap=cfg.merge_gap, min_event_length=cfg.min_event_length,
            refractory=cfg.refractory, max_columns=cfg.max_columns)
        if events:
            # The channel (forecast horizon) that scores highest at each event's peak.
            stack = np.stack([np.nan_to_num(self.step_scores([p], joints[i:i + 1]),
                                            nan=-np.inf) for i, p in enumerate(parts)])
            for event in events:
                event["horizon"] = int(hs[int(np.argmax(stack[:, event["peak_index"]]))])
        return Detection(scores=scores, column_scores=col_scores,
                         levels=th.level_names(codes), flags=mask, band_low=band_low,
                         band_high=band_high, events=events, raw_scores=step,
                         thresholds=dict(thr), warning=warning, critical=critical)

    # ------------------------------------------------------------------ persistence
    def to_dict(self):
        """Everything needed to rebuild the fitted detector, JSON-able."""
        self._check_fitted()
        return {"version": STATE_VERSION, "config": self.config.to_dict(),
                "scorer": self.scorer.to_dict(), "thresholds": dict(self.thresholds),
                "calibration_scores": [float(v) for v in self.calibration_scores],
                "columns": self.columns,
                "norm": None if self.norm_ is None else float(self.norm_),
                "context": self.context,
                "joint_norm": self.joint_norm_,
                "season": self.season_,
                "channels": [{"horizon": ch["horizon"], "span": ch["span"],
                              "norm": float(ch["norm"]), "joint_norm": ch.get("joint_norm"),
                              "seasonal": bool(ch.get("seasonal")),
                              "scorer": ch["scorer"].to_dict()}
                             for ch in self.channels]}

    @classmethod
    def from_dict(cls, data):
        """Rebuild a fitted detector from :meth:`to_dict` output (state version 1 to 4).

        Raises
        ------
        ConfigError
            When ``data`` is not a detector state of a supported version.
        """
        if not isinstance(data, dict) or data.get("version") not in READABLE_VERSIONS:
            raise fail(ConfigError, "not an anomaly detector state of version %s"
                       % " or ".join(str(v) for v in READABLE_VERSIONS))
        try:
            config = dict(data["config"])
            if data["version"] == 1:
                config.setdefault("horizons", "")
            if data["version"] < 4:
                config.setdefault("seasonal_days", 0)  # fitted before the seasonal channel
            det = cls(DetectorConfig.from_dict(config, strict=False))
            det.scorer = ResidualScorer.from_dict(data["scorer"])
            det.thresholds = dict(data["thresholds"])
            det.calibration_scores = np.asarray(data["calibration_scores"], dtype=float)
            det.columns = data.get("columns")
            det.norm_ = data.get("norm")
            det.joint_norm_ = _positive_or_none(data.get("joint_norm"))
            det.context = data.get("context")
            det.season_ = None if data.get("season") is None else int(data["season"])
            det.channels = []
            for ch in data.get("channels") or []:
                scorer = ResidualScorer.from_dict(ch["scorer"])
                if scorer.n_columns != det.scorer.n_columns or not float(ch["norm"]) > 0:
                    raise ValueError("inconsistent horizon channel")
                det.channels.append({"horizon": check_horizons([ch["horizon"]])[0],
                                     "span": int(ch["span"]), "norm": float(ch["norm"]),
                                     "joint_norm": _positive_or_none(ch.get("joint_norm")),
                                     "seasonal": bool(ch.get("seasonal")), "scorer": scorer})
                if ch.get("seasonal") and not (det.season_ and det.season_ >= 1):
                    raise ValueError("seasonal channel without a season")
            if det.channels and not (det.norm_ is not None and float(det.norm_) > 0):
                raise ValueError("missing norm")
            float(det.thresholds["warning"]), float(det.thresholds["critical"])
        except (KeyError, TypeError, ValueError) as exc:
            raise fail(ConfigError, "invalid anomaly detector state: %s" % exc) from None
        return det

    def to_json(self):
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text):
        """Rebuild from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))
