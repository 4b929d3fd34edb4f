"""The REST query API (FastAPI): ingest, events, templates, anomalies, stats, health and metrics."""
