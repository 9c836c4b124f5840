"""Anomaly detection on forecast residuals: scorer -> threshold -> alert."""
