"""Parsing: masking, template mining (Drain) and canonical template rendering."""
