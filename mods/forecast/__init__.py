"""Forecasting: hyper-parameters, the model registry, training and bundles."""
