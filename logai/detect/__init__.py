"""Anomaly detection: session and window grouping, count features, and detectors with one estimator API."""
