"""Reading, validating, transforming and generating time-series data."""
