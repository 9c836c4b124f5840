"""MODS: Massive Online Data Streams.

Forecasts multivariate network-monitoring time series with Keras models and raises alerts
where prediction and reality disagree.  Importing this package creates nothing and starts
nothing: heavy dependencies (TensorFlow, pandas) are imported by the modules that need them.
"""

__version__ = "0.1.0"
