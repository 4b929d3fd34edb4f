"""Semantics: concept–instance pairs, parameter types and a contextual knowledge base (SemParser-style)."""
