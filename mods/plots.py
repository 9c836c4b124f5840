"""PNG pictures of a prediction: one panel per column (matplotlib, Agg backend)."""

import io

import numpy as np


def prediction_png(fc, dataset, pred, max_columns=12, dpi=100):
    """Actual values, one-step forecasts, the expected band and alert events, as PNG bytes.

    Parameters
    ----------
    fc : Forecaster
    dataset : mods.dataset.io.Dataset
    pred : mods.forecast.forecaster.Prediction
    max_columns : int
        At most this many panels (the first columns).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    cols = fc.columns[:max_columns]
    n = dataset.n_rows
    x = dataset.time if dataset.time is not None else np.arange(n)
    det = pred.detection
    fig, axes = plt.subplots(len(cols), 1, figsize=(12, 2.4 * len(cols) + 0.8), sharex=True,
                             squeeze=False)
    for j, (ax, name) in enumerate(zip(axes[:, 0], cols)):
        ax.plot(x, dataset.values[:, j], color="#1f77b4", lw=1.0, label="actual")
        ax.plot(x, pred.step1[:, j], color="#ff7f0e", lw=1.0, label="forecast (t+1)")
        if det is not None and det.band_low is not None:
            ax.fill_between(x, det.band_low[:, j], det.band_high[:, j], color="#ff7f0e",
                            alpha=0.18, lw=0, label="expected band")
        if det is not None:
            for k, ev in enumerate(det.events):
                lo, hi = ev["start"], min(ev["end"] + 1, n - 1)
                color = "#d62728" if ev.get("level") == "critical" else "#ffbf00"
                ax.axvspan(x[lo], x[hi], color=color, alpha=0.25,
                           label=("alert event" if k == 0 else None))
        ax.set_title(name, loc="left", fontsize=10)
        ax.set_ylabel("count per window")
        ax.grid(alpha=0.3)
        if j == 0:
            ax.legend(loc="upper right", fontsize=8, ncol=4)
    axes[-1, 0].set_xlabel("time (UTC)" if dataset.time is not None else "row")
    n_events = len(det.events) if det is not None else 0
    fig.suptitle("MODS %s (%s): %d rows, %d alert event(s)"
                 % (fc.info.get("name", ""), fc.params.model_type, n, n_events), fontsize=12)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
