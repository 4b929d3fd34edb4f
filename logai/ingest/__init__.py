"""Ingestion: decoding raw bytes into lines and splitting headers from message content."""
