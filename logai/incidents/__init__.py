"""Doors out: anomalies and abnormal verdicts grouped into incidents, summarised, and alerted to people."""
