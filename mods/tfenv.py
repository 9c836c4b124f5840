"""TensorFlow's environment, set before TensorFlow is imported.

``TF_CPP_MIN_LOG_LEVEL=3``
    No C++ INFO/WARNING lines on stderr: a CLI error stays one line.
``TF_ENABLE_ONEDNN_OPTS=0``
    TensorFlow 2.21 turns its oneDNN kernels on by itself on some CPUs (the Intel Xeon
    machines seen here, not the others) and then logs ``oneDNN custom operations are on``
    twice, *before* ``TF_CPP_MIN_LOG_LEVEL`` applies: every ``mods-predict`` error became
    five lines.  Those kernels also change floating-point round-off with the CPU, so the
    same data and seed gave different weights on different machines.  Off, every CPU runs
    the same kernels as the machines the benchmarks were measured on.

The caller's own values win (``setdefault``).
"""

import os

DEFAULTS = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}


def quiet_tensorflow():
    """Set :data:`DEFAULTS` in ``os.environ`` where the caller has not set them."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
