"""Durable storage of events, templates, anomalies and analyses (SQLAlchemy Core; SQLite or PostgreSQL)."""
